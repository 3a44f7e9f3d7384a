import json
from pathlib import Path

import jsonschema
import yaml

from genaiops_cli.core.manifest.schema import manifest_json_schema

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "genaiops.schema.json"


def test_committed_schema_matches_the_model() -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == manifest_json_schema(), (
        "docs/genaiops.schema.json drifted from the manifest model; regenerate it with "
        "`genaiops schema > docs/genaiops.schema.json`"
    )


def test_schema_is_valid_2020_12_and_accepts_the_template() -> None:
    schema = manifest_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/docs/genaiops.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    template = yaml.safe_load((ROOT / "templates" / "agent" / "genaiops.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(template)] == []
    del template["services"]["agent"]["ingress"]
    template["services"]["agent"]["colour"] = "blue"
    messages = " ".join(e.message for e in validator.iter_errors(template))
    assert "'ingress' is a required property" in messages and "colour" in messages
