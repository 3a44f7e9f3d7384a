"""`genaiops status`: what runs in one environment and whether the ledger says so, with each thing
read once. The hosts (one read of each service's unit: the app and its revision list) and the
ledger (last-known-good; history's newest live entry and the release record it names) are read at
the same time on a few threads; the drift check then finds those documents already read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import reconcile
from genaiops_cli.errors import GenAIOpsError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import Host

READERS = 4  # threads reading at once: services' hosts plus the ledger


def status_report(env: Environment, names: list[str]) -> dict[str, Any]:
    """{environment, services: [the host's view of each of `names`], drift | drift_error}. Drift is
    checked over every service of the environment, as the ledger records them all."""
    services = env.services
    hosts: dict[str, Host] = {s: env.host(s) for s in services}  # built here: the host cache is not locked
    env.cloud.sign_in_ahead(env.target)  # one credential for every thread below, one token request
    with ThreadPoolExecutor(max_workers=min(READERS, len(services) + 1)) as pool:
        ledger = pool.submit(_read_ledger, env)
        observed = dict(zip(services, pool.map(lambda s: hosts[s].observe(s), services), strict=True))
        store = ledger.result()
    live = {s: item for s, (_, item) in observed.items()}
    drift = reconcile.checked_drift(env, live, store)
    return {"environment": env.name, "services": [observed[n][0] for n in names], **drift}


def _read_ledger(env: Environment) -> lg.ReadOnce | None:
    """The ledger documents the drift check reads in the usual case, read ahead: the
    last-known-good pointer (beside the rest), history's newest live entry, the release record it
    names (beside the entry before it, which the previous-release check reads when a previous
    revision is kept), and the entry the pointer names (usually one of those). None when the ledger cannot be
    read: the drift check then reads it again and reports why."""
    try:
        store = lg.ReadOnce(env.ledger)
        with ThreadPoolExecutor(max_workers=2) as side:
            pointer = side.submit(lg.last_known_good, store, env.name)
            newest = reconcile.newest_live(store, env.name)
            if newest is not None:
                if newest.release_id != lg.MIXED:  # a mixed entry has no release record of its own
                    side.submit(lg.load_release, store, newest.release_id)
                # the previous-release check reads history on from the newest: usually one entry more
                older = sorted(store.tags(lg.history_prefix(env.name)), reverse=True)[1:2]
                for tag in older:
                    store.get(tag)
            record = (pointer.result() or {}).get("record")
        if record:
            store.get(str(record))
        return store
    except GenAIOpsError:
        return None
