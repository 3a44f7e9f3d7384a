# ruff: noqa: E501  (case tables read best one case per line)
"""Hostile or careless manifests are refused at load (= `validate`) time with file:line, field
path and a hint: header injection, malformed JSONPath and Key Vault URLs, files outside the project
(`../`, absolute, symlinks), non-regular files, metadata / link-local `resolve:` targets, and
alias amplification with long strings (bounded memory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.netpolicy import forbidden_target
from genaiops_cli.core.project_files import ALLOW_OUTSIDE_ENV
from genaiops_cli.errors import ManifestError

HERE = Path(__file__).parent / "manifests"
BASE = (HERE / "base.yaml").read_text()


def edit(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def write_project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "src/agent").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data/eval.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    f = tmp_path / "genaiops.yaml"
    f.write_text(text)
    return f


def issue_at(f: Path, path: str, environ: dict[str, str] | None = None):
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ=environ or {})
    issues = caught.value.issues
    found = [i for i in issues if i.path == path]
    assert found, [i.render() for i in issues]
    assert found[0].line is not None and found[0].hint
    return found[0]


# (id, edit, field path, line, message fragment)
CASES = [
    (
        "header-crlf-value",
        ("request: {path: /healthz}", 'request: {path: /healthz, headers: {X-A: "a\\r\\nHost: evil"}}'),
        "services.agent.smoke[0].request.headers.X-A",
        11,
        "control character",
    ),
    (
        "header-lf-value",
        ("request: {path: /healthz}", 'request: {path: /healthz, headers: {X-A: "a\\nb"}}'),
        "services.agent.smoke[0].request.headers.X-A",
        11,
        "control character",
    ),
    (
        "header-bad-name",
        ("request: {path: /healthz}", 'request: {path: /healthz, headers: {"X A:": "b"}}'),
        'services.agent.smoke[0].request.headers["X A:"]',
        11,
        "invalid HTTP header name",
    ),
    (
        "expect-header-crlf",
        ("expect: {status: 200}", 'expect: {status: 200, headers: {X-B: "1\\r\\n"}}'),
        "services.agent.smoke[0].expect.headers.X-B",
        12,
        "control character",
    ),
    (
        "eval-header-crlf",
        ("request: {path: /chat,", 'request: {headers: {Auth: "x\\ry"}, path: /chat,'),
        "evaluations.quality.request.headers.Auth",
        17,
        "control character",
    ),
    (
        "jsonpath-unclosed",
        ("response: $.answer", "response: $.answer["),
        "evaluations.quality.response",
        18,
        "cannot read from",
    ),
    (
        "jsonpath-space",
        ("response: $.answer", "response: $.an swer"),
        "evaluations.quality.response",
        18,
        "cannot read from",
    ),
    (
        "expect-jsonpath",
        ("expect: {status: 200}", 'expect: {status: 200, json: {"$.a[x]": {exists: true}}}'),
        'services.agent.smoke[0].expect.json["$.a[x]"]',
        12,
        "cannot read from",
    ),
    (
        "keyvault-no-secret-path",
        (
            "env: {LOG_LEVEL: info}",
            "env: {LOG_LEVEL: info}\n    secrets: {K: {keyvault: 'https://kv.vault.azure.net/keys/x'}}",
        ),
        "services.agent.secrets.K.keyvault",
        9,
        "not a Key Vault secret path",
    ),
    (
        "keyvault-query",
        (
            "env: {LOG_LEVEL: info}",
            "env: {LOG_LEVEL: info}\n    secrets: {K: {keyvault: 'https://kv.vault.azure.net/secrets/x?sig=1'}}",
        ),
        "services.agent.secrets.K.keyvault",
        9,
        "host and a path only",
    ),
    (
        "keyvault-bad-port",
        (
            "env: {LOG_LEVEL: info}",
            "env: {LOG_LEVEL: info}\n    secrets: {K: {keyvault: 'https://kv.vault.azure.net:99999/secrets/x'}}",
        ),
        "services.agent.secrets.K.keyvault",
        9,
        "malformed URL",
    ),
    (
        "resolve-imds",
        (
            "containerapps_environment: cae-dev",
            "containerapps_environment: cae-dev\n    resolve: {'*.example.test': '169.254.169.254:80'}",
        ),
        'environments.dev.resolve["*.example.test"]',
        29,
        "link-local",
    ),
    (
        "resolve-gce-name",
        (
            "containerapps_environment: cae-dev",
            "containerapps_environment: cae-dev\n    resolve: {'*.example.test': 'metadata.google.internal:80'}",
        ),
        'environments.dev.resolve["*.example.test"]',
        29,
        "metadata",
    ),
    (
        "resolve-aws-v6",
        (
            "containerapps_environment: cae-dev",
            "containerapps_environment: cae-dev\n    resolve: {'*.example.test': '[fd00:ec2::254]:80'}",
        ),
        'environments.dev.resolve["*.example.test"]',
        29,
        "AWS",
    ),
    (
        "resolve-wireserver",
        (
            "containerapps_environment: cae-dev",
            "containerapps_environment: cae-dev\n    resolve: {'*.example.test': '168.63.129.16:80'}",
        ),
        'environments.dev.resolve["*.example.test"]',
        29,
        "WireServer",
    ),
    (
        "dataset-dotdot",
        ("dataset: data/eval.jsonl", "dataset: ../../../etc/passwd.jsonl"),
        "evaluations.quality.dataset",
        16,
        "outside the project",
    ),
    (
        "dataset-absolute",
        ("dataset: data/eval.jsonl", "dataset: /etc/hosts.csv"),
        "evaluations.quality.dataset",
        16,
        "outside the project",
    ),
    (
        "build-context-outside",
        ("build: {context: src/agent}", "build: {context: /}"),
        "services.agent.build.context",
        5,
        "outside the project",
    ),
    (
        "dockerfile-outside",
        ("build: {context: src/agent}", "build: {context: src/agent, dockerfile: ../../../Dockerfile}"),
        "services.agent.build.dockerfile",
        5,
        "outside the project",
    ),
    (
        "probes-outside",
        (
            "evaluators: [exact_match, token_f1]",
            "evaluators: [exact_match, {name: safety, probes: ../secrets.jsonl}]",
        ),
        "evaluations.quality.evaluators[1].probes",
        19,
        "outside the project",
    ),
]


@pytest.mark.parametrize(
    ("pair", "path", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refused_at_validate(
    tmp_path: Path, pair: tuple[str, str], path: str, line: int, fragment: str
) -> None:
    f = write_project(tmp_path / "p", edit(pair))
    issue = issue_at(f, path)
    assert fragment in issue.message, issue.render()
    assert issue.line == line, issue.render()


def test_honest_values_still_pass(tmp_path: Path) -> None:
    text = edit(
        (
            "request: {path: /healthz}",
            "request: {path: /healthz, headers: {X-Trace: 'a\tb', Accept: application/json}}",
        ),
        ("response: $.answer", "response: \"$.choices[0]['message'].content\""),
        (
            "containerapps_environment: cae-dev",
            "containerapps_environment: cae-dev\n    resolve: {'*.example.test': '127.0.0.1:8443'}",
        ),
    )
    load_manifest(write_project(tmp_path / "p", text), environ={})


def test_symlink_out_of_the_project_is_refused_and_opt_in_allows_it(tmp_path: Path) -> None:
    f = write_project(tmp_path / "p", BASE)
    (tmp_path / "p/data/eval.jsonl").unlink()
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"question": "the runner\'s secret"}\n')
    (tmp_path / "p/data/eval.jsonl").symlink_to(secret)
    issue = issue_at(f, "evaluations.quality.dataset")
    assert "outside the project" in issue.message and ALLOW_OUTSIDE_ENV in (issue.hint or "")
    os.environ[ALLOW_OUTSIDE_ENV] = "1"
    try:
        load_manifest(f, environ={})
    finally:
        del os.environ[ALLOW_OUTSIDE_ENV]


def test_fifo_dataset_is_refused_not_read(tmp_path: Path) -> None:
    f = write_project(tmp_path / "p", BASE)
    (tmp_path / "p/data/eval.jsonl").unlink()
    os.mkfifo(tmp_path / "p/data/eval.jsonl")
    issue = issue_at(f, "evaluations.quality.dataset")
    assert "FIFO" in issue.message


def test_fifo_manifest_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "genaiops.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ManifestError) as caught:
        load_manifest(fifo, environ={})
    assert "not a regular file (a FIFO)" in caught.value.message


def test_long_string_alias_amplification_is_bounded(tmp_path: Path) -> None:
    """Few nodes, long strings: the node budget alone let ~1 GB through; the text budget stops it."""
    long = "x" * 60_000
    lines = ["version: 1", f"a: &a {long}", "b: &b [" + ", ".join(["*a"] * 100) + "]"]
    lines.append("c: [" + ", ".join(["*b"] * 100) + "]")  # 10 000 × 60 kB = 600 MB if expanded
    f = tmp_path / "genaiops.yaml"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    assert "MiB of text" in caught.value.message and "YAML bomb" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("169.254.169.254", True),
        ("169.254.0.1", True),
        ("fe80::1", True),
        ("::ffff:169.254.169.254", True),
        ("fd00:ec2::254", True),
        ("METADATA.google.internal.", True),
        ("metadata", True),
        ("127.0.0.1", False),
        ("10.0.0.4", False),
        ("app.example.test", False),
    ],
)
def test_forbidden_targets(host: str, refused: bool) -> None:
    assert bool(forbidden_target(host)) is refused


def test_key_vault_secrets_load_and_keep_their_reference(tmp_path: Path) -> None:
    text = edit(
        (
            "env: {LOG_LEVEL: info}",
            "env: {LOG_LEVEL: info}\n    secrets: {OPENAI_KEY: {keyvault: 'https://kv.vault.azure.net/secrets/openai-key'}}",
        )
    )
    manifest = load_manifest(write_project(tmp_path / "p", text), environ={})
    ref = manifest.services["agent"].secrets["OPENAI_KEY"]
    assert ref.keyvault == "https://kv.vault.azure.net/secrets/openai-key" and ref.identity is None


@pytest.mark.parametrize(
    "secrets,path,fragment",
    [
        # two variables that become the same Container Apps secret name
        (
            "{A_B: {keyvault: 'https://kv.vault.azure.net/secrets/x'}, a_b: {keyvault: 'https://kv.vault.azure.net/secrets/y'}}",
            "services.agent.secrets.a_b",
            "both become the Container Apps secret `a-b`",
        ),
        # `_` alone leaves no secret name
        ("{_: {keyvault: 'https://kv.vault.azure.net/secrets/x'}}", "services.agent.secrets._", "not valid"),
        # the telemetry secret's name is reserved
        (
            "{APPINSIGHTS_CONNECTION_STRING: {keyvault: 'https://kv.vault.azure.net/secrets/x'}}",
            "services.agent.secrets.APPINSIGHTS_CONNECTION_STRING",
            "reserves for telemetry",
        ),
        # genaiops sets this variable itself unless telemetry is off
        (
            "{APPLICATIONINSIGHTS_CONNECTION_STRING: {keyvault: 'https://kv.vault.azure.net/secrets/x'}}",
            "services.agent.secrets.APPLICATIONINSIGHTS_CONNECTION_STRING",
            "set by genaiops",
        ),
        # a variable in both env and secrets
        (
            "{LOG_LEVEL: {keyvault: 'https://kv.vault.azure.net/secrets/x'}}",
            "services.agent.secrets.LOG_LEVEL",
            "both `env` and `secrets`",
        ),
    ],
    ids=["collision", "empty-name", "reserved-name", "telemetry-variable", "env-and-secret"],
)
def test_secret_names_are_checked_at_validate_time(
    tmp_path: Path, secrets: str, path: str, fragment: str
) -> None:
    text = edit(("env: {LOG_LEVEL: info}", f"env: {{LOG_LEVEL: info}}\n    secrets: {secrets}"))
    issue = issue_at(write_project(tmp_path / "p", text), path)
    assert fragment in issue.message and issue.line == 9


@pytest.mark.parametrize(
    "identity", ["a b", "x", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app"]
)
def test_a_secret_identity_must_be_a_managed_identity(tmp_path: Path, identity: str) -> None:
    secrets = f"{{K: {{keyvault: 'https://kv.vault.azure.net/secrets/x', identity: '{identity}'}}}}"
    text = edit(("env: {LOG_LEVEL: info}", f"env: {{LOG_LEVEL: info}}\n    secrets: {secrets}"))
    issue = issue_at(write_project(tmp_path / "p", text), "services.agent.secrets.K.identity")
    assert "not a managed identity" in issue.message and issue.line == 9


@pytest.mark.parametrize(
    "identity",
    [
        "system",
        "id-contoso-prod",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-x",
    ],
)
def test_secret_identities_that_load(tmp_path: Path, identity: str) -> None:
    secrets = f"{{K: {{keyvault: 'https://kv.vault.azure.net/secrets/x', identity: '{identity}'}}}}"
    text = edit(("env: {LOG_LEVEL: info}", f"env: {{LOG_LEVEL: info}}\n    secrets: {secrets}"))
    assert (
        load_manifest(write_project(tmp_path / "p", text), environ={}).services["agent"].secrets["K"].identity
        == identity
    )


def test_telemetry_opt_out_lets_the_app_bring_its_own_connection_string(tmp_path: Path) -> None:
    text = edit(
        (
            "env: {LOG_LEVEL: info}",
            "env: {LOG_LEVEL: info}\n    telemetry: false\n    secrets: {APPLICATIONINSIGHTS_CONNECTION_STRING: {keyvault: 'https://kv.vault.azure.net/secrets/ai'}}",
        )
    )
    manifest = load_manifest(write_project(tmp_path / "p", text), environ={})
    assert manifest.services["agent"].telemetry is False


def test_a_named_path_with_a_nul_byte_is_a_manifest_problem_not_a_crash(tmp_path) -> None:
    from genaiops_cli.core.project_files import FileProblem, check_inside

    with pytest.raises(FileProblem, match="NUL"):
        check_inside(tmp_path, "src/\x00agent")
