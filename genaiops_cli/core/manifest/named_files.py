"""The files a manifest names (build contexts, Dockerfiles, datasets, probe lists, infra templates), each
with its field path and the directory it is relative to. Used by the validation rule that every one of
them stays inside the project (rules.file_rules) and by the manifest cache, which re-checks them on
every hit (a cached manifest must not outlive a Dockerfile turned into a symlink out of the project).
Light on purpose: no YAML, no diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genaiops_cli.core.project_files import FileProblem, check_inside, check_regular

NamedFile = tuple[tuple[str | int, ...], str, Path]  # (field path, value, relative to)


def named_files(
    project: Path, services: dict[str, Any], evaluations: dict[str, Any], environments: dict[str, Any]
) -> list[NamedFile]:
    named: list[NamedFile] = []
    for n, svc in services.items():
        if svc.build is not None:
            named.append((("services", n, "build", "context"), svc.build.context, project))
            context = project / svc.build.context
            named.append((("services", n, "build", "dockerfile"), svc.build.dockerfile, context))
    for n, ev in evaluations.items():
        if not ev.dataset.startswith("foundry:"):  # a pushed dataset is read from storage, not the project
            named.append((("evaluations", n, "dataset"), ev.dataset, project))
        for i, spec in enumerate(ev.evaluators):
            probes = spec.options.get("probes")
            if isinstance(probes, str) and probes:
                named.append((("evaluations", n, "evaluators", i, "probes"), probes, project))
    for n, env in environments.items():
        if env.infra is not None:
            named.append((("environments", n, "infra", "template"), env.infra.template, project))
            if env.infra.parameters:
                named.append((("environments", n, "infra", "parameters"), env.infra.parameters, project))
    return named


def problems(project: Path, named: list[NamedFile]) -> list[tuple[tuple[str | int, ...], FileProblem]]:
    """Each named file that leaves the project or is neither a regular file nor a directory."""
    out = []
    for loc, value, base in named:
        try:
            check_regular(check_inside(project, base / value))
        except FileProblem as p:
            out.append((loc, p))
    return out
