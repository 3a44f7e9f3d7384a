"""Blue/green traffic transitions: pure state machine, every written list complete and valid."""

from __future__ import annotations

from genaiops_cli.core.containerapps import TrafficState, app_name, revision_suffix


def assert_valid(traffic: list[dict]) -> None:
    assert sum(t["weight"] for t in traffic) == 100
    labels = [t["label"] for t in traffic if "label" in t]
    assert len(labels) == len(set(labels))
    names = [t["revisionName"] for t in traffic]
    assert len(names) == len(set(names))


def test_blue_green_cycle_alternates_labels() -> None:
    s = TrafficState().go_live_first("app--v1")
    assert s.traffic() == [{"revisionName": "app--v1", "weight": 100, "label": "blue"}]
    s = s.stage("app--v2")
    assert_valid(s.traffic())
    assert s.label_of("app--v2") == "green" and s.label_of("app--v1") == "blue"
    assert {t["revisionName"]: t["weight"] for t in s.traffic()} == {"app--v1": 100, "app--v2": 0}
    s = s.swap()
    assert (s.live, s.previous, s.staged) == ("app--v2", "app--v1", None)
    assert_valid(s.traffic())
    assert s.label_of("app--v2") == "green", "labels stay with revisions across the swap"
    s = s.stage("app--v3")
    assert s.label_of("app--v3") == "blue", "the next staged revision takes the label the live one lacks"
    assert s.label_of("app--v2") == "green"
    assert "app--v1" not in {t["revisionName"] for t in s.traffic() if "label" in t}
    assert_valid(s.traffic())


def test_rollback_returns_to_previous_and_back() -> None:
    s = TrafficState().go_live_first("a--1").stage("a--2").swap()
    back = s.roll_back()
    assert back.live == "a--1" and back.previous == "a--2"
    assert_valid(back.traffic())
    assert back.roll_back().live == "a--2"


def test_direct_replace_keeps_old_for_rollback() -> None:
    s = TrafficState().go_live_first("a--1").replace_live("a--2")
    assert (s.live, s.previous) == ("a--2", "a--1")
    assert_valid(s.traffic())


def test_state_round_trips_through_app_tags_and_traffic() -> None:
    s = TrafficState().go_live_first("a--1").stage("a--2")
    app = {"tags": s.tags(), "properties": {"configuration": {"ingress": {"traffic": s.traffic()}}}}
    again = TrafficState.from_app(app)
    assert (again.live, again.staged, again.labels) == (s.live, s.staged, s.labels)


def test_foreign_app_live_is_heaviest_revision() -> None:
    app = {
        "properties": {
            "configuration": {
                "ingress": {
                    "traffic": [
                        {"revisionName": "x--a", "weight": 20},
                        {"revisionName": "x--b", "weight": 80},
                    ]
                }
            }
        }
    }
    assert TrafficState.from_app(app).live == "x--b"


def test_app_name_fits_azure_limit() -> None:
    assert app_name("contoso", "agent") == "contoso-agent"
    long = app_name("a-very-long-project-name-indeed", "and-a-long-service")
    assert len(long) <= 32 and long == app_name("a-very-long-project-name-indeed", "and-a-long-service")


def test_revision_suffix_is_content_derived() -> None:
    t1 = {"containers": [{"image": "r/a@sha256:1"}]}
    t2 = {"containers": [{"image": "r/a@sha256:2"}]}
    assert revision_suffix(t1) == revision_suffix(dict(t1, revisionSuffix="x"))
    assert revision_suffix(t1) != revision_suffix(t2)
    assert revision_suffix(t1, "/envs/staging") != revision_suffix(t1, "/envs/prod"), "unique per environment"
    assert revision_suffix(t1, "/envs/prod") == revision_suffix(t1, "/envs/prod")
