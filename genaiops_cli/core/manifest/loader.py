"""Find and load genaiops.yaml: read safely, interpolate, validate, report every problem
with file:line:column, the field path and a hint. The only entry points are
`find_manifest` and `load_manifest`; both raise ManifestError (exit code 3)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from genaiops_cli.core.manifest import rules
from genaiops_cli.core.manifest.diagnostics import Locator, describe, format_path, issues_from_validation
from genaiops_cli.core.manifest.interpolate import interpolate
from genaiops_cli.core.manifest.model import (
    MANIFEST_FILENAMES,
    MANIFEST_VERSION,
    Environment,
    Evaluation,
    Manifest,
    ResolvedEnvironment,
    Service,
    deep_merge,
)
from genaiops_cli.core.manifest.yamlnodes import Converter, Path, Site, YamlProblem, compose
from genaiops_cli.core.project_files import FileProblem, read_regular
from genaiops_cli.errors import ManifestError, ManifestIssue

MAX_BYTES = 1024 * 1024
MAX_ISSUES = 100

_STARTER = "see templates/agent/genaiops.yaml for a starter manifest"


def find_manifest(explicit: FsPath | None, start: FsPath | None = None) -> FsPath:
    """`-f PATH` if given (a directory means the manifest inside it), else the nearest
    genaiops.yaml / genaiops.yml walking up from `start` (default: the cwd)."""
    if explicit is not None:
        p = FsPath(explicit)
        if p.is_dir():
            found = _in_dir(p)
            if found:
                return found
            raise _single(
                p / MANIFEST_FILENAMES[0],
                f"no {MANIFEST_FILENAMES[0]} in directory {p}",
                _STARTER,
                "manifest_not_found",
            )
        if not p.exists():
            raise _single(
                p, f"manifest not found: {p}", "check the path given to -f/--manifest", "manifest_not_found"
            )
        return p
    here = FsPath(start or FsPath.cwd()).resolve()
    for d in (here, *here.parents):
        found = _in_dir(d)
        if found:
            return found
    raise _single(
        here / MANIFEST_FILENAMES[0],
        f"no {' or '.join(MANIFEST_FILENAMES)} in {here} or any parent directory",
        f"pass -f path/to/genaiops.yaml, or create one ({_STARTER})",
        "manifest_not_found",
    )


def _in_dir(d: FsPath) -> FsPath | None:
    for name in MANIFEST_FILENAMES:
        if (d / name).is_file():
            return d / name
    return None


def _single(
    path: FsPath | str,
    message: str,
    hint: str,
    code: str | None = None,
    line: int | None = None,
    column: int | None = None,
) -> ManifestError:
    return ManifestError([ManifestIssue(message, str(path), line, column, "", hint)], code=code)


def read_manifest_text(path: FsPath) -> str:
    """The file's text, or ManifestError for anything that is not a small UTF-8 text file."""
    try:
        if path.is_dir():
            raise _single(
                path, f"{path} is a directory, not a manifest", "point -f at the genaiops.yaml file"
            )
        data = read_regular(path, MAX_BYTES)  # a FIFO or device is refused, never read
    except FileProblem as p:
        raise _single(path, p.message, "point -f at the genaiops.yaml file") from None
    except FileNotFoundError:
        raise _single(path, f"manifest not found: {path}", "check the path", "manifest_not_found") from None
    except OSError as e:
        raise _single(
            path, f"cannot read the manifest: {e.strerror or e}", "check the file's permissions"
        ) from None
    if len(data) > MAX_BYTES:
        raise _single(
            path,
            f"the manifest is larger than {MAX_BYTES // 1024} KiB",
            "a manifest is a few KiB; is this the right file?",
            line=1,
            column=1,
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _single(path, "the manifest is UTF-16 encoded", "save it as UTF-8", line=1, column=1)
    if b"\x00" in data:
        at = data.index(b"\x00")
        line, col = _byte_pos(data, at)
        raise _single(
            path,
            "the manifest is a binary file (contains NUL bytes)",
            "point -f at the YAML text file",
            line=line,
            column=col,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, col = _byte_pos(data, e.start)
        raise _single(
            path,
            f"the manifest is not UTF-8 text (byte 0x{data[e.start]:02x})",
            "save the file as UTF-8",
            line=line,
            column=col,
        ) from None
    if not text.strip():
        raise _single(
            path, "the manifest is empty", f"start with `version: 1` ({_STARTER})", line=1, column=1
        )
    return text


def _byte_pos(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def load_manifest(path: FsPath, environ: Mapping[str, str] | None = None) -> Manifest:
    path = FsPath(path)
    env_vars: Mapping[str, str] = os.environ if environ is None else environ
    file = str(path)
    text = read_manifest_text(path)

    issues: list[ManifestIssue] = []
    unresolved: set[str] = set()  # paths whose text still holds a bad `${...}`: skip follow-on errors

    def on_string(value: str, at: Path, node: Any) -> str:
        result, problems = interpolate(value, env_vars)
        for p in problems:
            line, col = _reference_position(text, node, value, p.offset)
            issues.append(ManifestIssue(p.message, file, line, col, format_path(at), p.hint))
            unresolved.add(format_path(at))
        return result

    converter = Converter(on_string)
    try:
        root = compose(text)
        if root is None:
            raise _single(
                path,
                "the manifest is empty (only comments)",
                f"start with `version: 1` ({_STARTER})",
                line=1,
                column=1,
            )
        data = converter.convert(root)
    except YamlProblem as p:
        raise _single(path, p.message, p.hint, line=p.line, column=p.column) from None
    except RecursionError:  # belt and braces: the composer is iterative and depth is capped
        raise _single(path, "the manifest is nested too deeply", "flatten it") from None
    for n in converter.issues:
        issues.append(ManifestIssue(n.message, file, n.line, n.column, format_path(n.path), n.hint))

    doc = Locator.for_document(file, converter.sites)
    if not isinstance(data, dict):
        raise ManifestError(
            [
                doc.issue(
                    (),
                    f"the top level must be a mapping of keys, got {describe(data)}",
                    "start with `version: 1`, then `name:`, `services:`, `environments:`",
                )
            ]
        )
    _check_version(data, doc)

    resolved: dict[str, ResolvedEnvironment] = {}
    try:
        Manifest.model_validate(data)
    except ValidationError as e:
        issues.extend(i for i in issues_from_validation(e, Manifest, doc) if i.path not in unresolved)
    checked = _semantic_checks(data, converter.sites, file, resolved)
    issues.extend(i for i in checked if i.path not in unresolved)

    if issues:
        raise ManifestError(_tidy(issues))
    manifest = Manifest.model_validate(data)
    manifest._path = path
    manifest._resolved = {name: _rebase(manifest, r) for name, r in resolved.items()}
    return manifest


def _rebase(manifest: Manifest, r: ResolvedEnvironment) -> ResolvedEnvironment:
    """Share the manifest's own objects wherever an environment overrides nothing."""
    env = manifest.environments[r.name]
    services = {n: (r.services[n] if n in env.services else s) for n, s in manifest.services.items()}
    gate_evals = {g: manifest.evaluations[g] for g in env.gates if g in manifest.evaluations}
    return ResolvedEnvironment(r.name, env, services, tuple(env.gates), gate_evals)


def _check_version(data: dict[str, Any], doc: Locator) -> None:
    """A different version means a different format: report that alone, nothing after it is meaningful."""
    if "version" not in data:
        return  # reported with the other missing keys
    v = data["version"]
    if type(v) is int and v == MANIFEST_VERSION:
        return
    if type(v) is int and v > MANIFEST_VERSION:
        msg, hint = (
            f"manifest version {v} is newer than this genaiops understands (version {MANIFEST_VERSION})",
            "upgrade genaiops: `pip install -U genaiops-cli`",
        )
    else:
        msg, hint = (
            f"unsupported manifest version: {describe(v)}",
            f"write `version: {MANIFEST_VERSION}` (a number, no quotes)",
        )
    raise ManifestError([doc.issue(("version",), msg, hint)])


def _semantic_checks(
    data: dict[str, Any], sites: dict[Path, Site], file: str, resolved: dict[str, ResolvedEnvironment]
) -> list[ManifestIssue]:
    """Rules beyond single fields, run on whatever parts validated so problems elsewhere
    do not hide them."""
    out: list[ManifestIssue] = []

    def section(key: str) -> dict[str, Any]:
        v = data.get(key)
        return v if isinstance(v, dict) else {}

    raw_services, raw_evals, raw_envs = section("services"), section("evaluations"), section("environments")
    service_names, eval_names, env_names = list(raw_services), list(raw_evals), list(raw_envs)

    services = _valid(Service, raw_services)
    for n, s in services.items():
        out += rules.service_rules(s, Locator.for_document(file, sites, ("services", n)))
    evaluations = _valid(Evaluation, raw_evals)
    for n, ev in evaluations.items():
        at_eval = Locator.for_document(file, sites, ("evaluations", n))
        out += rules.evaluation_rules(n, ev, service_names, at_eval)
        out += rules.evaluation_host_rules(ev, services.get(ev.service), at_eval)
    envs = _valid(Environment, raw_envs)
    doc = Locator.for_document(file, sites)
    out += rules.promotion_cycles(envs, doc)
    out += rules.file_rules(FsPath(file).resolve().parent, services, evaluations, envs, doc)

    for env_name, env in envs.items():
        at_env = Locator.for_document(file, sites, ("environments", env_name))
        out += rules.environment_rules(
            env_name, env, raw_envs[env_name], env_names, service_names, eval_names, at_env
        )
        merged: dict[str, Service] = {}
        overrides = raw_envs[env_name].get("services") or {}
        for svc_name, raw_base in raw_services.items():
            override = overrides.get(svc_name)
            if override is None:
                if svc_name in services:
                    merged[svc_name] = services[svc_name]
                continue
            if not isinstance(raw_base, dict) or not isinstance(override, dict):
                continue
            ov_prefix = ("environments", env_name, "services", svc_name)
            at = _merged_locator(file, sites, ("services", svc_name), ov_prefix, override)
            try:
                svc = Service.model_validate(deep_merge(raw_base, override))
            except ValidationError as e:
                found = issues_from_validation(e, Service, at)
                if svc_name not in services:  # the base's own errors are already reported
                    shown = format_path(ov_prefix)
                    found = [i for i in found if i.path.startswith(shown)]
                out += found
                continue
            out += rules.service_rules(svc, at)
            merged[svc_name] = svc
        out += rules.hosting_rules(env_name, env, merged, at_env)
        if len(merged) == len(raw_services):
            gate_evals = {g: evaluations[g] for g in env.gates if g in evaluations}
            resolved[env_name] = ResolvedEnvironment(env_name, env, merged, tuple(env.gates), gate_evals)
    return out


def _valid(model: Any, raw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in raw.items():
        try:
            out[name] = model.model_validate(value)
        except ValidationError:
            pass
    return out


def _merged_locator(
    file: str, sites: dict[Path, Site], base: Path, override_at: Path, override: dict[str, Any]
) -> Locator:
    """Positions for a merged service: from the override where it supplied the value (and
    everything under a value it replaced), else from the base."""
    entries: dict[Path, tuple[Path, Site]] = {}
    nb = len(base)
    for p, s in sites.items():
        if p[:nb] == base:
            entries[p[nb:]] = (p, s)
    no = len(override_at)
    replaced: list[Path] = []
    for p, s in sites.items():
        if p[:no] == override_at:
            rel = p[no:]
            entries[rel] = (p, s)
            if rel and not isinstance(_get(override, rel), dict):
                replaced.append(rel)
    for r in replaced:
        stale = [
            k
            for k, (shown, _) in entries.items()
            if k[: len(r)] == r and len(k) > len(r) and shown[:no] != override_at
        ]
        for k in stale:
            del entries[k]
    return Locator(file, entries)


def _get(data: Any, rel: Path) -> Any:
    for part in rel:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _reference_position(text: str, node: Any, value: str, offset: int) -> tuple[int, int]:
    """Line/column of a `${...}` inside a scalar (falls back to the scalar's start)."""
    start, end = node.start_mark, node.end_mark
    line, col = start.line + 1, start.column + 1
    close = value.find("}", offset)
    ref = value[offset : close + 1 if close >= 0 else len(value)]
    raw = text[start.index : end.index] if start.index is not None and end.index is not None else ""
    at = raw.find(ref) if ref else -1
    if at < 0:
        return line, col
    before = raw[:at]
    nl = before.count("\n")
    if nl:
        return line + nl, at - before.rfind("\n")
    return line, col + at


def _tidy(issues: list[ManifestIssue]) -> list[ManifestIssue]:
    seen = set()
    unique = []
    for i in issues:
        key = (i.path, i.message, i.line)
        if key not in seen:
            seen.add(key)
            unique.append(i)
    unique.sort(key=lambda i: (i.line or 0, i.column or 0))
    if len(unique) > MAX_ISSUES:
        rest = len(unique) - MAX_ISSUES
        unique = unique[:MAX_ISSUES] + [
            ManifestIssue(
                f"... and {rest} more problems", unique[0].file, None, None, "", "fix the ones above first"
            )
        ]
    return unique
