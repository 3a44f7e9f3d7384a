"""`genaiops status` (core/status.py): what runs and the drift check, with each ledger document and
each listing read once, and the same drift found as the check on its own finds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from genaiops_cli.core import reconcile
from genaiops_cli.core.status import status_report
from tests.core.fakes import World
from tests.core.test_promote_steps import D1, D2, deploy_dev, promote


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def twice_read(world: World) -> list[str]:
    return [tag for tag, n in Counter(world.ledger("prod").reads).items() if n > 1]


def test_status_reads_each_ledger_document_once(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    promote(world)
    world.ledger("prod").reads.clear()
    report = status_report(world.envs["prod"], ["agent"])
    assert report["drift"] == []
    assert report["services"][0]["live"] == world.hosts["prod"].apps["agent"].live
    assert world.ledger("prod").reads, "the drift check read the ledger"
    assert twice_read(world) == []


def test_status_still_flags_traffic_moved_outside_the_ledger(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    promote(world)
    app = world.hosts["prod"].apps["agent"]
    app.live, app.previous = app.previous, app.live  # traffic moved by hand (portal, az): no record
    world.ledger("prod").reads.clear()
    report = status_report(world.envs["prod"], ["agent"])
    expected = {d["record"] for d in reconcile.drift(world.envs["prod"])}
    assert {d["record"] for d in report["drift"]} == expected
    assert expected == {"release_tag", "history", "last_known_good", "previous_release_tag"}


def test_status_reports_an_unreadable_ledger_and_still_shows_what_runs(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    world.faults.arm("ledger.get:crprod:lkg", times=2)  # the read ahead, then the drift check's own
    report = status_report(world.envs["prod"], ["agent"])
    assert report["drift"] is None and report["drift_error"]
    assert report["services"][0]["deployed"] is True
