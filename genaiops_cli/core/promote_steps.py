"""The steps of a promotion, in order (each journaled in the target's ledger; see core/steps.py):

  evidence → copy:<service> → deploy:<service> → gates → [canary] → swap:<service> → record

(`canary` only into a `strategy: canary` environment: the staged side walks the canary steps with
analysis; the swap then moves the rest to 100 %.)

A job (a host with the "deploy_at_swap" capability) takes no traffic that a staged side could hide
behind: its deploy step only plans its configuration, and its swap step writes it — so a job runs
the new image only once the target's gates passed.

Safety: the target's live side keeps 100 % until every gate passed; a failed revision is
deactivated by the host; only the swap moves traffic, in one complete write per service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.ports import (
    PREVIOUS_RELEASE_TAG,
    RELEASE_TAG,
    DeployOutcome,
    EventFn,
    LiveService,
)
from genaiops_cli.core.steps import Refused, Step
from genaiops_cli.errors import GateFailed, GateInconclusive, GenAIOpsError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.promote import Candidate, Options


@dataclass
class Run:
    """One promotion attempt: what the steps read and what they hand each other."""

    src: Environment
    dst: Environment
    candidate: Candidate
    options: Options
    on_event: EventFn
    journal: lg.DeploymentRecord
    dst_live: dict[str, LiveService]  # the target as it was before this attempt
    outcomes: dict[str, DeployOutcome] = field(default_factory=dict)
    history: str | None = None

    @property
    def release_id(self) -> str:
        return self.candidate.release_id

    def digest(self, service: str) -> str:
        return str(self.candidate.spec["services"][service]["digest"])

    def repository(self, service: str) -> str:
        return str(self.dst.manifest.services[service].repository)

    def dst_image(self, service: str) -> str:
        return f"{self.dst.registry.login_server}/{self.repository(service)}@{self.digest(service)}"


def deferred(host: Any) -> bool:
    """A host whose units take no traffic (jobs): promotion writes them at the swap step."""
    return "deploy_at_swap" in host.capabilities


def staged_services(r: Run) -> list[str]:
    """The target's services written at the deploy step (all but deferred ones)."""
    return [s for s in r.dst.services if not deferred(r.dst.host(s))]


def verify_entry(src: Environment, candidate: Candidate, on_event: EventFn) -> lg.DeploymentRecord:
    """Evidence for an entry environment (no promote_from): run its gates against its live side now."""
    from genaiops_cli.core.gates_run import run_gates

    record = lg.DeploymentRecord(src.name, candidate.release_id, operation="verify", status="live")
    record.gates = run_gates(src, src.services, "live", None, on_event)
    record.services = {
        s: {"image": candidate.images[s], "digest": candidate.spec["services"][s]["digest"]}
        for s in src.services
    }
    record.status = "live" if record.gates_passed() else "failed"
    src.ledger.put(
        lg.release_tag(candidate.release_id),
        "release",
        (candidate.record or lg.ReleaseRecord(candidate.release_id, candidate.spec)).to_dict(),
    )
    lg.finish(src.ledger, record)
    return record


@dataclass
class EvidenceStep:
    """The release passed the source's gates (recorded, or run now for an entry environment), or
    the operator forced it with a reason. Then the release record is written to the target."""

    name: str = "evidence"
    converge: bool = False

    def run(self, r: Run) -> dict[str, Any]:
        src, rid, force = r.src, r.release_id, r.options.force_reason
        evidence = lg.evidence_for(src.ledger, src.name, rid)
        if evidence is None and not src.config.promote_from and not force:
            r.on_event(
                r.dst.services[0], f"no recorded evidence in {src.name}: running its gates against live"
            )
            evidence = verify_entry(src, r.candidate, r.on_event)
            if not evidence.gates_passed():
                evidence = None
        if evidence is None and not force:
            raise Refused(
                GateFailed(
                    f"release {rid} has no passing gate evidence in {src.name}",
                    hint=f"promote it into {src.name} through its gates first, "
                    'or --force --reason "…" (recorded)',
                    code="no_evidence",
                )
            )
        if evidence is None:
            r.journal.override("evidence", str(force))
            detail: dict[str, Any] = {"forced": True, "reason": force}
        else:
            detail = {"record": evidence.summary()}
        release = r.candidate.record or lg.ReleaseRecord(rid, r.candidate.spec)
        r.dst.ledger.put(lg.release_tag(rid), "release", release.to_dict())
        return detail


@dataclass
class CopyStep:
    """The service's image, by digest, into the target's registry (nothing copied when present)."""

    service: str
    converge: bool = False

    @property
    def name(self) -> str:
        return f"copy:{self.service}"

    def run(self, r: Run) -> dict[str, Any]:
        repo, digest = r.repository(self.service), r.digest(self.service)
        src_server = r.candidate.images[self.service].split("/", 1)[0]
        r.on_event(self.service, f"copying {repo}@{digest[:19]} {src_server} → {r.dst.registry.login_server}")
        copied = r.dst.registry.copy_from(
            r.src.registry,
            repo,
            digest,
            f"rel-{r.release_id}",
            r.options.copy_method,
            source_server=src_server,
        )
        return copied.to_dict()


@dataclass
class StageStep:
    """Deploy the image as the target's staged side (live at once when nothing is live or the
    strategy is direct). Converges: re-run on resume, since a failed live gate may have rolled it
    back, and what it reports decides which side the gates test."""

    service: str
    converge: bool = True

    @property
    def name(self) -> str:
        return f"deploy:{self.service}"

    def run(self, r: Run) -> dict[str, Any]:
        image = r.dst_image(self.service)
        host = r.dst.host(self.service)
        if deferred(host):  # a job: nothing serves traffic to stage it behind; written at swap
            revision = host.expected_revision(self.service, image)
            outcome = DeployOutcome(
                self.service, r.dst_live[self.service].app, revision, image, "planned", ""
            )
        else:
            outcome = host.deploy(self.service, image, r.options.timeout, r.on_event)
        r.outcomes[self.service] = outcome
        r.journal.services[self.service] = {
            "image": image,
            "digest": r.digest(self.service),
            "revision": outcome.revision,
            "previous_revision": r.dst_live[self.service].live,
            "app": outcome.app,
        }
        return {"action": outcome.action, "revision": outcome.revision, "label": outcome.label}


@dataclass
class GatesStep:
    """The target's gates against the new side: the staged label, or live when the release went
    live at deploy (first release, direct strategy) — then a failure rolls back to the previous
    revision, or removes a brand-new app (`roll_back`)."""

    name: str = "gates"
    converge: bool = False

    def side(self, r: Run) -> str:
        staged = staged_services(r)
        if not staged:  # only jobs: none is written before this step, so none can be "live" yet
            return "staged"
        already_live = all(
            r.outcomes[s].action in ("created", "live")
            or r.dst_live[s].live == r.journal.services[s]["revision"]
            for s in staged
        )
        return "live" if (r.dst.config.strategy == "direct" or already_live) else "staged"

    def run(self, r: Run) -> dict[str, Any]:
        from genaiops_cli.core.gates_run import run_gates

        label = self.side(r)
        baseline = None
        on_live: list[str] = []
        if label == "staged":
            first = r.dst.services[0]
            baseline = r.dst.host(first).current(first).live_label
            # a service the release does not change (e.g. after a rollback of some services, the
            # others still run it) has nothing staged: it is gated on the live revision it keeps
            on_live = [
                s for s in staged_services(r) if r.dst_live[s].live == r.journal.services[s]["revision"]
            ]
        r.journal.gates = run_gates(r.dst, r.dst.services, label, baseline, r.on_event, on_live=on_live)
        blocking = [g for g in r.journal.gates if g["verdict"] != "pass"]
        if blocking:
            undone = roll_back(r) if label == "live" else {}
            raise self.failure(r, label, blocking, undone)
        return {"verdicts": {g["name"]: g["verdict"] for g in r.journal.gates}}

    def failure(
        self, r: Run, label: str, blocking: list[dict[str, Any]], undone: dict[str, str]
    ) -> GenAIOpsError:
        from genaiops_cli.core.side_doors import undone_summary

        names = ", ".join(f"{g['name']} ({g['verdict']})" for g in blocking)
        inconclusive = all(g["verdict"] == "inconclusive" for g in blocking)
        cls = GateInconclusive if inconclusive else GateFailed
        message = f"gates failed in {r.dst.name} for release {r.release_id}: {names}"
        after = "live traffic unchanged" if label == "staged" else undone_summary(undone)
        return cls(
            message + (f"; {after}" if after else ""),
            hint="fix the release and promote again; `genaiops history` keeps the evidence",
            details={"gates": r.journal.gates, **({"undone": undone} if undone else {})},
        )


@dataclass
class CanaryStep:
    """Into a `strategy: canary` environment: the staged side of every service walks the canary
    steps together (weight, pause, analysis against the live side). Fail → every service back on
    stable in one write each, exit 9 (inconclusive: exit 10), the evidence in the journal's gates;
    pass → the evidence is kept and the swap steps move the rest to 100 %."""

    name: str = "canary"
    converge: bool = False

    def run(self, r: Run) -> dict[str, Any]:
        from genaiops_cli.core.canary import PASS, Arm, Progression

        spec, ports = r.dst.config.canary, r.options.delivery
        r.journal.gates = [g for g in r.journal.gates if g.get("kind") != "canary"]
        staged = [
            s for s in r.dst.services if r.dst_live[s].live not in (None, r.journal.services[s]["revision"])
        ]
        if not staged or spec is None:  # a first release went live at deploy: nothing to compare with
            return {"skipped": "nothing live to compare with: the release went live at deploy"}
        if ports is None:
            raise GenAIOpsError("no traffic-split ports wired for the canary", code="internal_error")
        arms = [Arm(s, *ports(r.dst, s)) for s in staged]
        progression = Progression(spec, arms, r.on_event, r.options.clock, r.options.sleep)
        outcome = progression.run()
        r.journal.gates.append(progression.gate(outcome))
        if outcome != PASS:
            raise progression.error(outcome)
        return {"steps": [{"weight": s["weight"], "verdict": s["verdict"]} for s in progression.steps]}


@dataclass
class SwapStep:
    """100 % to the new side in one write, with the release recorded on the same write. Converges:
    re-checked on every run, since the target may have been rolled back after an interrupted
    attempt saved this step as done (the re-run then swaps again instead of recording a release
    that is not what runs)."""

    service: str
    converge: bool = True

    @property
    def name(self) -> str:
        return f"swap:{self.service}"

    def run(self, r: Run) -> dict[str, Any]:
        host = r.dst.host(self.service)
        wanted = r.journal.services[self.service]["revision"]
        tags = {RELEASE_TAG: r.release_id, PREVIOUS_RELEASE_TAG: r.journal.previous_release or ""}
        if host.current(self.service).live == wanted:
            return host.record_live(self.service, tags)
        if deferred(host):  # a job goes live here, after the gates: one write of the new image
            host.deploy(
                self.service, r.journal.services[self.service]["image"], r.options.timeout, r.on_event
            )
            return host.record_live(self.service, tags)
        try:
            return host.swap(self.service, r.on_event, tags)
        except GenAIOpsError as exc:
            return self.read_back(r, wanted, tags, exc)

    def read_back(self, r: Run, wanted: str, tags: dict[str, str], exc: GenAIOpsError) -> dict[str, Any]:
        """A swap whose outcome is unknown (a 500 on the operation poll, a dropped connection) is
        read back before it is called failed: the traffic write may have landed."""
        host = r.dst.host(self.service)
        try:
            live = host.current(self.service).live
        except GenAIOpsError:
            raise exc from None  # cannot tell: fail (the re-run reads it back again)
        if live != wanted:
            raise exc
        r.on_event(
            self.service, f"the swap reported an error ({exc.code}) but {wanted} is live: recording it"
        )
        return {**host.record_live(self.service, tags), "read_back": exc.message}


@dataclass
class RecordStep:
    """The promotion, finished, into the target's history; last-known-good moves to it — only
    after reading back that every service serves the release's revision (never record a release as
    live that is not what runs)."""

    name: str = "record"
    converge: bool = False

    def run(self, r: Run) -> None:
        from genaiops_cli.errors import DeployError

        now = {s: r.dst.host(s).current(s) for s in r.dst.services}
        for service, item in now.items():
            wanted = r.journal.services[service]["revision"]
            if item.live != wanted:
                raise DeployError(
                    f"{service} in {r.dst.name} serves {item.live}, not the release's revision {wanted}",
                    hint="re-run the promotion (it swaps again), or roll back",
                    code="live_drift",
                )
        kept_previous(r, now)
        r.journal.status = "live"
        r.journal.mark(self.name, lg.DONE)
        r.history = lg.finish(r.dst.ledger, r.journal)


def kept_previous(r: Run, now: dict[str, LiveService]) -> None:
    """The previous release as what a rollback returns to. It is the release live before (the
    journal's) when every service swapped; a service the release did not change keeps its own
    previous revision, so after a mixed state (a partial rollback) those may make up another
    release: then that one is recorded, in the journal and on the tags."""
    from genaiops_cli.core.reconcile import previous_release

    if all(i.previous == r.journal.services[s].get("previous_revision") for s, i in now.items()):
        return  # the usual case: nothing to read
    kept = previous_release(r.dst, now)
    if kept is None or kept == r.journal.previous_release:
        return
    r.journal.previous_release = kept
    for service, item in now.items():
        if item.previous_release != kept:
            r.dst.host(service).record_live(service, {PREVIOUS_RELEASE_TAG: kept})


def promotion_steps(services: list[str], strategy: str = "bluegreen") -> list[Step[Run]]:
    return [
        EvidenceStep(),
        *[CopyStep(s) for s in services],
        *[StageStep(s) for s in services],
        GatesStep(),
        *([CanaryStep()] if strategy == "canary" else []),
        *[SwapStep(s) for s in services],
        RecordStep(),
    ]


def roll_back(r: Run) -> dict[str, str]:
    """A release that went live at deploy and failed the target's gates: back to the previous
    revision; a service the target had no unit of before this promotion (a brand-new app, also when
    an interrupted attempt created it) is removed, so the target is left as found. Jobs are written
    after the gates: nothing of this promotion to undo there."""
    from genaiops_cli.core.side_doors import undo_live

    services = staged_services(r)
    created = [s for s in services if not r.dst_live[s].deployed or created_earlier(r, s)]
    return undo_live(r.dst, services, created, r.on_event)


def created_earlier(r: Run, service: str) -> bool:
    """An earlier, interrupted attempt of this promotion created the app, and it still runs only
    this release (nobody deployed there since)."""
    ours = r.journal.services.get(service, {}).get("revision")
    return service in r.journal.new_apps and r.dst_live[service].live in (None, ours)
