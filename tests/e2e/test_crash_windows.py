"""The fault/crash matrix of a promotion on the stand-in (issue 14, "Done when"): a real kill -9
and a real SIGINT at each promotion step, and a 429 / 500 / dropped connection (before or after the
request was handled) on each kind of request a promotion makes — ARM (app read and write, revision
read, the LRO operation polls, the image import), the registry (ACR token exchange, manifest PUT,
blob HEAD and upload, for the image copy and the ledger's journal and history writes) and the Blob
service's lease (acquire, renew, release) — then at most one re-run. After every case: staging is
100 % on one healthy revision, and history's newest live entry, last-known-good and the app's
release tags name exactly what staging serves (`status` shows no drift); no exit code is ever 1.

Cheap by construction: one promoted project for the module, staging gated by smoke only, and the
cases alternate staging between two releases already in dev (`promote --release`), so a case re-uses
revisions and copies instead of building; only the cases that need a new revision (the app PUT, the
image import) ship one. The exhaustive step × port-call × fault-kind matrix runs over in-memory
fakes in tests/core/test_fault_matrix.py. A killed holder's lease is broken by the re-run
(`--break-lock --reason`, recorded) instead of waited out; tests/e2e/test_lock.py measures the wait."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project
from .test_interrupts import start, wait_for_line
from .test_promote import live, ok, ship_dev

APP = "contoso-crash-agent"
STEPS = ["evidence", "copy:agent", "deploy:agent", "gates", "swap:agent", "record"]


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("crash"), ("dev", "staging"), prefix="crash")
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-crash\n")
    # staging gated by smoke only: the matrix is about the steps around the gates, not evaluations
    project.edit("genaiops.yaml", "gates: [smoke, quality, safety]", "gates: [smoke]")
    return project


@pytest.fixture(scope="module")
def releases(project: Project) -> list[str]:
    """Two releases in dev (each deploy gated and recorded there), both promoted to staging once (so
    whichever case runs first, a case's copy re-tags what staging's registry holds), the second live."""
    ship_dev(project, "1.0.0")
    first = live(project, "dev")["release"]
    ok(promote(project, first))
    ship_dev(project, "2.0.0")
    second = live(project, "dev")["release"]
    ok(promote(project, second))
    return [first, second]


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[object]:
    from genaiops_sandbox.faults import FaultInjector

    forget_registry_tokens()  # each case's first registry request exchanges an Entra token again
    injector = FaultInjector(sandbox.profile)
    yield injector
    injector.clear()


def forget_registry_tokens() -> None:
    """The ACR tokens earlier runs left in the token cache (providers/token_cache.py): without this a
    case would reuse them and never meet its armed token-exchange fault."""
    from genaiops_cli.providers import token_cache

    folder = token_cache.folder()
    if folder is not None:
        (folder / token_cache.ACR_FILE).unlink(missing_ok=True)


def promote(project: Project, release: str, *extra: str):
    return project.run(
        "-o", "json", "-y", "promote", "--to", "staging", "--release", release, "--timeout", "60", *extra
    )


SERVING: dict[str, str] = {}  # what staging serves after the last case (saves a status call per case)


def other(project: Project, releases: list[str]) -> str:
    """The release staging does not serve now (each case moves staging to it)."""
    serving = SERVING.get("staging") or live(project, "staging")["release"]
    return releases[1] if serving == releases[0] else releases[0]


def assert_records_name_what_runs(project: Project, release: str) -> None:
    """One `status`: staging 100 % on one healthy revision of `release`, and no drift — history's
    newest live entry, last-known-good and the app's release tags all name what runs."""
    SERVING.pop("staging", None)
    status = ok(project.run("-o", "json", "status", "-e", "staging"))
    now = status["services"][0]
    serving = [r for r in now["revisions"] if r["traffic"]]
    assert [(r["name"], r["traffic"], r["health_state"]) for r in serving] == [(now["live"], 100, "Healthy")]
    assert status["drift"] == [], status["drift"]
    assert now["release"] == release
    SERVING["staging"] = release


def clean(run) -> None:
    """A failure is a clean, resumable one: never exit 1, and the error says how to resume."""
    assert run.code != ExitCode.INTERNAL, run.stdout + run.stderr
    if run.code not in (0, ExitCode.LOCKED):
        assert run.json()["error"]["hint"], run.stdout


# ------------------------------------------------------------------------------ signals at each step


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "SIGINT"])
@pytest.mark.parametrize("step", STEPS)
def test_a_signal_at_each_step_then_one_rerun(
    project: Project, releases: list[str], step: str, sig: int
) -> None:
    wanted = other(project, releases)
    proc = start(project, "-o", "json", "-v", "-y", "promote", "--to", "staging", "--release", wanted)
    wait_for_line(proc, f"step: {step}")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    finished = proc.returncode == 0 and step == "record"  # the last step can beat the signal
    expected = -signal.SIGKILL if sig == signal.SIGKILL else ExitCode.INTERRUPTED
    assert finished or proc.returncode == expected, (proc.returncode, err[-2000:])
    # the holder killed with -9 cannot release its lease: the re-run breaks it (recorded)
    extra = ("--break-lock", "--reason", "the holder was killed") if sig == signal.SIGKILL else ()
    resumed = promote(project, wanted, *extra)
    clean(resumed)
    assert ok(resumed)["status"] in ("live", "unchanged")
    assert_records_name_what_runs(project, wanted)


def test_kill_9_at_the_swap_then_a_rollback_then_the_rerun(project: Project, releases: list[str]) -> None:
    """Killed after the swap was saved, an operator rolls back, then the re-run: it swaps again
    instead of recording a release that is not what runs."""
    wanted = other(project, releases)
    proc = start(project, "-o", "json", "-v", "-y", "promote", "--to", "staging", "--release", wanted)
    wait_for_line(proc, "step: record")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    if live(project, "staging").get("previous"):
        back = project.run(
            "-o", "json", "-y", "rollback", "-e", "staging", "--break-lock", "--reason", "killed"
        )
        clean(back)
    resumed = promote(project, wanted, "--break-lock", "--reason", "killed")
    clean(resumed)
    assert_records_name_what_runs(project, ok(resumed)["release"])


# ------------------------------------------------------------------------------ faults per request kind

ARM = r"/subscriptions/.*/resourceGroups/rg-crash-staging/providers/Microsoft.App"
POLL = r"/providers/Microsoft.App/locations/[^/]+/containerappOperationStatuses/"
# (request kind, method, path, fault, how many): past the SDK's 3 status/read retries, or a write
# whose connection drops (not retried: its outcome is unknown and is read back)
# A 429 past the retries ends exactly like a 500 (the same resumable failure; tests/core/
# test_fault_matrix.py runs both on every port call, and the lock's 429 is below), so the ARM 429
# cases (app read, app PATCH, operation poll) were merged into their 500 / drop neighbours;
# `drop_after` (the write landed, its answer was lost) took the app PATCH 429's place.
REQUESTS = [
    ("app-read", "GET", ARM + f"/containerApps/{APP}$", "drop", 4),
    ("revision-read", "GET", ARM + f"/containerApps/{APP}/revisions/[^/]+$", "500", 4),
    ("app-patch", "PATCH", ARM + f"/containerApps/{APP}$", "500", 4),
    ("app-patch", "PATCH", ARM + f"/containerApps/{APP}$", "drop", 1),
    ("app-patch", "PATCH", ARM + f"/containerApps/{APP}$", "drop_after", 1),
    ("operation-poll", "GET", POLL, "500", 4),
    ("operation-poll", "GET", POLL, "drop", 4),
]
# A cross-registry copy blob by blob (`--copy blobs`, instead of importImage) of a new release:
# a dropped HEAD and a blob upload whose completion answer was lost are both absorbed.
BLOB_COPY = [
    ("registry", "HEAD", "^/crcrashstaging/v2/(?!genaiops/).*/blobs/", "blob-head", "drop", 1),
    ("registry", "PUT", "^/crcrashstaging/v2/(?!genaiops/).*/blobs/uploads/", "blob-upload", "drop_after", 1),
]
NEW_REVISION = [  # request kinds only a release new to staging makes
    ("app-put", "PUT", ARM + f"/containerApps/{APP}$", "drop", 1),
    ("image-import", "POST", r"/registries/crcrashstaging/importImage$", "500", 4),
]


def fault_then_rerun(
    project: Project,
    faults,
    wanted: str,
    method: str,
    path: str,
    kind: str,
    n: int,
    args: tuple[str, ...] = (),
    must_hit: bool = False,
    **where: str,
) -> object:
    """Promote `wanted` (with `args`) with the fault armed, then (when it failed) once more without;
    the first run's result is returned. `where`: the rule's service and operation (registry, blob).
    `must_hit` (implied by `where`): every armed rule was used up (one left over would mean the case
    tested nothing)."""
    faults.add(method, path, kind, count=n, retry_after=1, **where)
    first = promote(project, wanted, *args)
    clean(first)
    if where or must_hit:
        assert faults.rules() == [], f"faults never hit: {faults.rules()}; run: {first.stdout[-3000:]}"
    faults.clear()
    if first.code != 0:
        resumed = promote(project, wanted)
        clean(resumed)
        assert ok(resumed)["status"] in ("live", "unchanged")
    assert_records_name_what_runs(project, wanted)
    return first


@pytest.mark.parametrize(
    ("method", "path", "kind", "n"), [pytest.param(*r[1:], id=f"{r[0]}-{r[3]}") for r in REQUESTS]
)
def test_a_fault_on_each_request_kind_then_one_rerun(
    project: Project, releases: list[str], faults, method: str, path: str, kind: str, n: int
) -> None:
    fault_then_rerun(project, faults, other(project, releases), method, path, kind, n)


@pytest.mark.parametrize(
    ("method", "path", "kind", "n"), [pytest.param(*r[1:], id=f"{r[0]}-{r[3]}") for r in NEW_REVISION]
)
def test_a_fault_on_a_request_only_a_new_release_makes(
    project: Project, releases: list[str], faults, method: str, path: str, kind: str, n: int
) -> None:
    ship_dev(project, f"3.{time.time_ns() % 100000}.0")
    args: tuple[str, ...] = ()
    if kind == "drop":  # and the image copied blob by blob, through absorbed faults on that path
        args = ("--copy", "blobs")
        for service, rule_method, rule_path, operation, rule_kind, count in BLOB_COPY:
            faults.add(rule_method, rule_path, rule_kind, count=count, service=service, operation=operation)
    wanted = live(project, "dev")["release"]
    fault_then_rerun(project, faults, wanted, method, path, kind, n, args, must_hit=bool(args))


def test_a_500_on_the_swaps_operation_poll(project: Project, releases: list[str], faults) -> None:
    """The issue's case: the swap's traffic write lands, its poll fails — read back, not `failed`."""
    wanted = other(project, releases)
    proc = start(project, "-o", "json", "-v", "-y", "promote", "--to", "staging", "--release", wanted)
    wait_for_line(proc, "step: swap:agent")
    faults.add("GET", POLL, "500", count=4)
    out, err = proc.communicate(timeout=120)
    faults.clear()
    assert proc.returncode != ExitCode.INTERNAL, err[-2000:]
    if proc.returncode != 0:
        clean(promote(project, wanted))
    assert_records_name_what_runs(project, wanted)


# ------------------------------------------------------------------------------ registry and blob faults

STAGING_REGISTRY = "^/crcrashstaging/v2/"
LEDGER = STAGING_REGISTRY + "genaiops/ledger/"
APP_IMAGES = STAGING_REGISTRY + "(?!genaiops/)"
LOCK = r"/genaiops-locks/staging\.lock$"
# The registry client retries a request 4 times, the storage SDK 3 times. Copying a release staging
# already holds re-tags it (manifest GET + PUT in the staging registry); every step's journal save
# is a ledger blob upload (POST + PUT) and a manifest PUT; the first ledger write of a run HEADs the
# empty config blob; the first staging registry request of a run exchanges an Entra token.
# (service, method, path, operation, fault, how many): each absorbed by the retries, so one
# promotion with all of them armed must succeed at once (a retried write whose answer was lost
# included: the lease acquire proposes its own lease id, manifest PUTs are idempotent, a blob upload
# checks whether its blob arrived).
ABSORBED = [
    ("registry", "POST", "^/crcrashstaging/oauth2/", "token-exchange", "drop", 1),
    ("registry", "PUT", APP_IMAGES, "manifest-put", "drop_after", 1),
    ("registry", "HEAD", LEDGER + "blobs/", "blob-head", "drop", 1),
    ("registry", "PUT", LEDGER + "blobs/uploads/", "blob-upload", "429", 2),
    ("registry", "PUT", LEDGER + "blobs/uploads/", "blob-upload", "drop_after", 1),
    ("registry", "PUT", LEDGER + "manifests/", "manifest-put", "drop_after", 1),
    ("blob", "PUT", LOCK, "lease-acquire", "drop_after", 1),
]
# (id, service, method, path, operation, fault, how many): past the retries, so the run fails
# (resumable: exit 6 / 11 with a hint) and one re-run finishes it.
FAILING = [
    ("acr-token-exchange-500", "registry", "POST", "^/crcrashstaging/oauth2/", "token-exchange", "500", 5),
    ("ledger-blob-put-500", "registry", "PUT", LEDGER + "blobs/uploads/", "blob-upload", "500", 5),
    ("lease-acquire-429", "blob", "PUT", LOCK, "lease-acquire", "429", 4),
]


def test_faults_one_run_absorbs_on_every_registry_and_lock_request_kind(
    project: Project, releases: list[str], faults
) -> None:
    """Every ABSORBED fault at once, and the first journal save held for 11 s (under the lock, past
    the heartbeat's first beat at 10 s) while that renew fails three times over, then the release
    fails past its retries: the run still succeeds at once, and the release is tried once more (by our
    own lease id, never a break) so the next case is not locked out for 30 s."""
    journal_save = LEDGER + "manifests/promote-staging-"
    faults.add("PUT", journal_save, "latency", count=1, latency_ms=11_000, service="registry")
    faults.add("PUT", LOCK, "500", count=3, service="blob", operation="lease-renew")
    for service, method, path, operation, kind, n in ABSORBED:
        faults.add(method, path, kind, count=n, retry_after=1, service=service, operation=operation)
    first = fault_then_rerun(
        project,
        faults,
        other(project, releases),
        "PUT",
        LOCK,
        "500",
        4,
        service="blob",
        operation="lease-release",
    )
    assert first.code == 0, first.stdout + first.stderr


@pytest.mark.parametrize(
    ("service", "method", "path", "operation", "kind", "n"), [pytest.param(*r[1:], id=r[0]) for r in FAILING]
)
def test_a_fault_past_the_retries_on_a_registry_or_lock_request_then_one_rerun(
    project: Project,
    releases: list[str],
    faults,
    service: str,
    method: str,
    path: str,
    operation: str,
    kind: str,
    n: int,
) -> None:
    first = fault_then_rerun(
        project, faults, other(project, releases), method, path, kind, n, service=service, operation=operation
    )
    assert first.code in (ExitCode.BUILD, ExitCode.LOCKED), first.stdout + first.stderr
    if service == "blob":  # the lock was never held, the ledger was fine: history has the attempt
        entries = ok(project.run("-o", "json", "history", "-e", "staging", "-n", "3"))["entries"]
        failed = [e for e in entries if e["status"] == "failed"]
        assert failed and failed[0]["error"] == "lock_unavailable", entries
