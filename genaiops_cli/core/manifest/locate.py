"""Where things sit in the manifest, for CI annotations that point at the line to fix.

A failed smoke check is annotated on its `- name:` line, a failed gate on its threshold (or the
evaluation), in the file the workflow checked out: the path is made relative to the CI workspace
(GITHUB_WORKSPACE, BUILD_SOURCESDIRECTORY), which is what both platforms expect. Best effort: a
manifest that no longer reads gives no location, never an error while reporting another one."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genaiops_cli.core.manifest.yamlnodes import Site

WORKSPACE_VARIABLES = ("GITHUB_WORKSPACE", "BUILD_SOURCESDIRECTORY")


def workspace_relative(file: str | Path) -> str:
    """`file` relative to the CI workspace (else the current directory) when it lies inside it."""
    path = Path(file).resolve()
    bases = [os.environ[v] for v in WORKSPACE_VARIABLES if os.environ.get(v)] + [os.getcwd()]
    for base in bases:
        try:
            return path.relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return str(file)


@dataclass
class ManifestLocator:
    file: str  # as given; annotate() makes it relative to the CI workspace
    data: Any = None
    sites: dict[tuple[str | int, ...], Site] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> ManifestLocator:
        from genaiops_cli.core.manifest.yamlnodes import Converter, compose

        located = cls(str(path))
        try:
            root = compose(Path(path).read_text(encoding="utf-8"))
            converter = Converter(lambda text, _at, _node: text)
            located.data = converter.convert(root) if root is not None else None
            located.sites = converter.sites
        except Exception:
            pass
        return located

    def line(self, *path: str | int) -> int | None:
        site = self.sites.get(tuple(path))
        if site is None:
            return None
        return site.key_line or site.line

    def _get(self, *path: str | int) -> Any:
        node = self.data
        for key in path:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def smoke_check(self, service: str, name: str, environment: str | None = None) -> int | None:
        """The check's line: in the environment's override when it replaces the list, else the service."""
        prefixes: list[tuple[str | int, ...]] = [("services", service)]
        if environment:
            prefixes.insert(0, ("environments", environment, "services", service))
        for prefix in prefixes:
            checks = self._get(*prefix, "smoke")
            if isinstance(checks, list):
                for i, check in enumerate(checks):
                    if isinstance(check, dict) and check.get("name") == name:
                        return self.line(*prefix, "smoke", i)
        return None

    def gate(self, evaluation: str, metric: str | None = None) -> int | None:
        """A threshold's line when the metric has one, else the baseline's, else the evaluation's."""
        for path in (
            ("evaluations", evaluation, "thresholds", metric),
            ("evaluations", evaluation, "baseline", "max_regression", metric),
            ("evaluations", evaluation),
        ):
            if None not in path and (line := self.line(*path)) is not None:  # type: ignore[arg-type]
                return line
        return None
