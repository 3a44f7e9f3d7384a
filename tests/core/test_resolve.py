import pytest

from genaiops_cli.core.resolve import Target, match, parse_target, resolve_address, validate

MAP = {
    "*.sandbox.genaiops.test": "127.0.0.1:8443",
    "*.internal.sandbox.genaiops.test": "127.0.0.2:9443",
    "app.sandbox.genaiops.test": "10.0.0.5",
    "*": "192.0.2.1",
}


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("app.sandbox.genaiops.test", "app.sandbox.genaiops.test"),  # exact beats every wildcard
        ("APP.Sandbox.Genaiops.Test.", "app.sandbox.genaiops.test"),  # case and trailing dot ignored
        ("web.sandbox.genaiops.test", "*.sandbox.genaiops.test"),
        ("web---blue.sandbox.genaiops.test", "*.sandbox.genaiops.test"),
        ("a.b.sandbox.genaiops.test", "*.sandbox.genaiops.test"),  # any depth
        ("web.internal.sandbox.genaiops.test", "*.internal.sandbox.genaiops.test"),  # longest suffix
        ("sandbox.genaiops.test", "*"),  # "*.x" does not match x itself
        ("xsandbox.genaiops.test", "*"),  # suffix must start at a label boundary
        ("example.com", "*"),
    ],
)
def test_match_priorities(host, expected):
    assert match(MAP, host) == expected


def test_no_map_or_no_match():
    assert match(None, "a.b") is None
    assert match({"*.x.test": "1.2.3.4"}, "x.test") is None
    assert resolve_address({"*.x.test": "1.2.3.4"}, "y.test", 443) == ("y.test", 443)


def test_resolve_address_keeps_url_port_without_target_port():
    assert resolve_address(MAP, "app.sandbox.genaiops.test", 443) == ("10.0.0.5", 443)
    assert resolve_address(MAP, "web.sandbox.genaiops.test", 443) == ("127.0.0.1", 8443)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("10.0.0.5", Target("10.0.0.5", None)),
        ("10.0.0.5:443", Target("10.0.0.5", 443)),
        ("[::1]:8443", Target("::1", 8443)),
        ("[::1]", Target("::1", None)),
        ("::1", Target("::1", None)),
        ("gateway.local:80", Target("gateway.local", 80)),
    ],
)
def test_parse_target(text, target):
    assert parse_target(text) == target


@pytest.mark.parametrize("bad", ["", "1.2.3.4:0", "1.2.3.4:99999", "1.2.3.4:http", "[::1", "[::1]x"])
def test_parse_target_rejects(bad):
    with pytest.raises(ValueError):
        parse_target(bad)


def test_validate():
    assert validate(MAP) == []
    problems = validate({"a.*.test": "1.2.3.4", "ok.test": "1.2.3.4:0", "*x.test": "1.1.1.1"})
    assert len(problems) == 3
