"""Output that fits the terminal it lands in: no escape codes under NO_COLOR, tables that keep the
identifiers people copy at 80 columns, -q that is quiet. Checked in a real pty where it matters."""

from __future__ import annotations

import io

import pytest
from rich.console import Console as RichConsole

from genaiops_cli.console import Col, fitted_table

from .helpers import TEMPLATE_MANIFEST, run_cli, run_pty

ESC = "\x1b"


def test_a_terminal_gets_styling_by_default() -> None:
    """The control for the NO_COLOR tests below: without it the same runs do send escape codes."""
    run = run_pty("status", "--help")
    assert run.code == 0 and ESC in run.stdout


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--help"], {"NO_COLOR": "1"}),
        (["status", "--help"], {"NO_COLOR": "1"}),
        (["-f", str(TEMPLATE_MANIFEST), "validate"], {"NO_COLOR": "1"}),
        (["-f", str(TEMPLATE_MANIFEST), "validate", "-e", "nope"], {"NO_COLOR": "1"}),
        (["status", "--help", "--no-color"], {}),
        (["-f", str(TEMPLATE_MANIFEST), "config", "show", "-e", "dev", "--no-color"], {}),
        (["-f", str(TEMPLATE_MANIFEST), "--no-color", "validate", "-e", "nope"], {}),
    ],
    ids=["help", "sub-help", "validate", "error", "flag-help", "flag-after", "flag-error"],
)
def test_no_color_means_no_escape_codes_at_all(args: list[str], env: dict[str, str]) -> None:
    run = run_pty(*args, env=env)
    assert run.stdout.strip(), "the run printed nothing"
    assert ESC not in run.stdout, repr(run.stdout[:400])


def test_quiet_leaves_only_the_result() -> None:
    loud = run_cli("-f", str(TEMPLATE_MANIFEST), "validate")
    assert loud.stdout.strip()
    for args in (["-q", "validate"], ["validate", "-q"]):
        run = run_cli("-f", str(TEMPLATE_MANIFEST), *args)
        assert run.code == 0 and run.stderr == ""
        assert run.stdout == loud.stdout


def _render(table, width: int) -> str:
    out = RichConsole(file=io.StringIO(), width=width, color_system=None)
    out.print(table)
    return out.file.getvalue()


STATUS_ROWS = [
    [
        f"contoso-support-agent--{suffix}",
        role,
        f"{traffic}%",
        label,
        "Running/Healthy",
        "sha256:3f9a2b1c0d4e",
        "2026-12-05T07:54:24",
    ]
    for suffix, role, traffic, label in (
        ("0a1b2c3d", "live", 100, "blue"),
        ("9f8e7d6c", "staged", 0, "green"),
    )
]


def test_status_table_keeps_full_revision_names_at_80_columns() -> None:
    from genaiops_cli.commands.status import COLUMNS

    text = _render(fitted_table(80, COLUMNS, STATUS_ROWS), 80)
    assert all(len(line) <= 80 for line in text.splitlines())
    for row in STATUS_ROWS:
        assert row[0] in text  # never `contoso-sup…`
    assert "…" not in text
    wide = _render(fitted_table(200, COLUMNS, STATUS_ROWS), 200)
    assert "2026-12-05T07:54:24" in wide and "Running/Healthy" in wide  # nothing dropped when there is room


def test_history_timestamps_stay_on_one_line_at_80_columns() -> None:
    from genaiops_cli.commands.history import COLUMNS

    rows = [
        [
            "2026-12-05T07:54:24",
            "prod",
            "rel-20261205-0a1b2c3d",
            "promote",
            "live",
            "staging",
            "alice@example.com",
            "smoke=pass, quality=pass, safety=pass",
            "break-lock: holder died",
        ]
    ]
    text = _render(fitted_table(80, COLUMNS, rows), 80)
    assert "2026-12-05T07:54:24" in text and "rel-20261205-0a1b2c3d" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_lower_value_columns_wrap_before_they_go() -> None:
    columns = [Col("id", copy=True), Col("note", drop=1)]
    rows = [["x" * 50, "a fairly long note that has to wrap somewhere"]]
    text = _render(fitted_table(70, columns, rows), 70)
    assert "x" * 50 in text and "note" in text  # wrapped, kept
    text = _render(fitted_table(55, columns, rows), 55)
    assert "x" * 50 in text and "note" not in text  # no room even wrapped: dropped
