"""The typed model of genaiops.yaml v1.

Field-level rules live here (types, patterns, ranges, "exactly one of" inside one object);
rules spanning objects (per-host requirements, cross-references, promotion cycles) live in
rules.py so that they can report precise locations. Every model forbids unknown keys."""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from genaiops_cli.errors import GenAIOpsError, UsageError

MANIFEST_VERSION = 1
MANIFEST_FILENAMES = ("genaiops.yaml", "genaiops.yml")

# Evaluators shipped with genaiops; anything else must be a `package.module:function` reference.
# Names the evaluation engine knows (core/evaluation/evaluators.py; a test keeps the two in step).
BUILTIN_EVALUATORS = (
    "exact_match",
    "token_f1",
    "rouge_l",
    "contains",
    "regex",
    "regex_match",
    "json_valid",
    "json_schema",
    "latency",
    "error_rate",
    "answer_length",
    "safety",
)
# The gate name that means "the service's smoke checks"; every other gate names an evaluation.
SMOKE_GATE = "smoke"

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
ENV_VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
REPOSITORY_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
IMAGE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"
REGISTRY_PATTERN = r"^(?:[a-zA-Z0-9]{5,50}|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+(?::\d+)?)$"
RESOURCE_GROUP_PATTERN = r"^[-\w.()]{0,89}[-\w()]$"
LOCATION_PATTERN = r"^[a-z][a-z0-9]*$"
MEMORY_PATTERN = r"^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?Gi$"
URL_PATH_PATTERN = r"^/"
JSONPATH_PATTERN = r"^\$"
HOSTPORT_PATTERN = r"^(?:\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):[0-9]{1,5}$"
PLATFORM_PATTERN = r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$"
THRESHOLD_PATTERN = r"^\s*(>=|<=|>|<)\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$"
EVALUATOR_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"

# Hints shown when a value does not match one of the patterns above.
PATTERN_HINTS: dict[str, str] = {
    NAME_PATTERN: "2-40 lowercase letters, digits and '-', starting with a letter, e.g. `contoso-support`",
    ENV_VAR_PATTERN: "letters, digits and '_', not starting with a digit, e.g. `LOG_LEVEL`",
    GUID_PATTERN: "a subscription id is a GUID, e.g. `00000000-0000-0000-0000-000000000000` "
    "(or `${AZURE_SUBSCRIPTION_ID}`)",
    REPOSITORY_PATTERN: "lowercase path segments separated by '/', e.g. `contoso/agent` "
    "(no registry host, no tag)",
    IMAGE_PATTERN: "a full image reference, e.g. `mcr.microsoft.com/k8se/quickstart:latest`",
    REGISTRY_PATTERN: "a registry name (5-50 letters/digits, e.g. `crdev`) "
    "or a login server (`crdev.azurecr.io`)",
    RESOURCE_GROUP_PATTERN: "1-90 letters, digits, '-', '_', '.', '(' or ')', "
    "not ending with '.', e.g. `rg-dev`",
    LOCATION_PATTERN: "an Azure region name in lowercase without spaces, e.g. `eastus2`",
    MEMORY_PATTERN: "memory in Gi, e.g. `0.5Gi`, `1Gi`, `2Gi`",
    URL_PATH_PATTERN: "a URL path starting with '/', e.g. `/healthz`",
    JSONPATH_PATTERN: "a JSONPath starting with '$', e.g. `$.answer`",
    HOSTPORT_PATTERN: "`ip:port`, e.g. `127.0.0.1:8443`",
    PLATFORM_PATTERN: "an OCI platform, e.g. `linux/amd64` or `linux/arm64`",
}


def invalid(message: str, hint: str) -> PydanticCustomError:
    """A validation error carrying our own hint (diagnostics.py reads ctx['hint'])."""
    return PydanticCustomError("genaiops_invalid", message, {"hint": hint})


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _pattern(p: str, **kw: Any) -> Any:
    return StringConstraints(pattern=p, **kw)


Name = Annotated[str, _pattern(NAME_PATTERN)]
EnvVarName = Annotated[str, _pattern(ENV_VAR_PATTERN)]
UrlPath = Annotated[str, _pattern(URL_PATH_PATTERN)]


def _jsonpath_syntax(v: str) -> str:
    from genaiops_cli.core.evaluation.jsonpath import JsonPathError, parse

    try:
        parse(v)
    except JsonPathError as e:
        raise invalid(
            str(e), "supported: `$`, `.key`, `['key']`, `[n]`, e.g. `$.answer` or `$.items[0]`"
        ) from None
    return v


# RFC 9110 field-name token; a CR or LF in a name or value would split the request (header injection).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _header_name(v: str) -> str:
    if not _HEADER_NAME.match(v):
        raise invalid(
            f"invalid HTTP header name {v!r}", "letters, digits and !#$%&'*+.^_`|~- only, e.g. `X-Request-Id`"
        )
    return v


def _header_value(v: str) -> str:
    bad = next((c for c in v if c in "\r\n\x00" or (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F), None)
    if bad is not None:
        raise invalid(
            f"HTTP header value contains the control character {bad!r}",
            "remove line breaks and control characters; a header value is one line",
        )
    return v


def _resolve_address(v: str) -> str:
    from genaiops_cli.core.netpolicy import forbidden_target

    host = v.rsplit(":", 1)[0].strip("[]")
    reason = forbidden_target(host)
    if reason:
        raise invalid(
            f"`{v}` is {reason}",
            "resolve: maps names to the service's own endpoints; cloud metadata and link-local "
            "addresses are never a target",
        )
    return v


def _keyvault_url(v: str) -> str:
    from urllib.parse import urlsplit

    hint = "a Key Vault secret URL: https://<vault>.vault.azure.net/secrets/<name>[/<version>]"
    try:
        url = urlsplit(v)
        host = url.hostname or ""
        url.port  # noqa: B018 - raises on a malformed port
    except ValueError as e:
        raise invalid(f"malformed URL: {e}", hint) from None
    if url.username or url.password or url.query or url.fragment or not host:
        raise invalid("a Key Vault secret URL has a host and a path only (no user, query or fragment)", hint)
    if not re.fullmatch(r"/secrets/[0-9A-Za-z-]{1,127}(?:/[0-9A-Za-z]{1,64})?/?", url.path):
        raise invalid(f"`{url.path or '/'}` is not a Key Vault secret path", hint)
    return v


_IDENTITY_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/"
    r"userAssignedIdentities/[A-Za-z0-9][A-Za-z0-9_-]{2,127}$",
    re.IGNORECASE,
)


def _secret_identity(v: str) -> str:
    """`system`, a user-assigned identity's name (Azure: 3-128 letters, digits, `-`, `_`, starting
    alphanumeric) or its resource id."""
    if v == "system" or _IDENTITY_ID.match(v) or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}", v):
        return v
    raise invalid(
        f"`{v}` is not a managed identity",
        "use `system`, a user-assigned identity's name (e.g. id-contoso-prod) or its resource id "
        "(/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)",
    )


JsonPath = Annotated[str, _pattern(JSONPATH_PATTERN), AfterValidator(_jsonpath_syntax)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[StrictStr, AfterValidator(_header_value)]
Headers = dict[HeaderName, HeaderValue]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    # defer_build: no validator is built at import. A fresh load validates once (and builds them then,
    # same cost); a manifest from the cache (cache.py) is unpickled and never validated again.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=False, defer_build=True)


# ---------------------------------------------------------------- services


class Build(_Model):
    """How to build the service's image (docker build semantics)."""

    context: NonEmpty = Field(
        description="Build context directory, relative to the manifest.", examples=["src/agent"]
    )
    dockerfile: NonEmpty = Field("Dockerfile", description="Dockerfile path, relative to the context.")
    args: dict[EnvVarName, StrictStr] = Field(default_factory=dict, description="Build arguments (strings).")
    target: NonEmpty | None = Field(None, description="Multi-stage build target.")
    platform: Annotated[str, _pattern(PLATFORM_PATTERN)] | None = Field(
        None, description="Target platform, e.g. linux/amd64 (default: the builder's)."
    )
    remote: bool = Field(
        False, description="Build in the registry (ACR Tasks) instead of the local Docker engine."
    )


class Ingress(_Model):
    """HTTP ingress of a Container App."""

    port: int = Field(ge=1, le=65535, description="Port the container listens on.", examples=[8080])
    external: bool = Field(True, description="Reachable from outside the environment.")
    health: UrlPath | None = Field(None, description="Path probed for readiness/liveness, e.g. /healthz.")
    transport: Literal["auto", "http", "http2", "tcp"] = Field("http", description="Ingress transport.")


class Resources(_Model):
    """CPU and memory per replica."""

    cpu: float = Field(0.5, description="vCPU cores: 0.25 to 4 in steps of 0.25.", examples=[0.5])
    memory: Annotated[str, _pattern(MEMORY_PATTERN)] = Field(
        "1Gi", description="Memory, e.g. 1Gi. Consumption profiles pair cpu:memory as 1:2 (0.5 → 1Gi)."
    )

    @field_validator("cpu")
    @classmethod
    def _cpu_steps(cls, v: float) -> float:
        if not (0.25 <= v <= 4) or not math.isclose(v * 4, round(v * 4)):
            raise invalid(f"cpu {v} is not allowed", "use 0.25 to 4 in steps of 0.25, e.g. 0.5, 1.0, 1.75")
        return v

    @field_validator("memory")
    @classmethod
    def _memory_positive(cls, v: str) -> str:
        if float(v[:-2]) <= 0:
            raise invalid(f"memory {v} is not allowed", "use a positive size, e.g. 1Gi")
        return v


class Scale(_Model):
    """Replica bounds."""

    min_replicas: int = Field(1, ge=0, le=1000, description="Minimum replicas (0 allows scale to zero).")
    max_replicas: int = Field(10, ge=1, le=1000, description="Maximum replicas.")

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min_replicas > self.max_replicas:
            raise invalid(
                f"min_replicas ({self.min_replicas}) is greater than max_replicas ({self.max_replicas})",
                "make min_replicas <= max_replicas",
            )
        return self


class SecretRef(_Model):
    """A secret resolved at deploy time; its value never appears in the manifest or the output."""

    keyvault: Annotated[str, _pattern(r"^https://"), AfterValidator(_keyvault_url)] = Field(
        description="Key Vault secret URL.", examples=["https://kv-dev.vault.azure.net/secrets/openai-key"]
    )
    identity: Annotated[str, AfterValidator(_secret_identity)] | None = Field(
        None,
        description="Managed identity the platform reads it with: a user-assigned identity's name or "
        "resource id, or `system` (default: the environment's identity, else the app's system-assigned "
        "one). It needs the Key Vault Secrets User role on the vault.",
    )


class SmokeRequest(_Model):
    """An HTTP request sent to the service."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field("GET")
    path: UrlPath = Field(description="Request path, e.g. /chat.")
    headers: Headers = Field(default_factory=dict)
    json_: Any = Field(None, alias="json", description="JSON body.")
    body: StrictStr | None = Field(None, description="Raw text body (instead of json).")

    @model_validator(mode="after")
    def _one_body(self) -> SmokeRequest:
        if self.json_ is not None and self.body is not None:
            raise invalid(
                "both `json` and `body` are set", "keep one: `json` for a JSON body, `body` for raw text"
            )
        return self


class JsonMatcher(_Model):
    """One expectation on a JSONPath: exactly one of equals, contains, regex, exists."""

    equals: Any = None
    contains: StrictStr | None = None
    regex: StrictStr | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> JsonMatcher:
        given = [k for k in ("equals", "contains", "regex", "exists") if k in self.model_fields_set]
        if len(given) != 1:
            raise invalid(
                f"expected exactly one of equals, contains, regex, exists; got {', '.join(given) or 'none'}",
                'e.g. `{contains: "5 business days"}`',
            )
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise invalid(f"invalid regular expression: {e}", "check the regex (Python syntax)") from None
        return self


class Expect(_Model):
    """What a passing response looks like."""

    status: int = Field(200, ge=100, le=599)
    max_ms: int | None = Field(None, gt=0, description="Latency budget in milliseconds.")
    json_: dict[JsonPath, JsonMatcher] = Field(
        default_factory=dict, alias="json", description="JSONPath → matcher."
    )
    headers: Headers = Field(default_factory=dict, description="Header → exact value.")


class SmokeCheck(_Model):
    name: NonEmpty
    request: SmokeRequest
    expect: Expect = Field(default_factory=Expect)


Connection = Literal["foundry.project_endpoint", "foundry.model_deployment", "app_insights.connection_string"]
AgentProtocol = Literal[
    "responses",
    "invocations",
    "invocations_ws",
    "a2a",
    "mcp",
    "activity",
    "voice",
    "voice_conversation_engine",
]


class FoundryAgent(_Model):
    """Settings of a hosted agent in Azure AI Foundry Agent Service (host: foundry-agent)."""

    name: Name | None = Field(None, description="Agent name (default: the service name).")
    model: NonEmpty | None = Field(
        None,
        description="Model deployment the agent calls (default: the environment's provisioned one); "
        "the container reads it from AZURE_AI_MODEL_DEPLOYMENT_NAME.",
        examples=["gpt-4o-mini"],
    )
    protocols: dict[AgentProtocol, Annotated[str, _pattern(r"^v?\d+(\.\d+)*$")]] = Field(
        default_factory=lambda: {"responses": "v0.1.1"},
        description="Protocols the container serves on port 8088, with their versions. Smoke checks "
        "and evaluations reach the agent through `responses`.",
        examples=[{"responses": "v0.1.1"}],
    )


JOB_HOST = "containerapp-job"
# Bounds genaiops checks at validate time. The REST spec types these as plain integers; the bounds are
# deliberately conservative (a day per replica, ten retries, a hundred replicas per execution) so that a
# typo fails at `validate` rather than as a surprise bill, and can be raised when a user needs more.
MAX_REPLICA_TIMEOUT = 86400
MAX_RETRY_LIMIT = 10
MAX_PARALLELISM = 100


def _cron_syntax(v: str) -> str:
    from genaiops_cli.core import cron

    problem = cron.check(v)
    if problem:
        raise invalid(
            f"cron `{v}`: {problem}", "5 fields, minute hour day month weekday, in UTC; " + cron.EXAMPLES
        )
    return v


class EventScale(_Model):
    """How an event-driven job scales executions (eventTriggerConfig.scale, KEDA rules)."""

    min_executions: int = Field(0, ge=0, le=MAX_PARALLELISM, description="Executions kept running at least.")
    max_executions: int = Field(10, ge=1, le=MAX_PARALLELISM, description="Executions started at most.")
    polling_interval: int = Field(30, ge=1, le=3600, description="Seconds between checks of the rules.")
    rules: list[dict[str, Any]] = Field(
        min_length=1,
        description="KEDA scale rules in the REST shape, e.g. "
        "`{name: queue, type: azure-queue, metadata: {queueName: jobs, queueLength: '1'}}`.",
    )


class JobTrigger(_Model):
    """When a `host: containerapp-job` service runs (configuration.triggerType and its config)."""

    type: Literal["manual", "schedule", "event"] = Field(
        description="`manual` (genaiops job run / az containerapp job start), `schedule` (cron), "
        "or `event` (scale rules)."
    )
    cron: Annotated[str, AfterValidator(_cron_syntax)] | None = Field(
        None, description="Required for `schedule`: 5-field cron in UTC.", examples=["0 2 * * *"]
    )
    parallelism: int = Field(1, ge=1, le=MAX_PARALLELISM, description="Replicas run at once per execution.")
    completions: int = Field(
        1, ge=1, le=MAX_PARALLELISM, description="Replicas that must succeed for an execution to succeed."
    )
    replica_timeout: int = Field(
        1800, ge=1, le=MAX_REPLICA_TIMEOUT, description="Seconds a replica may run before it is stopped."
    )
    retry_limit: int = Field(0, ge=0, le=MAX_RETRY_LIMIT, description="Retries of a failed replica.")
    event: EventScale | None = Field(None, description="Required for `event`: scale rules.")

    @model_validator(mode="after")
    def _consistent(self) -> JobTrigger:
        if self.type == "schedule" and not self.cron:
            raise invalid("a `schedule` trigger needs `cron`", 'add e.g. `cron: "0 2 * * *"` (UTC)')
        if self.type != "schedule" and self.cron:
            raise invalid(
                f"`cron` only applies to `type: schedule` (this trigger is {self.type})",
                "set `type: schedule`, or remove `cron`",
            )
        if self.type == "event" and self.event is None:
            raise invalid("an `event` trigger needs `event: {rules: [...]}`", "add the KEDA scale rules")
        if self.type != "event" and self.event is not None:
            raise invalid(f"`event` only applies to `type: event` (this trigger is {self.type})", "remove it")
        if self.completions < self.parallelism:
            raise invalid(
                f"completions ({self.completions}) is less than parallelism ({self.parallelism})",
                "an execution runs `parallelism` replicas at once until `completions` succeeded; "
                "make completions >= parallelism",
            )
        return self


class Service(_Model):
    """One deployable unit: an image plus how it is hosted."""

    build: Build | None = Field(None, description="Build from source (exactly one of build/image).")
    image: Annotated[str, _pattern(IMAGE_PATTERN)] | None = Field(
        None, description="A prebuilt image reference (exactly one of build/image)."
    )
    repository: Annotated[str, _pattern(REPOSITORY_PATTERN)] | None = Field(
        None,
        description="Repository in the environment's registry (required with build).",
        examples=["contoso/agent"],
    )
    host: Literal["containerapp", "foundry-agent", "containerapp-job"] = Field(
        "containerapp",
        description="Where the service runs: a Container App, a Foundry hosted agent, or a Container "
        "Apps job (`containerapp-job`: runs to completion, manually, on a cron schedule or on events).",
    )
    ingress: Ingress | None = Field(None, description="Required for host: containerapp.")
    resources: Resources = Field(default_factory=Resources)
    scale: Scale = Field(default_factory=Scale)
    env: dict[EnvVarName, StrictStr] = Field(
        default_factory=dict, description="Environment variables (strings)."
    )
    secrets: dict[EnvVarName, SecretRef] = Field(
        default_factory=dict,
        description="Secret environment variables, as Key Vault references: each becomes a Container "
        "Apps secret `{name, keyVaultUrl, identity}` (its name is the variable's, lower-case, `_` → `-`) "
        "and the variable reads it by `secretRef`. genaiops never reads the value.",
    )
    smoke: list[SmokeCheck] = Field(
        default_factory=list, description="Smoke checks run after each deployment."
    )
    telemetry: bool = Field(
        True,
        description="Give the app its environment's Application Insights connection string (Container "
        "Apps secret `appinsights-connection-string`, env var APPLICATIONINSIGHTS_CONNECTION_STRING). "
        "`false` opts out.",
    )
    agent: FoundryAgent | None = Field(None, description="Required for host: foundry-agent.")
    trigger: JobTrigger | None = Field(None, description="Required for host: containerapp-job.")
    connections: dict[EnvVarName, Connection] = Field(
        default_factory=dict,
        description="Environment variable → a value of this environment's provisioned resources "
        "(`genaiops provision` outputs), e.g. `AZURE_AI_PROJECT_ENDPOINT: foundry.project_endpoint`.",
        examples=[
            {
                "AZURE_AI_PROJECT_ENDPOINT": "foundry.project_endpoint",
                "AZURE_AI_MODEL_DEPLOYMENT_NAME": "foundry.model_deployment",
            }
        ],
    )

    @model_validator(mode="after")
    def _image_source(self) -> Service:
        if (self.build is None) == (self.image is None):
            raise invalid(
                "exactly one of `build` or `image` is required"
                + (" (both are set)" if self.build is not None else ""),
                "use `build: {context: src/agent}` with `repository:`, or `image: <reference>`",
            )
        return self


# ---------------------------------------------------------------- evaluations


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Threshold:
    """A pass condition such as `>= 0.70`."""

    op: str
    value: float

    def passes(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def _parse_threshold(v: Any) -> Threshold:
    if isinstance(v, Threshold):
        return v
    if isinstance(v, str) and re.match(THRESHOLD_PATTERN, v):
        text = v.strip()
        op = text[:2] if text[:2] in (">=", "<=") else text[0]
        return Threshold(op, float(text[len(op) :]))
    example = f'">= {v}"' if isinstance(v, (int, float)) and not isinstance(v, bool) else '">= 0.70"'
    raise invalid(f"threshold {v!r} is not `<op> <number>`", f"write it as a quoted string, e.g. {example}")


ThresholdSpec = Annotated[
    Threshold,
    PlainValidator(_parse_threshold),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": THRESHOLD_PATTERN, "examples": [">= 0.70", "<= 1500"]}),
]


class EvaluatorSpec(BaseModel):
    """An evaluator: a built-in name or `package.module:function`, with free-form options."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    name: str

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v in BUILTIN_EVALUATORS or re.match(EVALUATOR_REF_PATTERN, v):
            return v
        close = did_you_mean(v, BUILTIN_EVALUATORS)
        hint = f"did you mean `{close}`? " if close else ""
        raise invalid(
            f"unknown evaluator `{v}`",
            hint + f"built-ins: {', '.join(BUILTIN_EVALUATORS)}; or a custom `package.module:function`",
        )

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _evaluator_shorthand(v: Any) -> Any:
    return {"name": v} if isinstance(v, str) else v


Evaluator = Annotated[
    EvaluatorSpec,
    BeforeValidator(_evaluator_shorthand, json_schema_input_type=str | EvaluatorSpec),
]


class EvalRequest(SmokeRequest):
    """The request sent per dataset row; `{{column}}` placeholders are filled from the row."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field("POST")


class Baseline(_Model):
    """A/B comparison against the live side during blue/green."""

    label: NonEmpty = Field("blue", description="Revision label used as the baseline.")
    max_regression: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="Metric → largest allowed drop versus the baseline."
    )
    confidence: float = Field(0.95, gt=0, lt=1, description="Confidence level of the comparison.")


class EvalBatch(_Model):
    """Run the evaluation as a Container Apps Job execution in the environment (`eval --batch`)."""

    shards: int = Field(
        4, ge=1, le=64, description="Dataset shards = job replicas running in parallel (1..64)."
    )


class Evaluation(_Model):
    """An offline evaluation of one service against a dataset."""

    service: NonEmpty = Field(description="Name of the service evaluated.")
    dataset: NonEmpty = Field(
        description="Dataset file (.jsonl or .csv), relative to the manifest; or a pushed dataset "
        "`foundry:NAME@VERSION` / `foundry:NAME@latest` (`genaiops data push`; latest is resolved "
        "when the evaluation runs and the version used is recorded in its evidence)."
    )
    request: EvalRequest
    response: JsonPath | None = Field(
        None, description="JSONPath of the answer in the response (default: the body)."
    )
    expected: StrictStr | None = Field(None, description="Expected answer template, e.g. {{answer}}.")
    evaluators: list[Evaluator] = Field(min_length=1)
    thresholds: dict[str, ThresholdSpec] = Field(
        default_factory=dict, description='Metric → "<op> <number>".'
    )
    baseline: Baseline | None = None
    dry_run: bool = Field(False, description="Compute metrics without failing the gate.")
    batch: EvalBatch | None = Field(
        None,
        description="Run `genaiops eval -e ENV` of this evaluation as a batch job in the environment "
        "(docs/data-and-batch.md); the calls are sharded across job replicas.",
    )

    @field_validator("dataset")
    @classmethod
    def _dataset_kind(cls, v: str) -> str:
        if v.startswith("foundry:"):
            from genaiops_cli.core.datasets import parse_ref

            try:
                parse_ref(v, default_latest=False)
            except GenAIOpsError as exc:
                raise invalid(exc.message, exc.hint or "e.g. `foundry:qa-set@latest`") from None
            return v
        if not v.lower().endswith((".jsonl", ".csv")):
            raise invalid(f"dataset {v!r} is neither .jsonl nor .csv", "e.g. `data/eval.jsonl`")
        return v


# ---------------------------------------------------------------- monitoring

MONITOR_METRICS = (
    "Requests",
    "ResponseTime",
    "RestartCount",
    "Replicas",
    "CpuPercentage",
    "MemoryPercentage",
)
MONITOR_DIMENSIONS = ("revisionName", "podName", "statusCodeCategory", "statusCode")
WINDOWS = {
    "1m": "PT1M",
    "5m": "PT5M",
    "15m": "PT15M",
    "30m": "PT30M",
    "1h": "PT1H",
    "6h": "PT6H",
    "12h": "PT12H",
    "1d": "P1D",
}
FREQUENCIES = {"1m": "PT1M", "5m": "PT5M", "15m": "PT15M", "30m": "PT30M", "1h": "PT1H"}
LOG_FREQUENCIES = {**FREQUENCIES, "6h": "PT6H", "12h": "PT12H", "1d": "P1D"}
AlertName = Annotated[str, _pattern(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class Webhook(_Model):
    """An action-group webhook receiver."""

    name: NonEmpty
    url: Annotated[str, _pattern(r"^https?://")] = Field(description="Where Azure Monitor POSTs the alert.")
    common_schema: bool = Field(True, description="Send the common alert schema (recommended).")


class Email(_Model):
    """An action-group email receiver."""

    name: NonEmpty
    address: Annotated[str, _pattern(r"^[^@\s]+@[^@\s]+$")]
    common_schema: bool = Field(True, description="Send the common alert schema.")


class ActionGroup(_Model):
    """Who hears about an alert (Microsoft.Insights/actionGroups)."""

    short_name: Annotated[str, StringConstraints(min_length=1, max_length=12)] | None = Field(
        None, description="Shown in SMS/email (at most 12 characters; default: the group name cut to 12)."
    )
    enabled: bool = True
    webhooks: list[Webhook] = Field(default_factory=list)
    emails: list[Email] = Field(default_factory=list)


class MetricAlert(_Model):
    """A metric alert on one service's Container App (Microsoft.Insights/metricAlerts, static threshold)."""

    service: NonEmpty = Field(description="Service whose Container App is watched.")
    metric: Literal[MONITOR_METRICS] = Field(  # type: ignore[valid-type]
        description="Container Apps platform metric, e.g. `Requests` or `ResponseTime`."
    )
    aggregation: Literal["Total", "Average", "Count", "Minimum", "Maximum"] = Field(
        "Total", description="Time aggregation over the window."
    )
    where: dict[Literal[MONITOR_DIMENSIONS], NonEmpty | list[NonEmpty]] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Dimension filters, e.g. `{statusCodeCategory: 5xx}`; `*` splits by the dimension.",
    )
    threshold: ThresholdSpec = Field(description='Fires when the aggregated value is "<op> <number>".')
    window: Literal[tuple(WINDOWS)] = Field("5m", description="Look-back window.")  # type: ignore[valid-type]
    frequency: Literal[tuple(FREQUENCIES)] = Field("1m", description="How often Azure evaluates.")  # type: ignore[valid-type]
    severity: int = Field(3, ge=0, le=4, description="0 (critical) … 4 (verbose).")
    description: str = ""
    enabled: bool = True
    action_groups: list[NonEmpty] = Field(default_factory=list, description="Names under `action_groups`.")


class LogAlert(_Model):
    """A scheduled log-query alert (Microsoft.Insights/scheduledQueryRules): your own KQL (`query` +
    `threshold`) over the service's Container App logs, or a failed-request share (`error_rate`) over
    its Application Insights requests."""

    service: NonEmpty = Field(description="Service whose logs (or requests) are watched.")
    query: NonEmpty | None = Field(
        None, description="KQL; the alert counts its rows (or aggregates `measure`). Needs `threshold`."
    )
    measure: NonEmpty | None = Field(None, description="Column aggregated instead of counting rows.")
    aggregation: Literal["Count", "Total", "Average", "Minimum", "Maximum"] = "Count"
    threshold: ThresholdSpec | None = Field(None, description='With `query`: "<op> <number>".')
    error_rate: ThresholdSpec | None = Field(
        None,
        description="Instead of `query`: fires when the share of failed requests (0..1) of the service in "
        'Application Insights is "<op> <number>" over the window, e.g. "> 0.05".',
    )
    min_requests: int = Field(
        10, ge=1, description="With `error_rate`: fewer requests in the window never fire (too little data)."
    )
    app_insights: NonEmpty | None = Field(
        None,
        description="With `error_rate`: the Application Insights component the service reports to (its "
        "name in the environment's resource group, e.g. provision's `appInsightsName` output, or its id).",
    )
    window: Literal[tuple(WINDOWS)] = "5m"  # type: ignore[valid-type]
    frequency: Literal[tuple(LOG_FREQUENCIES)] = "5m"  # type: ignore[valid-type]
    severity: int = Field(3, ge=0, le=4)
    description: str = ""
    enabled: bool = True
    action_groups: list[NonEmpty] = Field(default_factory=list)


class Monitor(_Model):
    """Alert rules and action groups of an environment, applied by `genaiops monitor apply`."""

    apply_on: list[Literal["provision", "promote"]] = Field(
        default_factory=list,
        description="Also apply them at the end of these commands: `provision` (after the ARM "
        "deployment) and `promote` (after the release is live).",
    )
    action_groups: dict[Name, ActionGroup] = Field(default_factory=dict)
    alerts: dict[AlertName, MetricAlert] = Field(default_factory=dict, description="Metric alerts by name.")
    log_alerts: dict[AlertName, LogAlert] = Field(
        default_factory=dict, description="Log-query alerts by name."
    )


DURATION_PATTERN = r"^[0-9]+(?:s|m)$"


def duration_seconds(text: str) -> int:
    """`30s` / `5m` → seconds."""
    return int(text[:-1]) * (60 if text.endswith("m") else 1)


Duration = Annotated[str, _pattern(DURATION_PATTERN)]


class CanaryStep(_Model):
    """One step: send `weight` % to the canary, then analyse for `pause`."""

    weight: int = Field(ge=1, le=99, description="Percent of traffic on the canary during this step.")
    pause: Duration = Field(
        "60s", description="How long the step lasts (analysed every `interval`), e.g. `30s`, `5m`."
    )


class CanaryAnalysis(_Model):
    """Canary versus stable, from the platform metrics per revision (Requests, 5xx, ResponseTime)."""

    interval: Duration = Field("30s", description="How often the analysis runs within a step.")
    min_requests: int = Field(20, ge=1, description="Fewer canary requests than this is inconclusive.")
    max_error_rate: float = Field(0.05, ge=0, le=1, description="Largest 5xx share the canary may show.")
    max_error_rate_increase: float = Field(
        0.02, ge=0, le=1, description="Largest 5xx share above the stable revision's."
    )
    max_latency_ratio: float | None = Field(
        None, gt=0, description="Largest canary/stable mean response time ratio (none: not checked)."
    )
    min_quality: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Lowest mean live answer quality (the `answer_quality` metric in Application Insights).",
    )
    max_quality_drop: float | None = Field(
        None, ge=0, le=1, description="Largest drop of the canary's mean answer quality below stable's."
    )
    min_quality_samples: int = Field(
        5, ge=1, description="Fewer quality samples on a side than this: the quality checks wait."
    )
    app_insights: NonEmpty | None = Field(
        None,
        description="The Application Insights component the service reports to (name in the environment's "
        "resource group, or id); needed by the quality checks.",
    )


class Canary(_Model):
    """Progressive delivery of the staged revision instead of a one-shot swap (promote/swap with
    `strategy: canary`, or `genaiops canary`)."""

    steps: list[CanaryStep] = Field(
        min_length=1, description="Weights in increasing order; 100 % comes after the last."
    )
    analysis: CanaryAnalysis = Field(default_factory=CanaryAnalysis)


class Watch(_Model):
    """After a release goes live (promote, swap, or `genaiops watch`), keep analysing it for
    `duration` and roll back when it fails."""

    duration: Duration = Field("5m", description="How long to watch, e.g. `5m`.")
    analysis: CanaryAnalysis = Field(
        default_factory=CanaryAnalysis,
        description="Same checks as a canary, on the live revision alone (error rate; no comparison).",
    )


# ---------------------------------------------------------------- environments


class Infra(_Model):
    """The infrastructure-as-code `genaiops provision` deploys for an environment."""

    template: NonEmpty = Field(
        description="ARM JSON (or .bicep, compiled with the bicep CLI) template, relative to this file."
    )
    parameters: NonEmpty | None = Field(
        None, description="ARM parameters file (JSON), relative to this file."
    )


class Environment(_Model):
    """Where and how services are deployed."""

    cloud: Literal["sandbox", "azure"] = Field(
        "azure", description="`azure` (the Azure cloud named by `azure_cloud`) or the local `sandbox`."
    )
    azure_cloud: Literal["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"] = Field(
        "AzureCloud",
        description="Which Azure cloud `cloud: azure` means, by the names of `az cloud list` and azd's "
        "`cloud.name`: sign-in authority, ARM endpoint and token audiences follow from it.",
    )
    subscription: Annotated[str, _pattern(GUID_PATTERN)] = Field(description="Subscription id (GUID).")
    resource_group: Annotated[str, _pattern(RESOURCE_GROUP_PATTERN)]
    location: Annotated[str, _pattern(LOCATION_PATTERN)] = Field(examples=["eastus2"])
    registry: Annotated[str, _pattern(REGISTRY_PATTERN)] | None = Field(
        None,
        description="Registry name or login server (default: the one `genaiops provision` created).",
    )
    containerapps_environment: NonEmpty | None = Field(
        None,
        description="Managed environment name or resource id (default: the provisioned one).",
    )
    connected_environment: NonEmpty | None = Field(
        None,
        description="Connected environment (Azure Arc) name or resource id; alternative to the managed one.",
    )
    foundry_project: Annotated[str, _pattern(r"^https://")] | None = Field(
        None,
        description="Foundry project endpoint for host: foundry-agent services (default: the "
        "provisioned one).",
        examples=["https://contoso-ai.services.ai.azure.com/api/projects/contoso-dev"],
    )
    identity: NonEmpty | None = Field(
        None,
        description="User-assigned managed identity used to pull images (default: the provisioned one).",
    )
    infra: Infra | None = Field(
        None, description="ARM template provisioning this environment (default: the shipped one)."
    )
    strategy: Literal["direct", "bluegreen", "canary"] = Field(
        "direct",
        description="`direct`: a deploy goes live at once; `bluegreen`: it is staged at 0 % and a swap "
        "moves 100 %; `canary`: staged like bluegreen, then promote/swap move it through `canary.steps` "
        "with analysis.",
    )
    keep_previous: int = Field(1, ge=0, le=20, description="Previous revisions kept for rollback.")
    promote_from: Name | None = Field(None, description="Environment whose releases are promoted here.")
    gates: list[NonEmpty] = Field(default_factory=list, description='"smoke" or names of evaluations.')
    resolve: dict[NonEmpty, Annotated[str, _pattern(HOSTPORT_PATTERN), AfterValidator(_resolve_address)]] = (
        Field(default_factory=dict, description='Host pattern → "ip:port" (split DNS, the sandbox).')
    )
    canary: Canary | None = Field(
        None,
        description="Canary steps and analysis: run by promote/swap with `strategy: canary`; by "
        "`genaiops canary` by hand with `strategy: bluegreen`.",
    )
    watch: Watch | None = Field(
        None, description="Post-release watch run by promote/swap after the swap (and `genaiops watch`)."
    )
    monitor: Monitor | None = Field(
        None, description="Alert rules and action groups (`genaiops monitor apply`)."
    )
    services: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-service overrides: any service field, deep-merged "
        "(mappings merge key by key; lists and scalars replace; null clears).",
    )


# ---------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class ResolvedEnvironment:
    """One environment with its overrides applied."""

    name: str
    config: Environment
    services: dict[str, Service]
    gates: tuple[str, ...]
    gate_evaluations: dict[str, Evaluation] = field(default_factory=dict)
    # The provisioned Application Insights connection string, as a reference
    # (`<componentId>#properties.ConnectionString`); None when the environment has none.
    telemetry: str | None = None

    def effective_config(self) -> dict[str, Any]:
        """The merged configuration as plain JSON-able data (used by `config show`)."""
        env = self.config.model_dump(mode="json", by_alias=True, exclude={"services"})
        return {
            "environment": self.name,
            **env,
            "services": {n: s.model_dump(mode="json", by_alias=True) for n, s in self.services.items()},
        }


class Manifest(_Model):
    """genaiops.yaml, version 1."""

    model_config = ConfigDict(
        title="genaiops manifest",
        json_schema_extra={
            "description": "genaiops.yaml v1: services, evaluations and environments of a GenAI app."
        },
    )

    version: Literal[1] = Field(description="Format version; must be 1.")
    name: Name = Field(description="Application name.", examples=["contoso-support"])
    services: dict[Name, Service] = Field(min_length=1, description="Services by name.")
    evaluations: dict[Annotated[str, _pattern(NAME_PATTERN)], Evaluation] = Field(
        default_factory=dict, description="Evaluations by name."
    )
    environments: dict[Name, Environment] = Field(min_length=1, description="Environments by name.")

    _path: Path = PrivateAttr(default=Path("genaiops.yaml"))
    _resolved: dict[str, ResolvedEnvironment] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        """Relative paths in the manifest (build contexts, datasets) are relative to this."""
        return self._path.parent

    def environment(self, name: str) -> ResolvedEnvironment:
        if name not in self.environments:
            known = list(self.environments)
            close = did_you_mean(name, known)
            raise UsageError(
                f"unknown environment `{name}`",
                hint=(f"did you mean `{close}`? " if close else "")
                + f"environments in {self._path}: {', '.join(known)}",
                code="unknown_environment",
            )
        if name not in self._resolved:
            self._resolved[name] = resolve_environment(self, name)
        return self._resolved[name]

    def summary(self) -> dict[str, Any]:
        envs = {
            n: {
                "cloud": e.cloud,
                "strategy": e.strategy,
                "promote_from": e.promote_from,
                "gates": list(e.gates),
            }
            for n, e in self.environments.items()
        }
        return {
            "name": self.name,
            "version": self.version,
            "path": str(self._path),
            "services": {n: {"host": s.host, "smoke_checks": len(s.smoke)} for n, s in self.services.items()},
            "evaluations": sorted(self.evaluations),
            "environments": envs,
            "promotion_chains": promotion_chains(self),
            "counts": {
                "services": len(self.services),
                "evaluations": len(self.evaluations),
                "environments": len(self.environments),
                "smoke_checks": sum(len(s.smoke) for s in self.services.values()),
                "gates": sum(len(e.gates) for e in self.environments.values()),
            },
        }


def deep_merge(base: Any, override: Any) -> Any:
    """The override rule: mappings merge key by key, everything else (lists, scalars, null) replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return override


def resolve_environment(manifest: Manifest, name: str) -> ResolvedEnvironment:
    env = manifest.environments[name]
    services: dict[str, Service] = {}
    for svc_name, svc in manifest.services.items():
        override = env.services.get(svc_name)
        if override:
            raw = deep_merge(svc.model_dump(by_alias=True, exclude_unset=True), override)
            services[svc_name] = Service.model_validate(raw)
        else:
            services[svc_name] = svc
    gate_evals = {g: manifest.evaluations[g] for g in env.gates if g in manifest.evaluations}
    return ResolvedEnvironment(name, env, services, tuple(env.gates), gate_evals)


def promotion_chains(manifest: Manifest) -> list[list[str]]:
    """Environments ordered along promote_from, one list per chain root (e.g. dev → staging → prod)."""
    children: dict[str, list[str]] = {}
    roots = []
    for n, e in manifest.environments.items():
        if e.promote_from and e.promote_from in manifest.environments:
            children.setdefault(e.promote_from, []).append(n)
        else:
            roots.append(n)
    chains: list[list[str]] = []

    def walk(node: str, chain: list[str]) -> None:
        kids = children.get(node, [])
        if not kids:
            chains.append(chain)
        for k in kids:
            if k not in chain:
                walk(k, chain + [k])

    for r in roots:
        walk(r, [r])
    return chains
