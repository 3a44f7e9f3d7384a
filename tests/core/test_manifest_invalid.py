# ruff: noqa: E501  (case tables read best one case per line)
"""Each invalid manifest names the field path, line (and column where it matters) and a
message fragment of at least one reported issue. Cases edit tests/core/manifests/base.yaml
(valid; see its line numbers) or are whole files."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.errors import ExitCode, ManifestError

HERE = Path(__file__).parent / "manifests"
BASE = (HERE / "base.yaml").read_text()


def edit(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# (id, manifest text, path, line, column or None, message fragment)
CASES = [
    (
        "monitor-unknown-action-group",
        edit(
            (
                "    gates: [smoke, quality]\n",
                '    gates: [smoke, quality]\n    monitor:\n      alerts:\n        errs:\n          service: agent\n          metric: Requests\n          threshold: "> 1"\n          action_groups: [opz]\n',
            )
        ),
        "environments.dev.monitor.alerts.errs.action_groups[0]",
        36,
        27,
        "unknown action group `opz`",
    ),
    (
        "monitor-unknown-metric",
        edit(
            (
                "    gates: [smoke, quality]\n",
                '    gates: [smoke, quality]\n    monitor:\n      alerts:\n        errs:\n          service: agent\n          metric: Requestz\n          threshold: "> 1"\n',
            )
        ),
        "environments.dev.monitor.alerts.errs.metric",
        34,
        19,
        "is not allowed here",
    ),
    (
        "log-alert-error-rate-with-query",
        edit(
            (
                "    gates: [smoke, quality]\n",
                '    gates: [smoke, quality]\n    monitor:\n      log_alerts:\n        errs:\n          service: agent\n          error_rate: "> 0.05"\n          app_insights: appi-dev\n          query: "requests"\n',
            )
        ),
        "environments.dev.monitor.log_alerts.errs.query",
        36,
        11,
        "cannot be combined with `error_rate`",
    ),
    (
        "log-alert-error-rate-above-one",
        edit(
            (
                "    gates: [smoke, quality]\n",
                '    gates: [smoke, quality]\n    monitor:\n      log_alerts:\n        errs:\n          service: agent\n          error_rate: "> 5"\n          app_insights: appi-dev\n',
            )
        ),
        "environments.dev.monitor.log_alerts.errs.error_rate",
        34,
        23,
        "not a share between 0 and 1",
    ),
    (
        "log-alert-error-rate-without-component",
        edit(
            (
                "    gates: [smoke, quality]\n",
                '    gates: [smoke, quality]\n    monitor:\n      log_alerts:\n        errs:\n          service: agent\n          error_rate: "> 0.05"\n',
            )
        ),
        "environments.dev.monitor.log_alerts.errs",
        32,
        None,
        "needs `app_insights`",
    ),
    (
        "log-alert-without-query",
        edit(
            (
                "    gates: [smoke, quality]\n",
                '    gates: [smoke, quality]\n    monitor:\n      log_alerts:\n        errs:\n          service: agent\n          threshold: "> 0"\n',
            )
        ),
        "environments.dev.monitor.log_alerts.errs",
        32,
        None,
        "log alert needs `query`",
    ),
    ("unknown-top-key", edit(("name: demo", "name: demo\nnmae: x")), "nmae", 3, 1, "unknown key `nmae`"),
    (
        "unknown-service-key",
        edit(("    repository:", "    repo:")),
        "services.agent.repo",
        6,
        5,
        "unknown key `repo`",
    ),
    (
        "typo-ingress",
        edit(("    ingress:", "    ingres:")),
        "services.agent.ingres",
        7,
        5,
        "unknown key `ingres`",
    ),
    ("missing-name", edit(("name: demo\n", "")), "name", 1, 1, "missing required key `name`"),
    ("bad-name", edit(("name: demo", "name: Demo_App")), "name", 2, 7, "is not valid"),
    ("version-2", edit(("version: 1", "version: 2")), "version", 1, 10, "newer than this genaiops"),
    (
        "version-string",
        edit(("version: 1", "version: 'one'")),
        "version",
        1,
        10,
        "unsupported manifest version",
    ),
    (
        "services-empty",
        edit(("services:\n  agent:", "services: {}\nx:\n  agent:")),
        "services",
        3,
        1,
        "at least 1",
    ),
    (
        "port-string",
        edit(("port: 8080", "port: eighty")),
        "services.agent.ingress.port",
        7,
        21,
        "expected a whole number",
    ),
    (
        "port-range",
        edit(("port: 8080", "port: 70000")),
        "services.agent.ingress.port",
        7,
        21,
        "must be <= 65535",
    ),
    (
        "health-no-slash",
        edit(("health: /healthz", "health: healthz")),
        "services.agent.ingress.health",
        7,
        35,
        "not valid",
    ),
    (
        "env-bool",
        edit(("LOG_LEVEL: info", "LOG_LEVEL: yes")),
        "services.agent.env.LOG_LEVEL",
        8,
        22,
        "expected a string",
    ),
    (
        "env-bad-key",
        edit(("LOG_LEVEL: info", "log-level: info")),
        "services.agent.env.log-level",
        8,
        11,
        "key 'log-level'",
    ),
    (
        "cpu-step",
        edit(("    env: {LOG", "    resources: {cpu: 0.3}\n    env: {LOG")),
        "services.agent.resources.cpu",
        8,
        22,
        "cpu 0.3",
    ),
    (
        "memory-format",
        edit(("    env: {LOG", "    resources: {memory: 1GB}\n    env: {LOG")),
        "services.agent.resources.memory",
        8,
        25,
        "not valid",
    ),
    (
        "scale-order",
        edit(("    env: {LOG", "    scale: {min_replicas: 5, max_replicas: 2}\n    env: {LOG")),
        "services.agent.scale",
        8,
        5,
        "greater than max_replicas",
    ),
    (
        "host-unknown",
        edit(("    repository:", "    host: container-app\n    repository:")),
        "services.agent.host",
        6,
        11,
        "did you mean `containerapp`",
    ),
    (
        "ingress-missing",
        edit(("    ingress: {port: 8080, health: /healthz}\n", "")),
        "services.agent.ingress",
        4,
        3,
        "required for host: containerapp",
    ),
    (
        "foundry-needs-agent",
        edit(("    ingress: {port: 8080, health: /healthz}\n", "    host: foundry-agent\n")),
        "services.agent.agent",
        4,
        3,
        "required for host: foundry-agent",
    ),
    (
        "foundry-scale-cannot-be-honoured",
        edit(
            (
                "    ingress: {port: 8080, health: /healthz}\n",
                "    host: foundry-agent\n    agent: {}\n    scale: {min_replicas: 2}\n",
            )
        ),
        "services.agent.scale",
        9,
        5,
        "`scale` does not apply to host: foundry-agent",
    ),
    (
        "foundry-secrets-cannot-be-honoured",
        edit(
            (
                "    ingress: {port: 8080, health: /healthz}\n",
                "    host: foundry-agent\n    agent: {}\n    secrets: {KEY: {keyvault: 'https://kv.vault.azure.net/secrets/k'}}\n",
            )
        ),
        "services.agent.secrets",
        9,
        5,
        "cannot be honoured by host: foundry-agent",
    ),
    (
        "foundry-smoke-not-responses",
        edit(("    ingress: {port: 8080, health: /healthz}\n", "    host: foundry-agent\n    agent: {}\n")),
        "services.agent.smoke[0].request",
        12,
        None,
        "only through the Responses protocol",
    ),
    (
        "foundry-unknown-protocol",
        edit(
            (
                "    ingress: {port: 8080, health: /healthz}\n",
                "    host: foundry-agent\n    agent: {protocols: {http: v1}}\n",
            )
        ),
        "services.agent.agent.protocols.http",
        8,
        25,
        "'http' is not allowed here",
    ),
    (
        "connection-unknown",
        edit(
            (
                "    env: {LOG_LEVEL: info}\n",
                "    env: {LOG_LEVEL: info}\n    connections: {ENDPOINT: foundry.endpoint}\n",
            )
        ),
        "services.agent.connections.ENDPOINT",
        9,
        None,
        "foundry.project_endpoint",
    ),
    (
        "connection-also-in-env",
        edit(
            (
                "    env: {LOG_LEVEL: info}\n",
                "    env: {LOG_LEVEL: info}\n    connections: {LOG_LEVEL: foundry.model_deployment}\n",
            )
        ),
        "services.agent.connections.LOG_LEVEL",
        9,
        None,
        "set by both `connections` and `env`",
    ),
    (
        "connection-string-needs-telemetry",
        edit(
            (
                "    env: {LOG_LEVEL: info}\n",
                "    env: {LOG_LEVEL: info}\n    telemetry: false\n"
                "    connections: {APPINSIGHTS: app_insights.connection_string}\n",
            )
        ),
        "services.agent.connections.APPINSIGHTS",
        10,
        None,
        "needs telemetry",
    ),
    (
        "foundry-eval-not-responses",
        edit(("    ingress: {port: 8080, health: /healthz}\n", "    host: foundry-agent\n    agent: {}\n")),
        "evaluations.quality.request",
        18,
        None,
        "only through the Responses protocol",
    ),
    (
        "build-and-image",
        edit(("    repository:", "    image: nginx:1\n    repository:")),
        "services.agent",
        4,
        3,
        "exactly one of `build` or `image`",
    ),
    (
        "neither-build-nor-image",
        edit(("    build: {context: src/agent}\n", "")),
        "services.agent",
        4,
        3,
        "exactly one of `build` or `image`",
    ),
    (
        "build-needs-repository",
        edit(("    repository: demo/agent\n", "")),
        "services.agent.repository",
        4,
        3,
        "required with `build`",
    ),
    (
        "build-context-missing",
        edit(("build: {context: src/agent}", "build: {dockerfile: Dockerfile}")),
        "services.agent.build.context",
        5,
        5,
        "missing required key `context`",
    ),
    (
        "smoke-not-list",
        edit(
            (
                "    smoke:\n      - name: health\n        request: {path: /healthz}\n        expect: {status: 200}\n",
                "    smoke: health\n",
            )
        ),
        "services.agent.smoke",
        9,
        12,
        "expected a list",
    ),
    (
        "smoke-status-range",
        edit(("{status: 200}", "{status: 700}")),
        "services.agent.smoke[0].expect.status",
        12,
        26,
        "must be <= 599",
    ),
    (
        "smoke-request-path",
        edit(("request: {path: /healthz}", "request: {path: healthz}")),
        "services.agent.smoke[0].request.path",
        11,
        25,
        "not valid",
    ),
    (
        "smoke-method",
        edit(("request: {path: /healthz}", "request: {method: FETCH, path: /healthz}")),
        "services.agent.smoke[0].request.method",
        11,
        27,
        "not allowed",
    ),
    (
        "smoke-matcher-two",
        edit(("{status: 200}", '{json: {"$.a": {contains: x, regex: y}}}')),
        'services.agent.smoke[0].expect.json["$.a"]',
        12,
        25,
        "exactly one of equals",
    ),
    (
        "smoke-jsonpath-key",
        edit(("{status: 200}", "{json: {answer: {exists: true}}}")),
        "services.agent.smoke[0].expect.json.answer",
        12,
        25,
        "not valid",
    ),
    (
        "smoke-duplicate-name",
        edit(
            (
                "        expect: {status: 200}\n",
                "        expect: {status: 200}\n      - name: health\n        request: {path: /}\n",
            )
        ),
        "services.agent.smoke[1].name",
        13,
        15,
        "duplicate smoke check name",
    ),
    (
        "eval-unknown-service",
        edit(("    service: agent", "    service: agnet")),
        "evaluations.quality.service",
        15,
        14,
        "did you mean `agent`",
    ),
    (
        "eval-dataset-kind",
        edit(("data/eval.jsonl", "data/eval.txt")),
        "evaluations.quality.dataset",
        16,
        14,
        "neither .jsonl nor .csv",
    ),
    (
        "eval-unknown-evaluator",
        edit(("[exact_match, token_f1]", "[exact_match, tokenf1]")),
        "evaluations.quality.evaluators[1]",
        19,
        31,
        "did you mean `token_f1`",
    ),
    (
        "eval-threshold-number",
        edit(('{token_f1: ">= 0.7"}', "{token_f1: 0.7}")),
        "evaluations.quality.thresholds.token_f1",
        20,
        28,
        '">= 0.7"',
    ),
    (
        "eval-threshold-op",
        edit(('">= 0.7"', '"=> 0.7"')),
        "evaluations.quality.thresholds.token_f1",
        20,
        28,
        "not `<op> <number>`",
    ),
    (
        "eval-named-smoke",
        edit(("  quality:", "  smoke:"), ("gates: [smoke, quality]", "gates: [smoke]")),
        "evaluations.smoke",
        14,
        3,
        "may not be named `smoke`",
    ),
    (
        "env-bad-subscription",
        edit(("subscription: 00000000-0000-0000-0000-000000000000", "subscription: my-sub")),
        "environments.dev.subscription",
        24,
        19,
        "GUID",
    ),
    (
        "env-cloud",
        edit(("    cloud: sandbox", "    cloud: azure-china")),
        "environments.dev.cloud",
        23,
        12,
        "allowed",
    ),
    (
        "env-strategy",
        edit(("strategy: bluegreen", "strategy: blue-green")),
        "environments.prod.strategy",
        38,
        15,
        "did you mean `bluegreen`",
    ),
    (
        "env-promote-unknown",
        edit(("promote_from: dev", "promote_from: staging")),
        "environments.prod.promote_from",
        37,
        19,
        "unknown environment `staging`",
    ),
    (
        "env-promote-cycle",
        edit(("    gates: [smoke, quality]\n", "    gates: [smoke, quality]\n    promote_from: prod\n")),
        "environments.dev.promote_from",
        30,
        19,
        "promotion cycle: dev → prod → dev",
    ),
    (
        "env-promote-self",
        edit(("promote_from: dev", "promote_from: prod")),
        "environments.prod.promote_from",
        37,
        19,
        "promotion cycle: prod → prod",
    ),
    (
        "env-gate-unknown",
        edit(("gates: [smoke, quality]", "gates: [smoke, qualty]")),
        "environments.dev.gates[1]",
        29,
        20,
        "did you mean `quality`",
    ),
    (
        "env-both-cae",
        edit(
            (
                "    containerapps_environment: cae-dev\n",
                "    containerapps_environment: cae-dev\n    connected_environment: arc-dev\n",
            )
        ),
        "environments.dev.connected_environment",
        29,
        5,
        "both",
    ),
    (
        "env-resolve-value",
        edit(
            (
                "    gates: [smoke, quality]\n",
                "    gates: [smoke, quality]\n    resolve: {'*.local': localhost}\n",
            )
        ),
        'environments.dev.resolve["*.local"]',
        30,
        26,
        "ip:port",
    ),
    (
        "override-unknown-service",
        edit(("      agent: {env", "      agnet: {env")),
        "environments.prod.services.agnet",
        40,
        7,
        "did you mean `agent`",
    ),
    (
        "override-bad-value",
        edit(("{LOG_LEVEL: warning}", "{LOG_LEVEL: 3}")),
        "environments.prod.services.agent.env.LOG_LEVEL",
        40,
        32,
        "expected a string",
    ),
    (
        "override-unknown-key",
        edit(("agent: {env: {LOG_LEVEL: warning}}", "agent: {envv: {}}")),
        "environments.prod.services.agent.envv",
        40,
        15,
        "did you mean `env`",
    ),
    (
        "override-breaks-host-rule",
        edit(("agent: {env: {LOG_LEVEL: warning}}", "agent: {ingress: null}")),
        "environments.prod.services.agent.ingress",
        40,
        24,
        "required for host: containerapp",
    ),
    (
        "override-not-mapping",
        edit(("agent: {env: {LOG_LEVEL: warning}}", "agent: [1]")),
        "environments.prod.services.agent",
        40,
        7,
        "expected a mapping",
    ),
    (
        "unset-variable",
        edit(("registry: crdev", "registry: ${DEV_REGISTRY}")),
        "environments.dev.registry",
        27,
        15,
        "`DEV_REGISTRY` is not set",
    ),
    (
        "unterminated-reference",
        edit(("registry: crdev", "registry: cr${DEV")),
        "environments.dev.registry",
        27,
        17,
        "unterminated `${`",
    ),
    (
        "bad-reference-form",
        edit(("registry: crdev", "registry: ${DEV:?nope}")),
        "environments.dev.registry",
        27,
        15,
        "unsupported form",
    ),
    (
        "duplicate-key",
        edit(("    location: eastus2\n", "    location: eastus2\n    location: westus\n")),
        "environments.dev.location",
        27,
        5,
        "duplicate key `location`",
    ),
    (
        "custom-tag",
        edit(("registry: crdev", "registry: !Ref crdev")),
        "environments.dev.registry",
        27,
        15,
        "unsupported YAML tag `!Ref`",
    ),
    ("undefined-alias", edit(("registry: crdev", "registry: *reg")), "", 27, 15, "refers to no anchor"),
    (
        "syntax-error",
        edit(("    location: eastus2\n", "    location: eastus2\n   bad: indentation\n")),
        "",
        27,
        4,
        "YAML syntax error",
    ),
    (
        "tab-indentation",
        edit(("    location: eastus2\n", "\tlocation: eastus2\n")),
        "",
        26,
        1,
        "YAML syntax error",
    ),
    ("not-a-mapping", "- just\n- a list\n", "", 1, 1, "top level must be a mapping"),
    ("scalar-document", "hello\n", "", 1, 1, "top level must be a mapping"),
    ("two-documents", BASE + "---\nversion: 1\n", "", 41, 1, "more than one YAML document"),
    ("empty", "", "", 1, 1, "empty"),
    ("only-comments", "# nothing here\n\n", "", 1, 1, "empty"),
    ("recursive-alias", "version: 1\nname: &n [*n]\n", "", 2, 7, "recursive alias"),
    ("deep-nesting", "a: " + "[" * 200 + "]" * 200 + "\n", "", 1, None, "nest"),
]


@pytest.mark.parametrize(
    ("text", "path", "line", "column", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_manifest_is_located(
    tmp_path: Path, text: str, path: str, line: int, column: int | None, fragment: str
) -> None:
    f = tmp_path / "genaiops.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    err = caught.value
    assert err.exit_code == ExitCode.MANIFEST
    rendered = "\n".join(i.render() for i in err.issues)
    matches = [i for i in err.issues if i.path == path and fragment in i.message + " " + (i.hint or "")]
    assert matches, f"no issue at {path!r} mentioning {fragment!r} in:\n{rendered}"
    issue = matches[0]
    assert issue.file == str(f)
    assert issue.line == line, rendered
    if column is not None:
        assert issue.column == column, rendered
    assert issue.hint, "every issue carries a hint"


def test_case_ids_are_distinct_and_many() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 30


def test_all_problems_reported_together(tmp_path: Path) -> None:
    f = tmp_path / "genaiops.yaml"
    f.write_text(
        edit(
            ("port: 8080", "port: x"),
            ("service: agent", "service: nope"),
            ("registry: crprod", "registry: c"),
        ),
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    paths = {i.path for i in caught.value.issues}
    assert {
        "services.agent.ingress.port",
        "evaluations.quality.service",
        "environments.prod.registry",
    } <= paths
    assert "(and 2 more)" in caught.value.message
    lines = [i.line for i in caught.value.issues]
    assert lines == sorted(lines)


def test_issue_for_override_points_at_base_when_value_came_from_base(tmp_path: Path) -> None:
    # the base memory is bad only once the override's cpu is applied? no: the base is valid;
    # the override replaces the smoke list, so an error in it points at the override's line.
    f = tmp_path / "genaiops.yaml"
    f.write_text(
        edit(("agent: {env: {LOG_LEVEL: warning}}", "agent: {smoke: [{name: x, request: {path: nope}}]}"))
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    (issue,) = caught.value.issues
    assert issue.path == "environments.prod.services.agent.smoke[0].request.path"
    assert issue.line == 40


BAD_FILES = [
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3, "binary"),
    ("latin-1", "version: 1\nname: caf\xe9\n".encode("latin-1"), 2, "not UTF-8"),
    ("utf-16", "version: 1\n".encode("utf-16"), 1, "UTF-16"),
    ("control-char", b"version: 1\nname: a\x07b\n", 2, "unacceptable character"),
    ("too-large", b"# " + b"x" * (1024 * 1024) + b"\n", 1, "larger than"),
]


@pytest.mark.parametrize(
    ("data", "line", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_unreadable_files(tmp_path: Path, data: bytes, line: int, fragment: str) -> None:
    f = tmp_path / "genaiops.yaml"
    f.write_bytes(data)
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    (issue,) = caught.value.issues
    assert fragment in issue.message
    assert issue.line == line and issue.file == str(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path / "nope.yaml")
    assert caught.value.code == "manifest_not_found"
    assert caught.value.exit_code == ExitCode.MANIFEST


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    import time

    lines = ["version: 1", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    f = tmp_path / "genaiops.yaml"
    f.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    assert time.perf_counter() - start < 1.0
    assert "YAML bomb" in (caught.value.issues[0].hint or "")
