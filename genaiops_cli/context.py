"""AppContext: what every command gets on ctx.obj. It carries options, not runtime state:
services (manifest, providers) are built lazily on first use so `--help` stays cheap."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from genaiops_cli.console import Console
from genaiops_cli.errors import UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.manifest.model import Manifest


@dataclass
class AppContext:
    console: Console
    manifest_path: Path | None = None
    env_name: str | None = None
    assume_yes: bool = False
    debug: bool = False
    command: str = ""
    _manifest: Manifest | None = field(default=None, repr=False)
    _environments: dict[str, Environment] = field(default_factory=dict, repr=False)

    def set_global(self, name: str, value: Any) -> None:
        """A global option given after the subcommand (see commands/_tree.py): same meaning as before it."""
        if name == "manifest":
            self.manifest_path, self._manifest = value, None
        elif name == "env":
            self.env_name = value
        elif name == "yes":
            self.assume_yes = self.assume_yes or bool(value)
        elif name == "debug":
            self.debug = self.debug or bool(value)
        elif name == "output":
            self.console.reconfigure(output=value)
        elif name == "verbose":
            self.console.reconfigure(verbosity=max(self.console.verbosity, 0) + int(value))
        elif name == "quiet" and value:
            self.console.reconfigure(verbosity=-1)
        elif name == "no_color" and value:
            self.console.reconfigure(color=False)

    def manifest(self) -> Manifest:
        if self._manifest is None:
            from genaiops_cli.core.manifest.cache import find_manifest, load_manifest

            path = find_manifest(self.manifest_path)
            self._manifest = load_manifest(path)
        return self._manifest

    def environment(
        self, explicit: str | None = None, timeout: float = 600, wire_services: bool = True
    ) -> Environment:
        """The opened environment (`explicit`, else --env): configuration merged with what
        provisioning created, its registry, ledger and hosts. Opened once per name per run.
        `wire_services=False` for a command that needs only the registry and target (build): the
        services' connections and telemetry are not resolved, which would read ARM."""
        name = self.require_env(explicit)
        key = name if wire_services else f"{name}\0registry"
        if name in self._environments:  # a fully opened one serves both
            return self._environments[name]
        if key not in self._environments:
            from genaiops_cli.wiring import open_environment

            self._environments[key] = open_environment(self.manifest(), name, timeout, wire_services)
        return self._environments[key]

    def require_env(self, explicit: str | None = None) -> str:
        name = explicit or self.env_name
        if not name:
            raise UsageError(
                "this command needs an environment", hint="pass --env NAME (or set GENAIOPS_ENV)"
            )
        return name

    def emit(self, result: Any, render: Any = None) -> None:
        self.console.result(self.command, result, render)


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext of a running command, tagged with the command's name for the envelope."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, AppContext):  # invoked without the root callback (tests calling a sub-app)
        obj = AppContext(console=Console())
        root.obj = obj
    obj.command = " ".join(ctx.command_path.split()[1:])
    return obj
