"""The template functions the stand-in implements. Anything not in FUNCTIONS fails validation with
ARM's "The template function 'X' is not valid" — before a single resource is touched.

Each entry receives the evaluator (see engine.Evaluator) and the *unevaluated* argument nodes, so
`if` can stay lazy as ARM documents; most functions just evaluate their arguments first."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ExpressionError, bad_arguments
from .expressions import evaluate, type_name
from .hashing import arm_guid, unique_string

if TYPE_CHECKING:
    from .engine import Evaluator

Impl = Callable[["Evaluator", tuple[Any, ...]], Any]
FUNCTIONS: dict[str, Impl] = {}


def lazy(name: str) -> Callable[[Impl], Impl]:
    def register(fn: Impl) -> Impl:
        FUNCTIONS[name.lower()] = fn
        return fn

    return register


def eager(
    name: str, min_args: int = 0, max_args: int | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        def impl(ev: Evaluator, nodes: tuple[Any, ...]) -> Any:
            if len(nodes) < min_args or (max_args is not None and len(nodes) > max_args):
                expected = (
                    str(min_args)
                    if max_args == min_args
                    else (f"at least {min_args}" if max_args is None else f"{min_args} to {max_args}")
                )
                raise bad_arguments(
                    name, f"the function expects {expected} argument(s) but got {len(nodes)}."
                )
            return fn(ev, *[evaluate(n, ev) for n in nodes])

        FUNCTIONS[name.lower()] = impl
        return fn

    return register


def _need(name: str, value: Any, *types: type, what: str) -> Any:
    if isinstance(value, bool) and bool not in types:
        raise bad_arguments(name, f"expected {what} but got '{type_name(value)}'.")
    if not isinstance(value, types):
        raise bad_arguments(name, f"expected {what} but got '{type_name(value)}'.")
    return value


# --- deployment values -----------------------------------------------------------------------
@eager("resourceGroup", 0, 0)
def _resource_group(ev: Evaluator) -> dict[str, Any]:
    return ev.resource_group_object()


@eager("subscription", 0, 0)
def _subscription(ev: Evaluator) -> dict[str, Any]:
    c = ev.context
    return {
        "id": f"/subscriptions/{c.subscription_id}",
        "subscriptionId": c.subscription_id,
        "tenantId": c.tenant_id,
        "displayName": c.subscription_display_name,
    }


@eager("tenant", 0, 0)
def _tenant(ev: Evaluator) -> dict[str, Any]:
    return {"tenantId": ev.context.tenant_id, "id": f"/tenants/{ev.context.tenant_id}"}


@eager("deployment", 0, 0)
def _deployment(ev: Evaluator) -> dict[str, Any]:
    return ev.deployment_object()


@eager("parameters", 1, 1)
def _parameters(ev: Evaluator, name: Any) -> Any:
    return ev.parameter(_need("parameters", name, str, what="a parameter name"))


@eager("variables", 1, 1)
def _variables(ev: Evaluator, name: Any) -> Any:
    return ev.variable(_need("variables", name, str, what="a variable name"))


@eager("copyIndex", 0, 2)
def _copy_index(ev: Evaluator, *args: Any) -> int:
    loop, offset = None, 0
    if len(args) == 2:
        loop, offset = args
    elif len(args) == 1:
        if isinstance(args[0], str):
            loop = args[0]
        else:
            offset = args[0]
    return ev.copy_index(loop) + _need("copyIndex", offset, int, what="an integer offset")


# --- resources -------------------------------------------------------------------------------
@eager("resourceId", 2)
def _resource_id(ev: Evaluator, *args: Any) -> str:
    return ev.build_resource_id("resourceId", [str(a) for a in args], scope="resourceGroup")


@eager("subscriptionResourceId", 2)
def _subscription_resource_id(ev: Evaluator, *args: Any) -> str:
    return ev.build_resource_id("subscriptionResourceId", [str(a) for a in args], scope="subscription")


@eager("tenantResourceId", 2)
def _tenant_resource_id(ev: Evaluator, *args: Any) -> str:
    return ev.build_resource_id("tenantResourceId", [str(a) for a in args], scope="tenant")


@eager("extensionResourceId", 3)
def _extension_resource_id(ev: Evaluator, base: Any, rtype: Any, *names: Any) -> str:
    return ev.extension_id(str(base), str(rtype), [str(n) for n in names])


@eager("reference", 1, 3)
def _reference(ev: Evaluator, target: Any, api_version: Any = None, full: Any = None) -> Any:
    if full is not None and str(full).lower() != "full":
        raise bad_arguments("reference", f"the third argument must be 'Full' but was '{full}'.")
    return ev.reference(str(target), api_version, full is not None)


@eager("listKeys", 2, 3)
def _list_keys(ev: Evaluator, target: Any, api_version: Any, *_body: Any) -> Any:
    return ev.list_keys(str(target), str(api_version))


# --- strings ---------------------------------------------------------------------------------
@eager("concat", 0)
def _concat(ev: Evaluator, *args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [x for a in args for x in a]
    return "".join(_to_string(a) for a in args)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


@eager("format", 1)
def _format(ev: Evaluator, fmt: Any, *args: Any) -> str:
    _need("format", fmt, str, what="a format string")

    def item(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        index = int(m.group(1))
        if index >= len(args):
            raise bad_arguments("format", f"index '{index}' is out of range of the {len(args)} argument(s).")
        value, spec = args[index], m.group(3)
        if spec and isinstance(value, int) and not isinstance(value, bool):
            text = _numeric_format(value, spec)
        else:
            text = _to_string(value)
        width = int(m.group(2) or 0)
        return text.rjust(width) if width > 0 else text.ljust(-width)

    return _FORMAT_ITEM.sub(item, fmt)


def _numeric_format(value: int, spec: str) -> str:
    m = re.fullmatch(r"([DdNnXx])(\d*)", spec)
    if m:
        kind, digits = m.group(1), int(m.group(2) or 0)
        if kind in "Dd":
            return str(value).zfill(digits)
        if kind in "Nn":
            return f"{value:,.{m.group(2) or 2}f}"
        return format(value, "x" if kind == "x" else "X").zfill(digits)
    if set(spec) <= {"0", "#"}:
        return str(value).zfill(spec.count("0"))
    raise bad_arguments("format", f"the format specifier '{spec}' is not supported by the stand-in.")


@eager("uniqueString", 1)
def _unique_string(ev: Evaluator, *args: Any) -> str:
    for a in args:
        _need("uniqueString", a, str, what="string arguments")
    return unique_string(*args)


@eager("guid", 1)
def _guid(ev: Evaluator, *args: Any) -> str:
    for a in args:
        _need("guid", a, str, what="string arguments")
    return arm_guid(*args)


@eager("toLower", 1, 1)
def _to_lower(ev: Evaluator, s: Any) -> str:
    return _need("toLower", s, str, what="a string").lower()


@eager("toUpper", 1, 1)
def _to_upper(ev: Evaluator, s: Any) -> str:
    return _need("toUpper", s, str, what="a string").upper()


@eager("substring", 2, 3)
def _substring(ev: Evaluator, s: Any, start: Any, length: Any = None) -> str:
    _need("substring", s, str, what="a string")
    _need("substring", start, int, what="an integer start index")
    if length is None:
        length = len(s) - start
    if start < 0 or start > len(s):
        raise bad_arguments(
            "substring", f"the index parameter '{start}' is out of the range of the string length."
        )
    if length < 0 or start + length > len(s):
        raise bad_arguments(
            "substring",
            f"the length parameter '{length}' with index '{start}' exceeds the string length '{len(s)}'.",
        )
    return s[start : start + length]


@eager("replace", 3, 3)
def _replace(ev: Evaluator, s: Any, old: Any, new: Any) -> str:
    return _need("replace", s, str, what="a string").replace(str(old), str(new))


@eager("trim", 1, 1)
def _trim(ev: Evaluator, s: Any) -> str:
    return _need("trim", s, str, what="a string").strip()


@eager("startsWith", 2, 2)
def _starts_with(ev: Evaluator, s: Any, p: Any) -> bool:
    return str(s).lower().startswith(str(p).lower())


@eager("endsWith", 2, 2)
def _ends_with(ev: Evaluator, s: Any, p: Any) -> bool:
    return str(s).lower().endswith(str(p).lower())


@eager("indexOf", 2, 2)
def _index_of(ev: Evaluator, s: Any, p: Any) -> int:
    return str(s).lower().find(str(p).lower())


@eager("lastIndexOf", 2, 2)
def _last_index_of(ev: Evaluator, s: Any, p: Any) -> int:
    return str(s).lower().rfind(str(p).lower())


@eager("padLeft", 2, 3)
def _pad_left(ev: Evaluator, s: Any, width: Any, pad: Any = " ") -> str:
    return _to_string(s).rjust(int(width), str(pad)[:1] or " ")


@eager("split", 2, 2)
def _split(ev: Evaluator, s: Any, sep: Any) -> list[str]:
    _need("split", s, str, what="a string")
    seps = sep if isinstance(sep, list) else [sep]
    return re.split("|".join(re.escape(str(x)) for x in seps), s) if seps else [s]


@eager("join", 2, 2)
def _join(ev: Evaluator, items: Any, sep: Any) -> str:
    return str(sep).join(_to_string(x) for x in _need("join", items, list, what="an array"))


@eager("base64", 1, 1)
def _base64(ev: Evaluator, s: Any) -> str:
    return base64.b64encode(str(s).encode()).decode()


@eager("base64ToString", 1, 1)
def _base64_to_string(ev: Evaluator, s: Any) -> str:
    return base64.b64decode(str(s)).decode()


# --- conversions -----------------------------------------------------------------------------
@eager("string", 1, 1)
def _string(ev: Evaluator, value: Any) -> str:
    return _to_string(value)


@eager("int", 1, 1)
def _int(ev: Evaluator, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_arguments("int", f"the value '{value}' can't be converted to an integer.") from None


@eager("bool", 1, 1)
def _bool(ev: Evaluator, value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad_arguments("bool", f"the value '{value}' can't be converted to a boolean.")
    return bool(value)


@eager("json", 1, 1)
def _json(ev: Evaluator, text: Any) -> Any:
    try:
        return json.loads(_need("json", text, str, what="a JSON string"))
    except json.JSONDecodeError as exc:
        raise bad_arguments("json", f"the string is not valid JSON: {exc.msg}.") from None


@eager("array", 1, 1)
def _array(ev: Evaluator, value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@eager("createArray", 0)
def _create_array(ev: Evaluator, *items: Any) -> list[Any]:
    return list(items)


@eager("createObject", 0)
def _create_object(ev: Evaluator, *items: Any) -> dict[str, Any]:
    if len(items) % 2:
        raise bad_arguments(
            "createObject", "the function expects an even number of arguments (name, value pairs)."
        )
    return {str(items[i]): items[i + 1] for i in range(0, len(items), 2)}


@eager("true", 0, 0)
def _true(ev: Evaluator) -> bool:
    return True


@eager("false", 0, 0)
def _false(ev: Evaluator) -> bool:
    return False


@eager("null", 0, 0)
def _null(ev: Evaluator) -> None:
    return None


# --- logic and comparison ----------------------------------------------------------------------
@lazy("if")
def _if(ev: Evaluator, nodes: tuple[Any, ...]) -> Any:
    if len(nodes) != 3:
        raise bad_arguments("if", f"the function expects 3 argument(s) but got {len(nodes)}.")
    condition = evaluate(nodes[0], ev)
    _need("if", condition, bool, what="a boolean condition")
    return evaluate(nodes[1] if condition else nodes[2], ev)


@eager("equals", 2, 2)
def _equals(ev: Evaluator, a: Any, b: Any) -> bool:
    return _arm_equal(a, b)


@eager("not", 1, 1)
def _not(ev: Evaluator, a: Any) -> bool:
    return not _need("not", a, bool, what="a boolean")


@eager("and", 2)
def _and(ev: Evaluator, *args: Any) -> bool:
    return all(_need("and", a, bool, what="booleans") for a in args)


@eager("or", 2)
def _or(ev: Evaluator, *args: Any) -> bool:
    return any(_need("or", a, bool, what="booleans") for a in args)


@eager("coalesce", 1)
def _coalesce(ev: Evaluator, *args: Any) -> Any:
    return next((a for a in args if a is not None), None)


def _compare(name: str, a: Any, b: Any) -> int:
    if type(a) is not type(b) or not isinstance(a, (int, str)):
        raise bad_arguments(name, "both arguments must be integers or both strings.")
    return (a > b) - (a < b)


@eager("greater", 2, 2)
def _greater(ev: Evaluator, a: Any, b: Any) -> bool:
    return _compare("greater", a, b) > 0


@eager("greaterOrEquals", 2, 2)
def _greater_or_equals(ev: Evaluator, a: Any, b: Any) -> bool:
    return _compare("greaterOrEquals", a, b) >= 0


@eager("less", 2, 2)
def _less(ev: Evaluator, a: Any, b: Any) -> bool:
    return _compare("less", a, b) < 0


@eager("lessOrEquals", 2, 2)
def _less_or_equals(ev: Evaluator, a: Any, b: Any) -> bool:
    return _compare("lessOrEquals", a, b) <= 0


# --- collections -------------------------------------------------------------------------------
@eager("empty", 1, 1)
def _empty(ev: Evaluator, value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


@eager("length", 1, 1)
def _length(ev: Evaluator, value: Any) -> int:
    return len(_need("length", value, str, list, dict, what="a string, array or object"))


@eager("contains", 2, 2)
def _contains(ev: Evaluator, container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _to_string(item) in container  # ARM: case-sensitive for strings
    if isinstance(container, dict):
        return any(k.lower() == str(item).lower() for k in container)
    if isinstance(container, list):
        return any(_arm_equal(x, item) for x in container)
    raise bad_arguments("contains", f"expected a string, array or object but got '{type_name(container)}'.")


@eager("union", 1)
def _union(ev: Evaluator, *args: Any) -> Any:
    if all(isinstance(a, dict) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out.update(a)  # later values win, shallow, as ARM's union does
        return out
    if all(isinstance(a, list) for a in args):
        result: list[Any] = []
        for a in args:
            for x in a:
                if not any(_arm_equal(x, y) for y in result):
                    result.append(x)
        return result
    raise bad_arguments("union", "all arguments must be objects or all arrays.")


@eager("first", 1, 1)
def _first(ev: Evaluator, value: Any) -> Any:
    _need("first", value, str, list, what="a string or array")
    return value[0] if value else ("" if isinstance(value, str) else None)


@eager("last", 1, 1)
def _last(ev: Evaluator, value: Any) -> Any:
    _need("last", value, str, list, what="a string or array")
    return value[-1] if value else ("" if isinstance(value, str) else None)


@eager("take", 2, 2)
def _take(ev: Evaluator, value: Any, count: Any) -> Any:
    _need("take", value, str, list, what="a string or array")
    return value[: max(0, _need("take", count, int, what="an integer count"))]


@eager("skip", 2, 2)
def _skip(ev: Evaluator, value: Any, count: Any) -> Any:
    _need("skip", value, str, list, what="a string or array")
    return value[max(0, _need("skip", count, int, what="an integer count")) :]


@eager("range", 2, 2)
def _range(ev: Evaluator, start: Any, count: Any) -> list[int]:
    return list(range(int(start), int(start) + int(count)))


@eager("min", 1)
def _min(ev: Evaluator, *args: Any) -> int:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    return min(values)


@eager("max", 1)
def _max(ev: Evaluator, *args: Any) -> int:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    return max(values)


# --- numeric ---------------------------------------------------------------------------------
def _ints(name: str, a: Any, b: Any) -> tuple[int, int]:
    return _need(name, a, int, what="integers"), _need(name, b, int, what="integers")


@eager("add", 2, 2)
def _add(ev: Evaluator, a: Any, b: Any) -> int:
    x, y = _ints("add", a, b)
    return x + y


@eager("sub", 2, 2)
def _sub(ev: Evaluator, a: Any, b: Any) -> int:
    x, y = _ints("sub", a, b)
    return x - y


@eager("mul", 2, 2)
def _mul(ev: Evaluator, a: Any, b: Any) -> int:
    x, y = _ints("mul", a, b)
    return x * y


@eager("div", 2, 2)
def _div(ev: Evaluator, a: Any, b: Any) -> int:
    x, y = _ints("div", a, b)
    if y == 0:
        raise bad_arguments("div", "the divisor must not be zero.")
    return int(x / y)  # .NET integer division truncates toward zero


@eager("mod", 2, 2)
def _mod(ev: Evaluator, a: Any, b: Any) -> int:
    x, y = _ints("mod", a, b)
    if y == 0:
        raise bad_arguments("mod", "the divisor must not be zero.")
    return x - y * int(x / y)


# --- helpers ---------------------------------------------------------------------------------
def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"  # ARM (.NET) renders booleans capitalised
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _arm_equal(a: Any, b: Any) -> bool:
    # equals() is case-sensitive for strings and structural for arrays/objects.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def is_known(name: str) -> bool:
    return name.lower() in FUNCTIONS


def check_known(name: str) -> None:
    if not is_known(name):
        from .errors import unknown_function

        raise unknown_function(name)


__all__ = ["FUNCTIONS", "ExpressionError", "check_known", "is_known"]
