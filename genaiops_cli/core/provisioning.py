"""What `genaiops provision` deploys for an environment and what it leaves behind.

- `infra_plan(...)`: the template (ARM JSON, or .bicep compiled with the bicep CLI) and its parameters:
  the manifest's `infra:` files, else the shipped templates/infra/main.json with the shipped per-environment
  sizing plus values from the manifest (namePrefix, environment, location, tags).
- `ProvisionedState`: the deployment's outputs. The deployment in Azure is the source of truth; a copy is
  cached in `<project>/.genaiops/provisioned/<env>.json` for offline reads and speed.

No Azure SDK here (the provider does the calls)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genaiops_cli.errors import ProvisionError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest

CACHE_DIR = Path(".genaiops") / "provisioned"
SHIPPED_TEMPLATE = "main.json"


def deployment_name(env_name: str) -> str:
    return f"genaiops-{env_name}"


@dataclass
class InfraPlan:
    template: dict[str, Any]
    parameters: dict[str, dict[str, Any]]  # ARM shape: {"name": {"value": v}}
    template_path: str
    parameters_path: str | None
    deployment: str

    def parameter_values(self) -> dict[str, Any]:
        """For display: secure parameters are never shown."""
        declared = self.template.get("parameters") or {}
        out = {}
        for name, entry in self.parameters.items():
            kind = str((declared.get(name) or {}).get("type", "")).lower()
            out[name] = "(secure)" if kind.startswith("secure") else entry.get("value")
        return out


def shipped_infra_dir() -> Path:
    from genaiops_cli.core.scaffold import templates_root

    return Path(str(templates_root().joinpath("infra")))


def name_prefix(app_name: str) -> str:
    """The shipped template's namePrefix (2-10 lower-case letters, digits, hyphens) from the app name."""
    compact = re.sub(r"[^a-z0-9-]", "", app_name.lower())
    return (compact[:10].strip("-") or "app").ljust(2, "0")


def load_template(path: Path) -> dict[str, Any]:
    """ARM JSON as is; `.bicep` compiled to ARM JSON with the bicep CLI (or `az bicep build`)."""
    if not path.is_file():
        raise ProvisionError(f"template {path} not found", hint="fix `infra.template` or --template")
    if path.suffix.lower() == ".bicep":
        return _compile_bicep(path)
    return _read_json(path, "template")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProvisionError(
            f"{what} {path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})",
            hint="fix the JSON syntax",
            code="invalid_template",
            details={"file": str(path), "line": exc.lineno, "column": exc.colno},
        ) from None
    except OSError as exc:
        raise ProvisionError(f"cannot read {what} {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise ProvisionError(f"{what} {path} must be a JSON object", code="invalid_template")
    return data


def _compile_bicep(path: Path) -> dict[str, Any]:
    bicep, az = shutil.which("bicep"), shutil.which("az")
    if bicep:
        cmd = [bicep, "build", str(path), "--stdout"]
    elif az:
        cmd = [az, "bicep", "build", "--file", str(path), "--stdout"]
    else:
        raise ProvisionError(
            f"{path.name} is Bicep and no Bicep compiler is installed",
            hint="install it (`az bicep install`, or the standalone CLI from "
            "https://aka.ms/bicep-install) or point `infra.template` at ARM JSON",
            code="bicep_missing",
        )
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProvisionError(f"compiling {path.name} failed: {exc}", code="bicep_failed") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()][-10:]
        raise ProvisionError(
            f"compiling {path.name} failed: " + (lines[-1] if lines else f"exit {done.returncode}"),
            code="bicep_failed",
            details={"log": lines},
        )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ProvisionError(
            f"bicep produced no JSON for {path.name}: {exc.msg}", code="bicep_failed"
        ) from None


def _parameters_file(path: Path) -> dict[str, dict[str, Any]]:
    data = _read_json(path, "parameters file")
    params = data.get("parameters", data) if ("$schema" in data or "contentVersion" in data) else data
    if not isinstance(params, dict):
        raise ProvisionError(
            f"parameters file {path}: `parameters` must be an object", code="invalid_parameters"
        )
    return {
        k: (v if isinstance(v, dict) and ("value" in v or "reference" in v) else {"value": v})
        for k, v in params.items()
    }


def _is_reference(value: str) -> bool:
    """A login server or resource id names an existing resource; only plain names are created."""
    return "/" in value or "." in value or ":" in value


def infra_plan(
    manifest: Manifest, env_name: str, template: Path | None = None, parameters: Path | None = None
) -> InfraPlan:
    """--template/--parameters, else the manifest's `infra:`, else the shipped template."""
    config = manifest.environment(env_name).config
    base = manifest.base_dir
    infra = config.infra
    if template is None and infra is not None:
        template = base / infra.template
        if parameters is None and infra.parameters:
            parameters = base / infra.parameters
    shipped = template is None
    template_path = template if template is not None else shipped_infra_dir() / SHIPPED_TEMPLATE
    body = load_template(template_path)
    declared = body.get("parameters") or {}
    values: dict[str, dict[str, Any]] = {}
    if shipped:  # the shipped per-environment sizing, which a parameters file then overrides
        sized = shipped_infra_dir() / f"main.parameters.{env_name}.json"
        if sized.is_file():
            values.update(_parameters_file(sized))
    if parameters is not None:
        values.update(_parameters_file(parameters))
    # What the manifest already says, for parameters the template declares (ARM rejects unknown ones).
    tags = {
        **((values.get("tags") or {}).get("value") or {}),
        "genaiops-app": manifest.name,
        "genaiops-env": env_name,
    }
    if "location" in declared:
        values["location"] = {"value": config.location}
    if "tags" in declared:
        values["tags"] = {"value": tags}
    if "namePrefix" in declared and (shipped or "namePrefix" not in values):
        values["namePrefix"] = {"value": name_prefix(manifest.name)}
    # Names the manifest fixes are the names provisioning creates (else the template generates them).
    for parameter, value in (
        ("registryName", config.registry),
        ("identityName", config.identity),
        ("containerAppsEnvironmentName", config.containerapps_environment),
    ):
        if parameter in declared and parameter not in values and value and not _is_reference(value):
            values[parameter] = {"value": value}
    allowed = (declared.get("environment") or {}).get("allowedValues")
    if "environment" in declared and "environment" not in values and (not allowed or env_name in allowed):
        values["environment"] = {"value": env_name}
    return InfraPlan(
        template=body,
        parameters=values,
        template_path=str(template_path),
        parameters_path=str(parameters) if parameters else None,
        deployment=deployment_name(env_name),
    )


# ------------------------------------------------------------------------------------------------
@dataclass
class ProvisionedState:
    environment: str
    resource_group: str
    deployment: str
    outputs: dict[str, Any] = field(default_factory=dict)  # plain values, no secrets by construction
    provisioned_at: str = ""
    source: str = "azure"  # azure | cache

    @classmethod
    def from_arm_outputs(
        cls,
        environment: str,
        resource_group: str,
        deployment: str,
        outputs: dict[str, Any] | None,
        at: str = "",
    ) -> ProvisionedState:
        plain = {
            k: v.get("value") for k, v in (outputs or {}).items() if isinstance(v, dict) and "value" in v
        }
        return cls(environment, resource_group, deployment, plain, at or _now())

    # what later steps read --------------------------------------------------------------------
    @property
    def registry(self) -> str | None:
        return self.outputs.get("registryLoginServer") or self.outputs.get("registryName")

    @property
    def containerapps_environment(self) -> str | None:
        return self.outputs.get("containerAppsEnvironmentId") or self.outputs.get(
            "containerAppsEnvironmentName"
        )

    @property
    def identity(self) -> str | None:
        return self.outputs.get("identityId")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cache_path(base_dir: Path, env_name: str) -> Path:
    return base_dir / CACHE_DIR / f"{env_name}.json"


def save_cached(base_dir: Path, state: ProvisionedState) -> Path:
    path = cache_path(base_dir, state.environment)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {k: v for k, v in state.to_dict().items() if k != "source"}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def load_cached(base_dir: Path, env_name: str) -> ProvisionedState | None:
    path = cache_path(base_dir, env_name)
    try:
        doc = json.loads(path.read_text())
        return ProvisionedState(
            environment=doc["environment"],
            resource_group=doc["resource_group"],
            deployment=doc["deployment"],
            outputs=dict(doc.get("outputs") or {}),
            provisioned_at=str(doc.get("provisioned_at", "")),
            source="cache",
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def missing_setting(env_name: str, field_name: str) -> ProvisionError:
    """The manifest leaves a placement field out and nothing has been provisioned to supply it."""
    return ProvisionError(
        f"environment {env_name!r} has no `{field_name}`: the manifest leaves it out and no provisioned "
        f"state supplies it",
        hint=f"run `genaiops provision -e {env_name}` or set `{field_name}:` in the manifest",
        code="not_provisioned",
    )


# ------------------------------------------------------------------------------------------------
def _resource_label(resource_id: str) -> str:
    """`Microsoft.X/type/name` from an ARM id (extension resources keep their own type and name)."""
    tail = resource_id.split("/providers/")[-1]
    parts = tail.split("/")
    namespace, rest = parts[0], parts[1:]
    types, names = rest[0::2], rest[1::2]
    return f"{namespace}/{'/'.join(types)}/{'/'.join(names)}"


def what_if_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per resource with its leaf property changes — never the full before/after bodies."""
    from genaiops_cli.core.whatif import flatten_delta

    rows = []
    for change in (result.get("properties") or {}).get("changes") or []:
        rid = str(change.get("resourceId", ""))
        rows.append(
            {
                "resource": _resource_label(rid),
                "resource_id": rid,
                "change": change.get("changeType"),
                "delta": flatten_delta(change.get("delta") or []),
            }
        )
    return rows


def operation_row(op: dict[str, Any]) -> dict[str, Any]:
    props = op.get("properties") or {}
    resource = props.get("targetResource") or {}
    row = {
        "resource": f"{resource.get('resourceType')}/{resource.get('resourceName')}",
        "id": resource.get("id"),
        "state": props.get("provisioningState"),
        "status": props.get("statusCode"),
        "duration": _seconds(str(props.get("duration") or "")),
    }
    error = (props.get("statusMessage") or {}).get("error")
    if error:
        row["error"] = {"code": error.get("code"), "message": error.get("message")}
    return row


def _seconds(duration: str) -> str:
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", duration)
    if not m:
        return duration
    total = int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60 + float(m.group(3) or 0)
    return f"{total:.1f}s"
