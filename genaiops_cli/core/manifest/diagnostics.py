"""Turn validation errors into ManifestIssues that point at the YAML source.

A Locator knows, for every data path it covers, the position in the file and the path to
show the user. Merged services (base + environment override) get a locator whose entries
come from whichever side supplied the value, so an error lands on the line that caused it."""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from genaiops_cli.core.manifest.model import PATTERN_HINTS, did_you_mean
from genaiops_cli.core.manifest.yamlnodes import Path, Site
from genaiops_cli.errors import ManifestIssue

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Path) -> str:
    """`services.agent.smoke[0].expect.json["$.answer"]`"""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += ("." if out else "") + part
        else:
            out += f'["{part}"]'
    return out


@dataclass
class Locator:
    """Maps a data path (relative to what was validated) to (path shown, site)."""

    file: str
    entries: dict[Path, tuple[Path, Site]]

    @classmethod
    def for_document(cls, file: str, sites: dict[Path, Site], prefix: Path = ()) -> Locator:
        n = len(prefix)
        entries = {p[n:]: (p, s) for p, s in sites.items() if p[:n] == prefix}
        return cls(file, entries)

    def locate(self, loc: Path) -> tuple[Path, Site | None, bool]:
        """(display path, site of the longest known prefix, whether that prefix is exact)."""
        for i in range(len(loc), -1, -1):
            hit = self.entries.get(loc[:i])
            if hit:
                shown, site = hit
                if i < len(loc) and not site.collection:
                    # inside a scalar the user wrote (e.g. an evaluator given as a plain name):
                    # the rest of the path is our internal shape, not theirs
                    return shown, site, False
                return shown + loc[i:], site, i == len(loc)
        return loc, None, False

    def issue(self, loc: Path, message: str, hint: str | None, *, at_key: bool = False) -> ManifestIssue:
        shown, site, exact = self.locate(loc)
        line = column = None
        if site is not None:
            line, column = site.line, site.column
            if (at_key or not exact or site.collection) and site.key_line is not None:
                line, column = site.key_line, site.key_column
        return ManifestIssue(
            message=message, file=self.file, line=line, column=column, path=format_path(shown), hint=hint
        )


# ------------------------------------------------------------------ pydantic errors


def _unwrap(t: Any) -> Any:
    origin = get_origin(t)
    if origin is Annotated:
        return _unwrap(get_args(t)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(t) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(members) == 1:
            return _unwrap(members[0])
        return models[0] if models else t
    return t


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def annotation_at(root: Any, loc: Path) -> Any:
    t = root
    for part in loc:
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            info = _field(t, str(part))
            if info is None:
                return None
            t = info.annotation
        elif get_origin(t) is dict:
            t = get_args(t)[1]
        elif get_origin(t) is list:
            t = get_args(t)[0]
        else:
            return None
    return _unwrap(t)


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean `{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"the number `{value}`"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def issues_from_validation(error: ValidationError, root: Any, locator: Locator) -> list[ManifestIssue]:
    out = []
    for e in error.errors(include_url=False):
        loc = tuple(e["loc"])
        at_key = False
        if loc and loc[-1] == "[key]":
            loc, at_key = loc[:-1], True
        message, hint, key_hint = explain(e, loc, root)
        out.append(locator.issue(loc, message, hint, at_key=at_key or key_hint))
    return out


def explain(e: Any, loc: Path, root: Any) -> tuple[str, str | None, bool]:
    """(message, hint, point at the key rather than the value) for one pydantic error."""
    kind, value, ctx = e["type"], e.get("input"), e.get("ctx") or {}
    last = str(loc[-1]) if loc else ""
    if kind == "missing":
        parent = annotation_at(root, loc[:-1])
        parent_path = format_path(loc[:-1])
        hint = f"add `{last}:` under `{parent_path}`" if parent_path else f"add `{last}:` at the top level"
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            info = _field(parent, last)
            if info is not None and info.description:
                hint += f" ({info.description.rstrip('.')})"
            if info is not None and info.examples:
                hint += f", e.g. `{last}: {info.examples[0]}`"
        return f"missing required key `{last}`", hint, False
    if kind == "extra_forbidden":
        model = annotation_at(root, loc[:-1])
        keys = allowed_keys(model) if isinstance(model, type) and issubclass(model, BaseModel) else []
        close = did_you_mean(last, keys)
        hint = f"did you mean `{close}`?" if close else f"allowed keys here: {', '.join(keys)}"
        return f"unknown key `{last}`", hint, True
    if kind == "genaiops_invalid":
        return e["msg"], ctx.get("hint"), False
    if kind in ("string_type", "string_sub_type"):
        if isinstance(value, (bool, int, float)):
            hint = f'quote it to make it text: `{last}: "{_yaml_text(value)}"`'
        else:
            hint = "write a text value"
        return f"expected a string, got {describe(value)}", hint, False
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe(value)}", "e.g. `8080` (digits only)", False
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"expected a number, got {describe(value)}", "e.g. `0.5`", False
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe(value)}", "write `true` or `false`", False
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        if value is None:
            hint = f"`{last}` is empty: add its keys indented below it, or remove the line"
        else:
            hint = "write `key: value` pairs indented under the key (or `{key: value}`)"
        return f"expected a mapping, got {describe(value)}", hint, False
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return f"expected a list, got {describe(value)}", "write items as `- item` lines, or `[a, b]`", False
    if kind == "literal_error":
        ann = annotation_at(root, loc)
        choices = [str(c) for c in get_args(ann)] if get_origin(ann) is Literal else []
        close = did_you_mean(str(value), choices) if isinstance(value, str) else None
        hint = (
            f"did you mean `{close}`? " if close else ""
        ) + f"allowed: {ctx.get('expected', ', '.join(choices))}"
        return f"{describe(value)} is not allowed here", hint, False
    if kind == "string_pattern_mismatch":
        what = "key" if e["loc"] and e["loc"][-1] == "[key]" else "value"
        hint = PATTERN_HINTS.get(ctx.get("pattern", ""), f"must match the pattern {ctx.get('pattern')}")
        return f"{what} {value!r} is not valid here", hint, False
    if kind == "string_too_short":
        return "must not be empty", "write a value or remove the key", False
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return (
            f"needs at least {n} entr{'y' if n == 1 else 'ies'}",
            f"add at least one entry under `{last}`",
            False,
        )
    bound = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bound:
        op, key = bound[kind]
        return f"must be {op} {ctx.get(key)}, got {value!r}", f"use a value {op} {ctx.get(key)}", False
    msg = e["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg, "see docs/manifest.md for this field", False


def _yaml_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
