from __future__ import annotations

from pathlib import Path

import pytest

from genaiops_cli.core.manifest.loader import find_manifest, load_manifest
from genaiops_cli.core.manifest.model import Manifest
from genaiops_cli.errors import ManifestError, UsageError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "agent" / "genaiops.yaml"
BASE = (Path(__file__).parent / "manifests" / "base.yaml").read_text()


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Manifest:
    f = tmp_path / "genaiops.yaml"
    f.write_text(text)
    return load_manifest(f, environ=environ or {})


def test_starter_template_loads() -> None:
    m = load_manifest(TEMPLATE, environ={})
    assert m.path == TEMPLATE
    assert m.name == "contoso-support"
    agent = m.services["agent"]
    assert agent.host == "containerapp" and agent.ingress and agent.ingress.health == "/healthz"
    assert [c.name for c in agent.smoke] == ["health", "answers-refunds"]
    assert agent.smoke[1].expect.json_["$.answer"].contains == "5 business days"
    assert m.evaluations["quality"].thresholds["token_f1"].passes(0.71)
    assert not m.evaluations["quality"].thresholds["token_f1"].passes(0.69)
    assert set(m.environments) == {"dev", "staging", "prod"}
    assert {e.cloud for e in m.environments.values()} == {"sandbox"}
    assert m.environments["prod"].strategy == "bluegreen"
    assert TEMPLATE.read_text().startswith("# yaml-language-server: $schema=")


def test_template_subscription_comes_from_the_environment() -> None:
    sub = "11111111-2222-3333-4444-555555555555"
    m = load_manifest(TEMPLATE, environ={"AZURE_SUBSCRIPTION_ID": sub})
    assert m.environments["dev"].subscription == sub


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${REG}", {"REG": "crfromenv"}, "crfromenv"),
        ("${REG:-crdefault}", {}, "crdefault"),
        ("${REG:-crdefault}", {"REG": ""}, "crdefault"),
        ("${REG:-crdefault}", {"REG": "crset"}, "crset"),
        ("cr${SUFFIX}", {"SUFFIX": "dev01"}, "crdev01"),
    ],
)
def test_interpolation(tmp_path: Path, value: str, environ: dict[str, str], expected: str) -> None:
    m = load_text(tmp_path, BASE.replace("registry: crdev", f'registry: "{value}"'), environ)
    assert m.environments["dev"].registry == expected


def test_dollar_escape_and_jsonpath_untouched(tmp_path: Path) -> None:
    text = BASE.replace("{LOG_LEVEL: info}", '{LOG_LEVEL: info, PRICE: "$$5 and $${HOME}"}')
    m = load_text(tmp_path, text, {"HOME": "/root"})
    assert m.services["agent"].env["PRICE"] == "$5 and ${HOME}"
    assert m.evaluations["quality"].response == "$.answer"
    assert m.evaluations["quality"].request.json_ == {"message": "{{question}}"}


def test_interpolated_number_is_coerced(tmp_path: Path) -> None:
    m = load_text(tmp_path, BASE.replace("port: 8080", 'port: "${PORT:-9090}"'))
    assert m.services["agent"].ingress.port == 9090


def test_override_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    text = BASE.replace(
        "agent: {env: {LOG_LEVEL: warning}}",
        "agent: {env: {EXTRA: '1'}, ingress: {port: 9000}, smoke: [{name: root, request: {path: /}}]}",
    )
    m = load_text(tmp_path, text)
    prod = m.environment("prod")
    agent = prod.services["agent"]
    assert agent.env == {"LOG_LEVEL": "info", "EXTRA": "1"}
    assert agent.ingress.port == 9000 and agent.ingress.health == "/healthz"
    assert [c.name for c in agent.smoke] == ["root"]
    assert m.services["agent"].ingress.port == 8080  # the base is untouched
    assert m.environment("dev").services["agent"] is m.services["agent"]
    assert prod.gates == () and m.environment("dev").gates == ("smoke", "quality")
    assert set(m.environment("dev").gate_evaluations) == {"quality"}
    cfg = prod.effective_config()
    assert cfg["services"]["agent"]["env"]["EXTRA"] == "1" and cfg["registry"] == "crprod"


def test_override_null_clears_and_switches_to_image(tmp_path: Path) -> None:
    text = BASE.replace(
        "agent: {env: {LOG_LEVEL: warning}}", "agent: {build: null, image: 'mcr.microsoft.com/x/y:1'}"
    )
    agent = load_text(tmp_path, text).environment("prod").services["agent"]
    assert agent.build is None and agent.image == "mcr.microsoft.com/x/y:1"


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = BASE.replace("  dev:\n    cloud: sandbox", "  dev: &common\n    cloud: sandbox").replace(
        "  prod:\n    cloud: sandbox\n    subscription: 00000000-0000-0000-0000-000000000000\n",
        "  prod:\n    <<: *common\n",
    )
    m = load_text(tmp_path, text)
    assert m.environments["prod"].location == "eastus2"
    assert m.environments["prod"].registry == "crprod"  # explicit key wins over the merge
    assert m.environments["prod"].gates == ["smoke", "quality"]


def test_summary(tmp_path: Path) -> None:
    s = load_manifest(TEMPLATE, environ={}).summary()
    assert s["counts"] == {"services": 1, "evaluations": 2, "environments": 3, "smoke_checks": 2, "gates": 6}
    assert s["promotion_chains"] == [["dev", "staging", "prod"]]
    assert s["environments"]["staging"]["gates"] == ["smoke", "quality", "safety"]


def test_unknown_environment_suggests(tmp_path: Path) -> None:
    m = load_manifest(TEMPLATE, environ={})
    with pytest.raises(UsageError) as caught:
        m.environment("prd")
    assert "did you mean `prod`" in (caught.value.hint or "")


def test_find_manifest_walks_up(tmp_path: Path) -> None:
    (tmp_path / "genaiops.yml").write_text(BASE)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_manifest(None, start=deep) == tmp_path / "genaiops.yml"
    assert find_manifest(tmp_path) == tmp_path / "genaiops.yml"
    assert find_manifest(tmp_path / "genaiops.yml") == tmp_path / "genaiops.yml"


def test_find_manifest_none(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        find_manifest(None, start=tmp_path)
    assert caught.value.exit_code == 3 and caught.value.code == "manifest_not_found"
    assert "-f" in (caught.value.hint or "")
    with pytest.raises(ManifestError):
        find_manifest(tmp_path / "missing.yaml")
