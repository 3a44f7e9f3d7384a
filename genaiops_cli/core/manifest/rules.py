"""Rules that span fields or objects: per-host requirements, cross-references, promotion
cycles. Each returns located issues; none stops at the first problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genaiops_cli.core.app_secrets import TELEMETRY_CONNECTION, TELEMETRY_ENV, name_problem, secret_name
from genaiops_cli.core.manifest.diagnostics import Locator
from genaiops_cli.core.manifest.model import SMOKE_GATE, Environment, Evaluation, Service, did_you_mean
from genaiops_cli.core.manifest.named_files import named_files
from genaiops_cli.core.manifest.named_files import problems as file_problems
from genaiops_cli.errors import ManifestIssue


def _suggest(word: str, choices: list[str], what: str) -> str:
    close = did_you_mean(word, choices)
    listed = ", ".join(choices) if choices else "none defined"
    return (f"did you mean `{close}`? " if close else "") + f"{what}: {listed}"


JOB_HOST = "containerapp-job"  # model.JOB_HOST (a test keeps the two equal)


def service_rules(svc: Service, at: Locator) -> list[ManifestIssue]:
    out = []
    if svc.host == "containerapp" and svc.ingress is None:
        out.append(
            at.issue(
                ("ingress",),
                "missing required key `ingress` (required for host: containerapp)",
                "add `ingress: {port: 8080, health: /healthz}`",
            )
        )
    if svc.host == "foundry-agent" and svc.agent is None:
        out.append(
            at.issue(
                ("agent",),
                "missing required key `agent` (required for host: foundry-agent)",
                "add `agent: {model: gpt-4o-mini}`",
            )
        )
    if svc.host not in ("foundry-agent", JOB_HOST) and svc.agent is not None:
        out.append(
            at.issue(
                ("agent",),
                "`agent` only applies to host: foundry-agent",
                "remove it, or set `host: foundry-agent`",
                at_key=True,
            )
        )
    if svc.host == "foundry-agent" and svc.ingress is not None:
        out.append(
            at.issue(
                ("ingress",),
                "`ingress` only applies to host: containerapp",
                "remove it; Foundry exposes the agent",
                at_key=True,
            )
        )
    if svc.host == "foundry-agent":
        out += _hosted_agent_rules(svc, at)
    out += _job_rules(svc, at)
    out += _connection_rules(svc, at)
    if svc.build is not None and svc.repository is None:
        out.append(
            at.issue(
                ("repository",),
                "missing required key `repository` (required with `build`)",
                "add the repository to push to, e.g. `repository: contoso/agent`",
            )
        )
    out += _secret_rules(svc, at)
    seen: dict[str, int] = {}
    for i, check in enumerate(svc.smoke):
        if check.name in seen:
            out.append(
                at.issue(
                    ("smoke", i, "name"),
                    f"duplicate smoke check name `{check.name}` (also smoke[{seen[check.name]}])",
                    "give each smoke check its own name",
                )
            )
        seen.setdefault(check.name, i)
    return out


def _job_rules(svc: Service, at: Locator) -> list[ManifestIssue]:
    """A Container Apps job runs to completion: no ingress, no replicas kept up, no smoke endpoint."""
    out = []
    if svc.host != JOB_HOST:
        if svc.trigger is not None:
            out.append(
                at.issue(
                    ("trigger",),
                    f"`trigger` only applies to host: {JOB_HOST}",
                    f"remove it, or set `host: {JOB_HOST}`",
                    at_key=True,
                )
            )
        return out
    if svc.trigger is None:
        out.append(
            at.issue(
                ("trigger",),
                f"missing required key `trigger` (required for host: {JOB_HOST})",
                'add `trigger: {type: schedule, cron: "0 2 * * *"}` or `trigger: {type: manual}`',
            )
        )
    why = {
        "ingress": "a job has no ingress: it runs to completion and serves no requests",
        "scale": "a job runs `trigger.parallelism` replicas per execution; it keeps none running",
        "smoke": "smoke checks send HTTP requests, and a job has no endpoint to send them to",
        "agent": "`agent` only applies to host: foundry-agent",
        "secrets": "this version of genaiops does not pass Key Vault secrets to a job yet "
        "(the job would run without them)",
        "telemetry": "this version of genaiops does not wire Application Insights into a job yet",
    }
    hints = {
        "ingress": "remove `ingress`; use `host: containerapp` for a service that answers requests",
        "scale": "remove `scale`; set `trigger.parallelism` / `trigger.completions` instead",
        "smoke": "remove `smoke`; check a run with `genaiops job run --wait` (its exit code is the run's)",
        "agent": "remove it",
        "secrets": "remove `secrets:` and read the secret at run time with the job's managed identity",
        "telemetry": "remove `telemetry:`; the job's console output is in `genaiops job logs`",
    }
    for name, connection in svc.connections.items():
        if connection == TELEMETRY_CONNECTION:
            out.append(
                at.issue(
                    ("connections", name),
                    "app_insights.connection_string is a secret, and this version of genaiops does not "
                    "pass secrets to a job yet",
                    "leave it out; the job's console output is in `genaiops job logs`",
                )
            )
    for key, message in why.items():
        if key in svc.model_fields_set and getattr(svc, key):
            out.append(
                at.issue(
                    (key,),
                    f"`{key}` does not apply to host: {JOB_HOST}: {message}",
                    hints[key],
                    at_key=True,
                )
            )
    return out


def _connection_rules(svc: Service, at: Locator) -> list[ManifestIssue]:
    out = []
    for name, connection in svc.connections.items():
        if name in svc.env or name in svc.secrets:
            out.append(
                at.issue(
                    ("connections", name),
                    f"`{name}` is set by both `connections` and `{'env' if name in svc.env else 'secrets'}`",
                    "keep one of them",
                    at_key=True,
                )
            )
        if connection == TELEMETRY_CONNECTION and svc.host == "foundry-agent":
            out.append(
                at.issue(
                    ("connections", name),
                    "app_insights.connection_string cannot be passed to a hosted agent: its definition "
                    "holds plain values only (the secret would be stored in clear), and Foundry injects "
                    "APPLICATIONINSIGHTS_CONNECTION_STRING itself from the project's connected "
                    "Application Insights",
                    "leave it out and connect Application Insights to the Foundry project",
                )
            )
        elif connection == TELEMETRY_CONNECTION and not svc.telemetry:
            out.append(
                at.issue(
                    ("connections", name),
                    "app_insights.connection_string needs telemetry, which this service turns off",
                    "remove `telemetry: false`, or this connection",
                )
            )
    return out


def _secret_rules(svc: Service, at: Locator) -> list[ManifestIssue]:
    """Each Key Vault reference becomes a Container Apps secret: its name must be one Azure accepts
    and no two variables may share one (checked here, not by a failed deploy)."""
    out = []
    if svc.host != "containerapp":
        return out  # hosted agents refuse `secrets` as a whole (_hosted_agent_rules)
    taken: dict[str, str] = {}
    for variable in svc.secrets:
        problem = name_problem(variable, taken)
        if problem:
            out.append(
                at.issue(
                    ("secrets", variable),
                    problem,
                    "rename the variable (its secret name is the variable's, lower-case, `_` → `-`)",
                    at_key=True,
                )
            )
        taken.setdefault(secret_name(variable), variable)
        if variable in svc.env:
            out.append(
                at.issue(
                    ("secrets", variable),
                    f"`{variable}` is set by both `env` and `secrets`",
                    "keep one of them",
                    at_key=True,
                )
            )
    if svc.telemetry and TELEMETRY_ENV in {*svc.env, *svc.secrets}:
        where = "env" if TELEMETRY_ENV in svc.env else "secrets"
        out.append(
            at.issue(
                (where, TELEMETRY_ENV),
                f"{TELEMETRY_ENV} is set by genaiops from the environment's Application Insights",
                "remove it here, or set `telemetry: false` to give the app your own",
                at_key=True,
            )
        )
    return out


def _hosted_agent_rules(svc: Service, at: Locator) -> list[ManifestIssue]:
    """Settings a Foundry hosted agent cannot honour: never silently skipped."""
    out = []
    if "scale" in svc.model_fields_set:
        out.append(
            at.issue(
                ("scale",),
                "`scale` does not apply to host: foundry-agent (Foundry starts an agent's compute on "
                "request and stops it when idle)",
                "remove `scale` from this service",
                at_key=True,
            )
        )
    if svc.secrets:
        out.append(
            at.issue(
                ("secrets",),
                "`secrets` cannot be honoured by host: foundry-agent (a hosted agent's definition "
                "carries plain environment variables only)",
                "read the secret at run time with the agent's managed identity, or use "
                "`connections:` for the environment's endpoints",
                at_key=True,
            )
        )
    if "telemetry" in svc.model_fields_set:
        out.append(
            at.issue(
                ("telemetry",),
                "`telemetry` does not apply to host: foundry-agent (Foundry injects "
                "APPLICATIONINSIGHTS_CONNECTION_STRING from the project's connected Application Insights)",
                "remove `telemetry` from this service; connect Application Insights to the Foundry project",
                at_key=True,
            )
        )
    protocols = svc.agent.protocols if svc.agent else {}
    for i, check in enumerate(svc.smoke):
        request = check.request
        if request.method != "POST" or request.path.split("?")[0] != "/responses":
            out.append(
                at.issue(
                    ("smoke", i, "request"),
                    f"smoke check `{check.name}` sends {request.method} {request.path}; a hosted agent "
                    "answers smoke checks only through the Responses protocol (POST /responses)",
                    'use `request: {method: POST, path: /responses, json: {input: "..."}}`',
                )
            )
    if svc.smoke and "responses" not in protocols:
        out.append(
            at.issue(
                ("agent", "protocols"),
                "smoke checks reach a hosted agent through `responses`, which this agent does not serve",
                "add `responses: v0.1.1` to agent.protocols",
            )
        )
    return out


def evaluation_host_rules(ev: Evaluation, service: Service | None, at: Locator) -> list[ManifestIssue]:
    """An evaluation reaches a hosted agent only through the Responses protocol, and a job not at all."""
    if service is not None and service.host == JOB_HOST:
        return [
            at.issue(
                ("service",),
                f"service `{ev.service}` is a job (host: {JOB_HOST}), which has no endpoint to evaluate",
                "evaluate the service the job calls, or one with host: containerapp / foundry-agent",
            )
        ]
    if service is None or service.host != "foundry-agent":
        return []
    if ev.request.method == "POST" and ev.request.path.split("?")[0] == "/responses":
        return []
    return [
        at.issue(
            ("request",),
            f"service `{ev.service}` is a hosted agent (host: foundry-agent), which answers evaluations "
            f"only through the Responses protocol, not {ev.request.method} {ev.request.path}",
            'use `request: {method: POST, path: /responses, json: {input: "{{question}}"}}` and '
            '`response: "$.output[0].content[0].text"`',
        )
    ]


RESERVED_EVALUATION_NAMES = {
    SMOKE_GATE: "`smoke` is the gate name of smoke checks; rename it",
    "diff": "`genaiops eval diff` is a subcommand; rename the evaluation",
}


def evaluation_rules(name: str, ev: Evaluation, service_names: list[str], at: Locator) -> list[ManifestIssue]:
    out = []
    if name in RESERVED_EVALUATION_NAMES:
        out.append(
            at.issue(
                (),
                f"an evaluation may not be named `{name}`",
                RESERVED_EVALUATION_NAMES[name],
                at_key=True,
            )
        )
    if ev.service not in service_names:
        out.append(
            at.issue(
                ("service",),
                f"unknown service `{ev.service}`",
                _suggest(ev.service, service_names, "services"),
            )
        )
    return out


def environment_rules(
    name: str,
    env: Environment,
    raw_env: dict[str, Any],
    env_names: list[str],
    service_names: list[str],
    evaluation_names: list[str],
    at: Locator,
) -> list[ManifestIssue]:
    out = []
    if env.promote_from is not None and env.promote_from != name and env.promote_from not in env_names:
        others = [e for e in env_names if e != name]
        out.append(
            at.issue(
                ("promote_from",),
                f"unknown environment `{env.promote_from}`",
                _suggest(env.promote_from, others, "environments"),
            )
        )
    for i, gate in enumerate(env.gates):
        if gate != SMOKE_GATE and gate not in evaluation_names:
            out.append(
                at.issue(
                    ("gates", i),
                    f"gate `{gate}` is neither `smoke` nor a defined evaluation",
                    _suggest(gate, [SMOKE_GATE, *evaluation_names], "gates available"),
                )
            )
    if env.monitor is not None:
        out += monitor_rules(env, service_names, at)
    out += canary_rules(env, at)
    out += quality_rules(env, at)
    overrides = raw_env.get("services")
    if isinstance(overrides, dict):
        for svc in overrides:
            if svc not in service_names:
                out.append(
                    at.issue(
                        ("services", svc),
                        f"override for unknown service `{svc}`",
                        _suggest(svc, service_names, "services"),
                        at_key=True,
                    )
                )
    return out


def monitor_rules(env: Environment, service_names: list[str], at: Locator) -> list[ManifestIssue]:
    """Alerts point at defined services and action groups; a window is no shorter than its frequency."""
    assert env.monitor is not None
    out = []
    groups = list(env.monitor.action_groups)
    rules_by_kind = (("alerts", env.monitor.alerts), ("log_alerts", env.monitor.log_alerts))
    for kind, rules in rules_by_kind:
        for name, rule in rules.items():
            where = ("monitor", kind, name)
            if rule.service not in service_names:
                out.append(
                    at.issue(
                        (*where, "service"),
                        f"unknown service `{rule.service}`",
                        _suggest(rule.service, service_names, "services"),
                    )
                )
            for i, group in enumerate(rule.action_groups):
                if group not in groups:
                    out.append(
                        at.issue(
                            (*where, "action_groups", i),
                            f"unknown action group `{group}`",
                            _suggest(group, groups, "action groups under `monitor.action_groups`"),
                        )
                    )
            if kind == "log_alerts":
                out += _log_alert_shape(rule, where, at)
            if WINDOW_SECONDS[rule.window] < WINDOW_SECONDS[rule.frequency]:
                out.append(
                    at.issue(
                        (*where, "window"),
                        f"window `{rule.window}` is shorter than the evaluation frequency `{rule.frequency}`",
                        "Azure Monitor needs window >= frequency, e.g. `window: 5m, frequency: 1m`",
                    )
                )
    return out


def _log_alert_shape(rule: Any, where: tuple[Any, ...], at: Locator) -> list[ManifestIssue]:
    """A log alert is either `query` + `threshold` or `error_rate` (+ `app_insights`), never both."""
    if rule.error_rate is None:
        missing = [f for f in ("query", "threshold") if getattr(rule, f) is None]
        if missing:
            return [
                at.issue(
                    where,
                    f"log alert needs `{'` and `'.join(missing)}`",
                    'give `query:` (KQL) and `threshold: "> 0"`, or `error_rate: "> 0.05"` instead',
                )
            ]
        return []
    out = []
    for field in ("query", "threshold", "measure"):
        if getattr(rule, field) is not None:
            out.append(
                at.issue(
                    (*where, field),
                    f"`{field}` cannot be combined with `error_rate`",
                    "`error_rate` writes its own query; drop one of them",
                    at_key=True,
                )
            )
    if not 0 <= rule.error_rate.value <= 1:
        out.append(
            at.issue(
                (*where, "error_rate"),
                f"error rate {rule.error_rate.value:g} is not a share between 0 and 1",
                'e.g. `error_rate: "> 0.05"` for 5 %',
            )
        )
    if rule.app_insights is None:
        out.append(
            at.issue(
                where,
                "`error_rate` needs `app_insights`: the component the service's requests are recorded in",
                "e.g. `app_insights: appi-contoso-dev` (the appInsightsName output of `genaiops provision`)",
            )
        )
    return out


WINDOW_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "6h": 21600,
    "12h": 43200,
    "1d": 86400,
}


def canary_rules(env: Environment, at: Locator) -> list[ManifestIssue]:
    """A canary starts from a staged revision (strategy canary or bluegreen); weights only go up;
    `strategy: canary` needs its steps."""
    out = []
    if env.strategy == "canary" and env.canary is None:
        out.append(
            at.issue(
                ("strategy",),
                "`strategy: canary` needs a `canary:` section with its steps",
                "add `canary: {steps: [{weight: 10, pause: 1m}, {weight: 50, pause: 1m}]}` "
                "(docs/monitoring.md)",
            )
        )
    if env.canary is None:
        return out
    if env.strategy == "direct":
        out.append(
            at.issue(
                ("canary",),
                "`canary` needs a staged revision: this environment's strategy is direct",
                "set `strategy: canary` (promote and swap run the steps) or `strategy: bluegreen` "
                "(run them by hand with `genaiops canary`)",
                at_key=True,
            )
        )
    weights = [step.weight for step in env.canary.steps]
    for i in range(1, len(weights)):
        if weights[i] <= weights[i - 1]:
            out.append(
                at.issue(
                    ("canary", "steps", i, "weight"),
                    f"weight {weights[i]} does not increase on the previous step's {weights[i - 1]}",
                    "list the steps in increasing weight, e.g. 10, 50",
                )
            )
    return out


def quality_rules(env: Environment, at: Locator) -> list[ManifestIssue]:
    """Live answer-quality checks read Application Insights: the analysis names the component."""
    out = []
    for section in ("canary", "watch"):
        spec = getattr(env, section)
        if spec is None:
            continue
        analysis = spec.analysis
        wants = analysis.min_quality is not None or analysis.max_quality_drop is not None
        if wants and not analysis.app_insights:
            out.append(
                at.issue(
                    (section, "analysis"),
                    "the quality checks need `app_insights`: where the answer_quality metric is sent",
                    "e.g. `app_insights: appi-contoso-dev` (provision's appInsightsName output)",
                )
            )
    return out


def hosting_rules(
    name: str, env: Environment, services: dict[str, Service], at: Locator
) -> list[ManifestIssue]:
    """A Container App runs in at most one place: a managed or a connected environment."""
    if env.containerapps_environment and env.connected_environment:
        return [
            at.issue(
                ("connected_environment",),
                "both `containerapps_environment` and `connected_environment` are set",
                "keep one: a managed environment, or a connected (Arc) environment",
                at_key=True,
            )
        ]
    # Neither set is fine: `genaiops provision` supplies the managed environment (checked at use time).
    return []


def promotion_cycles(envs: dict[str, Environment], at: Locator) -> list[ManifestIssue]:
    """Each cycle once, reported at the promote_from of its first member in file order."""
    out = []
    reported: set[frozenset[str]] = set()
    order = list(envs)
    for start in order:
        walk = [start]
        current = start
        while True:
            parent = envs[current].promote_from
            if parent is None or parent not in envs:
                break
            if parent in walk:
                cycle = walk[walk.index(parent) :]
                members = frozenset(cycle)
                if members not in reported:
                    reported.add(members)
                    first = min(cycle, key=order.index)
                    i = cycle.index(first)
                    ring = cycle[i:] + cycle[:i]
                    # releases flow parent → child, i.e. against the promote_from arrows
                    flow = " → ".join(reversed(ring + [ring[0]]))
                    out.append(
                        at.issue(
                            ("environments", first, "promote_from"),
                            f"promotion cycle: {flow}",
                            "promotion must form a chain (e.g. dev → staging → prod); "
                            f"remove `promote_from` from `{ring[0]}` or point it elsewhere",
                        )
                    )
                break
            walk.append(parent)
            current = parent
    return out


def file_rules(
    project: Path,
    services: dict[str, Service],
    evaluations: dict[str, Evaluation],
    environments: dict[str, Environment],
    doc: Locator,
) -> list[ManifestIssue]:
    """Every file the manifest names resolves inside the project (symlinks followed) and, when it
    exists, is a regular file or directory — checked at validate time, not when the file is read."""
    named = named_files(project, services, evaluations, environments)
    return [doc.issue(loc, p.message, p.hint) for loc, p in file_problems(project, named)]
