"""`genaiops pipeline init`: CI/CD pipelines as code, generated from the manifest.

The workflow text lives in data files (templates/pipelines/<provider>/, shipped in the wheel) so it
reads like the YAML it produces. This module only decides what goes where: which environment is
built and deployed first, which promotions run on main and which one waits for the release
approval, which evaluations the pull-request run previews. Everything comes from the manifest's
`promote_from` chain; nothing names dev, staging or prod.

Templates use `<<name>>` placeholders. A placeholder alone on its line takes a block (a fragment
file, a list of steps) indented to the placeholder's column; an empty block removes the line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from genaiops_cli.errors import UsageError

PYTHON_VERSION = "3.12"
_PLACEHOLDER = re.compile(r"<<([a-z_:]+)>>")
_BLOCK_LINE = re.compile(r"^( *)<<([a-z_:]+)>>[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Hop:
    """One promotion: SRC → DST with DST's gates."""

    src: str
    dst: str
    gates: tuple[str, ...]


@dataclass(frozen=True)
class PipelinePlan:
    """What the generated pipelines do, decided from the manifest alone."""

    first: str  # the environment built, pushed and deployed from source
    main_hops: tuple[Hop, ...]  # promoted automatically on main
    release_hop: Hop | None  # promoted by the release workflow, behind the platform's approval
    evaluations: tuple[str, ...]  # previewed in the pull-request run against `first`
    workdir: str  # the manifest's directory, relative to the repository root ("." at the root)
    manifest: str  # the manifest's path relative to the repository root

    @property
    def chain(self) -> list[str]:
        hops = [*self.main_hops, *([self.release_hop] if self.release_hop else [])]
        return [self.first, *(h.dst for h in hops)]


@dataclass(frozen=True)
class PipelineFile:
    path: str  # relative to the repository root, POSIX separators
    text: str


@dataclass
class WriteResult:
    root: Path
    written: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)


def plan_pipelines(manifest: Any, repo_root: Path) -> PipelinePlan:
    """The single promotion chain of the manifest, split into main (all but the last hop) and
    release (the last hop, the one a human approves)."""
    from genaiops_cli.core.manifest.model import promotion_chains

    chains = [c for c in promotion_chains(manifest) if c]
    longest = max(len(c) for c in chains)
    candidates = [c for c in chains if len(c) == longest]
    if len(candidates) > 1:
        shown = "; ".join(" → ".join(c) for c in candidates)
        raise UsageError(
            f"the manifest has {len(candidates)} promotion chains of the same length: {shown}",
            hint="generated pipelines follow one chain: make the others promote_from it, or drop them",
            code="ambiguous_chain",
        )
    chain = candidates[0]
    hops = [
        Hop(src, dst, tuple(manifest.environments[dst].gates))
        for src, dst in zip(chain[:-1], chain[1:], strict=True)
    ]
    evaluations: list[str] = []
    for name in chain:
        for gate in manifest.environments[name].gates:
            if gate in manifest.evaluations and gate not in evaluations:
                evaluations.append(gate)
    manifest_path = Path(manifest.path).resolve()
    try:
        rel = manifest_path.relative_to(repo_root.resolve())
    except ValueError:
        raise UsageError(
            f"the manifest {manifest_path} is outside {repo_root}",
            hint="run from the repository that holds the manifest, or pass --dir",
        ) from None
    return PipelinePlan(
        first=chain[0],
        main_hops=tuple(hops[:-1]),
        release_hop=hops[-1] if hops else None,
        evaluations=tuple(evaluations),
        workdir=PurePosixPath(*rel.parent.parts).as_posix() if rel.parent.parts else ".",
        manifest=PurePosixPath(*rel.parts).as_posix(),
    )


def repository_root(manifest_path: Path) -> Path:
    """The git work tree holding the manifest (pipelines live at its root), else its directory."""
    start = Path(manifest_path).resolve().parent
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return start


# -- templating -----------------------------------------------------------------------------------


def _templates(provider: str) -> Any:
    from genaiops_cli.core.scaffold import templates_root

    return templates_root().joinpath("pipelines", provider)


def fill(text: str, values: dict[str, str], source: str = "template") -> str:
    """Replace every `<<name>>`; a placeholder alone on a line takes a block at its indentation."""

    def block(match: re.Match[str]) -> str:
        indent, name = match.group(1), match.group(2)
        value = _value(values, name, source)
        if not value.strip():
            return "\x00"  # marks a line to drop
        return "\n".join((indent + line) if line.strip() else "" for line in value.rstrip("\n").split("\n"))

    text = _BLOCK_LINE.sub(block, text)
    text = "".join(line for line in text.splitlines(keepends=True) if line.rstrip("\n") != "\x00")
    return _PLACEHOLDER.sub(lambda m: _value(values, m.group(1), source), text)


def _value(values: dict[str, str], name: str, source: str) -> str:
    if name not in values:
        raise KeyError(f"{source}: no value for <<{name}>>")
    return values[name]


def _fragment(provider: str, name: str, values: dict[str, str]) -> str:
    text = _templates(provider).joinpath(f"_{name}.yml").read_text(encoding="utf-8")
    return fill(text, values, f"{provider}/_{name}.yml")


def _common(plan: PipelinePlan, version: str) -> dict[str, str]:
    return {
        "manifest": plan.manifest,
        "first": plan.first,
        "evaluations": ", ".join(plan.evaluations) or "none",
        "cli_spec": f"genaiops-cli=={version}",
        "python": PYTHON_VERSION,
        "main_chain": " → ".join([plan.first, *(h.dst for h in plan.main_hops)]),
        "release_from": plan.release_hop.src if plan.release_hop else "",
        "release_to": plan.release_hop.dst if plan.release_hop else "",
    }


def _gates(hop: Hop) -> str:
    return ", ".join(hop.gates) or "none"


# -- GitHub Actions -------------------------------------------------------------------------------


def _github(plan: PipelinePlan, version: str) -> list[PipelineFile]:
    p = "github"
    setup = _fragment(p, "setup", {})

    def login(env: str) -> str:
        return _fragment(p, "login", {"env": env})

    def publish(name: str) -> str:
        return _fragment(p, "publish", {"name": name})

    def promote_jobs(hops: tuple[Hop, ...], first_needs: str | None) -> str:
        jobs, needs = [], first_needs
        for hop in hops:
            job = f"promote-{hop.dst}"
            jobs.append(
                _fragment(
                    p,
                    "promote_job",
                    {
                        "job": job,
                        "src": hop.src,
                        "dst": hop.dst,
                        "gates": _gates(hop),
                        "needs": f"  needs: {needs}" if needs else "",
                        "setup": setup,
                        "login": login(hop.dst),
                    },
                )
            )
            needs = job
        return "\n".join(jobs)

    values = {
        **_common(plan, version),
        "working_directory": f"    working-directory: {plan.workdir}" if plan.workdir != "." else "",
        "first_job": f"deploy-{plan.first}",
        "setup": setup,
        "login": login(plan.first),
        "deploy_first": _fragment(p, "deploy_first", {"env": plan.first}),
        "evaluate": "".join(
            _fragment(p, "eval", {"env": plan.first, "evaluation": e}) for e in plan.evaluations
        ),
        "publish:validate": publish("validate"),
        "publish:first": publish(plan.first),
    }
    main = {**values, "promote_jobs": _indent(promote_jobs(plan.main_hops, values["first_job"]), 2)}
    files = [("genaiops-pr.yml", values), ("genaiops-main.yml", main)]
    if plan.release_hop:
        release = {**values, "promote_jobs": _indent(promote_jobs((plan.release_hop,), None), 2)}
        files.append(("genaiops-release.yml", release))
    return [_render(p, name, vals, ".github/workflows") for name, vals in files]


# -- Azure Pipelines ------------------------------------------------------------------------------


def _stage_id(env: str) -> str:
    return env.replace("-", "_")  # stage and job names: letters, digits and underscores only


def _azure(plan: PipelinePlan, version: str) -> list[PipelineFile]:
    p = "azure-pipelines"
    workdir = "$(Build.SourcesDirectory)" + ("" if plan.workdir == "." else f"/{plan.workdir}")
    setup = _fragment(p, "setup", {"workdir": workdir})

    def azcli(env: str, title: str, command: str) -> str:
        return _fragment(p, "azcli", {"env": env, "title": title, "command": command, "workdir": workdir})

    def publish(name: str) -> str:
        return _fragment(p, "publish", {"name": name, "workdir": workdir})

    first = plan.first
    deploy_first = "".join(
        [
            azcli(
                first,
                f"Build and push to {first} (once; every later step uses the digest)",
                f"genaiops -o json build --push -e {first} | tee reports/build.json",
            ),
            azcli(
                first,
                f"Deploy to {first}",
                f"genaiops -o json deploy -e {first} | tee reports/deploy-{first}.json",
            ),
            azcli(
                first, f"Smoke-test {first}", f"genaiops smoke -e {first} --junit reports/smoke-{first}.xml"
            ),
        ]
    )
    evaluate = "".join(
        azcli(
            first,
            f"Evaluate {e} in {first}",
            f"genaiops eval {e} -e {first} --baseline none"
            f" --junit reports/eval-{e}.xml --report reports/eval-{e}",
        )
        for e in plan.evaluations
    )

    def promote_stages(hops: tuple[Hop, ...], first_depends: str | None) -> str:
        return _azure_promote_stages(hops, first_depends, setup, workdir, azcli)

    values = {
        **_common(plan, version),
        "workdir": workdir,
        "first_stage": _stage_id(first),
        "setup": setup,
        "deploy_first": deploy_first,
        "evaluate": evaluate,
        "publish:validate": publish("validate"),
        "publish:first": publish(first),
    }
    main = {**values, "promote_stages": _indent(promote_stages(plan.main_hops, _stage_id(first)), 2)}
    files = [("genaiops-pr.yml", values), ("genaiops-main.yml", main)]
    if plan.release_hop:
        release = {**values, "promote_stages": _indent(promote_stages((plan.release_hop,), None), 2)}
        files.append(("genaiops-release.yml", release))
    return [_render(p, name, vals, ".azure-pipelines") for name, vals in files]


def _azure_promote_stages(
    hops: tuple[Hop, ...], first_depends: str | None, setup: str, workdir: str, azcli: Any
) -> str:
    """One Azure Pipelines stage per promotion hop, each depending on the one before."""
    stages, depends = [], first_depends
    for hop in hops:
        stage = f"promote_{_stage_id(hop.dst)}"
        stages.append(
            _fragment(
                "azure-pipelines",
                "promote_stage",
                {
                    "stage": stage,
                    "src": hop.src,
                    "dst": hop.dst,
                    "gates": _gates(hop),
                    "depends": f"  dependsOn: {depends}" if depends else "",
                    "setup": setup,
                    "workdir": workdir,
                    "promote": azcli(
                        hop.dst,
                        f"Promote {hop.src} → {hop.dst}",
                        f"genaiops -o json -y promote --from {hop.src} --to {hop.dst}"
                        f" | tee reports/promote-{hop.dst}.json",
                    ),
                },
            )
        )
        depends = stage
    return "\n".join(stages)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else "" for line in text.split("\n"))


def _render(provider: str, name: str, values: dict[str, str], directory: str) -> PipelineFile:
    text = _templates(provider).joinpath(name).read_text(encoding="utf-8")
    out = fill(text, values, f"{provider}/{name}")
    out = re.sub(r"\n{3,}", "\n\n", out).rstrip("\n") + "\n"
    return PipelineFile(f"{directory}/{name}", out)


PROVIDERS: dict[str, Callable[[PipelinePlan, str], list[PipelineFile]]] = {
    "github": _github,
    "azure-pipelines": _azure,
}


def render_pipelines(provider: str, plan: PipelinePlan, version: str) -> list[PipelineFile]:
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}", hint=f"one of: {', '.join(PROVIDERS)}")
    return PROVIDERS[provider](plan, version)


def write_pipelines(root: Path, files: list[PipelineFile], force: bool) -> WriteResult:
    """Write every file, or none: existing files are only replaced with --force."""
    existing = [f.path for f in files if (root / f.path).exists()]
    if existing and not force:
        raise UsageError(
            f"{len(existing)} pipeline file(s) already exist: {', '.join(existing)}",
            hint="pass --force to overwrite them, or --dry-run to see what would be written",
            code="pipeline_exists",
        )
    result = WriteResult(root, overwritten=existing)
    for f in files:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.text, encoding="utf-8")
        result.written.append(f.path)
    return result
