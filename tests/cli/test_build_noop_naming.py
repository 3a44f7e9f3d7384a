"""commands/build.py: a no-op build -e names local images with the cached login server only when every
image exists locally under that name (in-memory fakes of the Registry and ImageEngine ports)."""

from __future__ import annotations

from dataclasses import dataclass

from genaiops_cli.commands.build import _name_from_cache


@dataclass
class _Plan:
    tag: str

    def reference(self, server: str) -> str:
        return f"{server}/contoso/agent:{self.tag}"


class _Registry:
    def __init__(self, cached: str | None) -> None:
        self._cached = cached
        self.asked_arm = False

    def cached_login_server(self) -> str | None:
        return self._cached

    @property
    def login_server(self) -> str:  # the ARM lookup, when nothing was assigned
        self.asked_arm = True
        return "from-arm.azurecr.io"

    @login_server.setter
    def login_server(self, value: str) -> None:
        self.__dict__["assigned"] = value


class _Engine:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def image_id(self, reference: str) -> str | None:
        return "sha256:x" if reference in self.present else None


def test_cached_name_is_used_when_every_image_is_local() -> None:
    reg = _Registry("cr.azurecr.io")
    plans = [_Plan("a"), _Plan("b")]
    _name_from_cache(reg, plans, _Engine({p.reference("cr.azurecr.io") for p in plans}))
    assert reg.__dict__.get("assigned") == "cr.azurecr.io" and not reg.asked_arm


def test_one_missing_image_or_no_cache_leaves_the_lookup_to_arm() -> None:
    reg = _Registry("cr.azurecr.io")
    _name_from_cache(reg, [_Plan("a"), _Plan("b")], _Engine({_Plan("a").reference("cr.azurecr.io")}))
    assert "assigned" not in reg.__dict__
    empty = _Registry(None)
    _name_from_cache(empty, [_Plan("a")], _Engine(set()))
    assert "assigned" not in empty.__dict__ and not empty.asked_arm
