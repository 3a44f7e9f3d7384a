"""A run of one named command builds only that command's click tree (typer inspects every registered
command function on each run otherwise); anything else still sees the whole tree."""

from __future__ import annotations

import pytest

from genaiops_cli import cli


def test_a_named_command_gets_a_tree_of_its_own():
    only = cli._tree_for(["-o", "json", "eval", "quality", "--url", "http://x"])
    assert [c.callback.__name__ for c in only.registered_commands] == ["eval_command"]
    assert only.registered_groups == []
    assert len(cli.app.registered_commands) > 10  # the app itself is untouched


def test_a_command_group_gets_only_its_group():
    only = cli._tree_for(["config", "get", "x"])
    assert only.registered_commands == [] and [g.name for g in only.registered_groups] == ["config"]


@pytest.mark.parametrize("args", [[], ["--version"], ["evl", "x"], ["-e", "eval"]])
def test_no_command_or_an_unknown_one_gets_the_whole_tree(args):
    assert cli._tree_for(args) is cli.app


def test_shell_completion_gets_the_whole_tree(monkeypatch):
    monkeypatch.setenv("_GENAIOPS_COMPLETE", "complete_bash")
    assert cli._tree_for(["eval"]) is cli.app
