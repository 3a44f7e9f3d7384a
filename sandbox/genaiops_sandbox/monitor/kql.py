"""A small subset of the Kusto Query Language, enough for the queries alerts, canary analysis and a
person at a terminal run against Application Insights data:

    requests
    | where timestamp > ago(5m) and cloud_RoleName == 'agent' and name has 'chat'
    | summarize total = count(), failed = countif(success == false) by bin(timestamp, 1m), cloud_RoleInstance
    | extend error_rate = todouble(failed) / total
    | project error_rate, cloud_RoleInstance
    | order by error_rate desc
    | take 10

Tabular operators: where/filter, summarize (count, countif, sum, avg, min, max, percentile, dcount;
`by` columns, expressions and bin()), extend, project, take/limit, order/sort by, count. Scalars:
== != < <= > >= =~, has, !has, contains, !contains, startswith, in (...), and/or/not(), + - * /,
column.member and column['member'] on dynamic values, ago(), now(), bin(), todouble()/toreal(),
toint()/tolong(), tostring(), tobool(), iff()/iif(), isempty(), isnotempty(), strcat(), round().

Anything else is a `SemanticError`/`SyntaxError` naming the unsupported part, as Log Analytics answers
(`BadArgumentError` with an inner error)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

Row = dict[str, Any]
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "tick": 1e-7}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<span>\d+(?:\.\d+)?(?:ms|d|h|m|s)\b)
    | (?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<op>==|!=|<=|>=|=~|!~|!has\b|!contains\b|[|(),=<>+\-*/\[\].!])
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


class KqlError(Exception):
    """A query the stand-in cannot run: `code` is Log Analytics' inner error code."""

    def __init__(self, message: str, code: str = "SemanticError") -> None:
        super().__init__(message)
        self.code = code


def tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip().rstrip(";")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise KqlError(f"Syntax error at position {pos}: {text[pos : pos + 20]!r}", "SyntaxError")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "str":
            tokens.append(("str", bytes(raw[1:-1], "utf-8").decode("unicode_escape")))
        elif kind == "span":
            num, unit = re.match(r"(\d+(?:\.\d+)?)(\w+)", raw).groups()  # type: ignore[union-attr]
            tokens.append(("span", dt.timedelta(seconds=float(num) * _UNITS[unit])))
        elif kind == "num":
            tokens.append(("num", float(raw) if ("." in raw or "e" in raw.lower()) else int(raw)))
        else:
            tokens.append((kind, raw))
    return tokens


# ------------------------------------------------------------------------------------------ parsing
class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", None)

    def next(self) -> tuple[str, Any]:
        token = self.peek()
        self.i += 1
        return token

    def at(self, *values: str) -> bool:
        kind, value = self.peek()
        return kind in ("op", "ident") and str(value).lower() in values

    def expect(self, value: str) -> None:
        kind, got = self.next()
        if str(got).lower() != value:
            raise KqlError(f"Syntax error: expected '{value}', found '{got}'", "SyntaxError")

    def ident(self) -> str:
        kind, value = self.next()
        if kind != "ident":
            raise KqlError(f"Syntax error: expected a name, found '{value}'", "SyntaxError")
        return str(value)

    # expressions: a tree of tuples evaluated by _eval
    def expr(self) -> Any:
        left = self.and_expr()
        while self.at("or"):
            self.next()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self) -> Any:
        left = self.cmp()
        while self.at("and"):
            self.next()
            left = ("and", left, self.cmp())
        return left

    def cmp(self) -> Any:
        left = self.add()
        kind, value = self.peek()
        op = str(value).lower() if kind in ("op", "ident") else ""
        if op in ("==", "!=", "<", "<=", ">", ">=", "=~", "!~", "has", "!has", "contains", "!contains"):
            self.next()
            return ("cmp", op, left, self.add())
        if op == "startswith":
            self.next()
            return ("cmp", op, left, self.add())
        if op == "!" and str(self.peek(1)[1]).lower() == "in":
            self.i += 2
            return ("not", ("in", left, self.paren_list()))
        if op == "in":
            self.next()
            return ("in", left, self.paren_list())
        return left

    def paren_list(self) -> list[Any]:
        self.expect("(")
        items = [self.expr()]
        while self.at(","):
            self.next()
            items.append(self.expr())
        self.expect(")")
        return items

    def add(self) -> Any:
        left = self.mul()
        while self.at("+", "-"):
            op = self.next()[1]
            left = ("arith", op, left, self.mul())
        return left

    def mul(self) -> Any:
        left = self.unary()
        while self.at("*", "/"):
            op = self.next()[1]
            left = ("arith", op, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.at("-"):
            self.next()
            return ("arith", "-", ("lit", 0), self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        node = self.primary()
        while True:
            if self.at("."):
                self.next()
                node = ("member", node, ("lit", self.ident()))
            elif self.at("["):
                self.next()
                node = ("member", node, self.expr())
                self.expect("]")
            else:
                return node

    def primary(self) -> Any:
        kind, value = self.next()
        if kind in ("str", "num", "span"):
            return ("lit", value)
        if kind == "op" and value == "(":
            node = self.expr()
            self.expect(")")
            return node
        if kind == "ident":
            low = str(value).lower()
            if low in ("true", "false"):
                return ("lit", low == "true")
            if low in ("null",):
                return ("lit", None)
            if self.at("("):
                self.next()
                args: list[Any] = []
                if not self.at(")"):
                    args.append(self.expr())
                    while self.at(","):
                        self.next()
                        args.append(self.expr())
                self.expect(")")
                return ("call", low, args)
            return ("col", value)
        raise KqlError(f"Syntax error: unexpected '{value}'", "SyntaxError")


def parse(query: str) -> tuple[str, list[tuple[str, Any]]]:
    """(table name, [(operator, arguments)])."""
    tokens = tokenize(query)
    if not tokens:
        raise KqlError("The query is empty.", "SyntaxError")
    p = _Parser(tokens)
    table = p.ident()
    stages: list[tuple[str, Any]] = []
    while p.peek()[0] != "end":
        p.expect("|")
        op = p.ident().lower()
        while p.at("-") and p.peek(1)[0] == "ident":  # mv-expand, project-away, make-series, …
            p.next()
            op += "-" + p.ident().lower()
        stages.append(_parse_stage(p, op))
    return table, stages


def _named_list(p: _Parser, stop: tuple[str, ...] = ()) -> list[tuple[str | None, Any]]:
    items: list[tuple[str | None, Any]] = []
    while True:
        name = None
        if p.peek()[0] == "ident" and p.peek(1) == ("op", "="):
            name = p.ident()
            p.next()
        items.append((name, p.expr()))
        if not p.at(","):
            return items
        p.next()
        if stop and p.at(*stop):
            return items


def _parse_stage(p: _Parser, op: str) -> tuple[str, Any]:
    if op in ("where", "filter"):
        return ("where", p.expr())
    if op in ("take", "limit"):
        kind, value = p.next()
        if kind != "num":
            raise KqlError(f"'{op}' needs a number of rows", "SyntaxError")
        return ("take", int(value))
    if op == "count":
        return ("count", None)
    if op in ("project", "extend"):
        return (op, _named_list(p))
    if op in ("order", "sort"):
        p.expect("by")
        keys = []
        while True:
            node = p.expr()
            descending = True  # KQL sorts descending unless asked otherwise
            if p.at("asc", "desc"):
                descending = p.next()[1].lower() == "desc"
            keys.append((node, descending))
            if not p.at(","):
                return ("order", keys)
            p.next()
    if op == "summarize":
        aggs = [] if p.at("by") else _named_list(p)
        by: list[tuple[str | None, Any]] = []
        if p.at("by"):
            p.next()
            by = _named_list(p)
        return ("summarize", (aggs, by))
    raise KqlError(f"The tabular operator '{op}' is not supported by the stand-in", "SemanticError")


# ------------------------------------------------------------------------------------------ evaluation
def _num(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def _member(container: Any, key: Any) -> Any:
    if isinstance(container, str):
        try:
            container = json.loads(container)
        except ValueError:
            return None
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list) and isinstance(key, int) and -len(container) <= key < len(container):
        return container[key]
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("has", "!has", "contains", "!contains", "startswith", "=~", "!~"):
        a, b = str(left if left is not None else "").lower(), str(right).lower()
        if op in ("has", "!has"):
            hit = b in re.findall(r"[a-z0-9_]+", a) if re.fullmatch(r"[a-z0-9_]+", b) else b in a
            return hit if op == "has" else not hit
        if op in ("contains", "!contains"):
            return (b in a) if op == "contains" else (b not in a)
        if op == "startswith":
            return a.startswith(b)
        return (a == b) if op == "=~" else (a != b)
    if left is None or right is None:
        return op == "!=" and (left is None) != (right is None)
    left, right = _coerce_pair(left, right)
    try:
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    except TypeError:
        return False


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, bool) and isinstance(right, str):
        return left, right.lower() == "true"
    if isinstance(left, str) and isinstance(right, int | float) and not isinstance(right, bool):
        try:
            return float(left), right
        except ValueError:
            return left, str(right)
    if isinstance(left, int | float) and isinstance(right, str):
        return _coerce_pair(right, left)[::-1]  # type: ignore[return-value]
    return left, right


def _to_double(v: Any) -> float | None:
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _bin(value: Any, size: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and isinstance(size, dt.timedelta):
        step = size.total_seconds()
        return dt.datetime.fromtimestamp(math.floor(value.timestamp() / step) * step, dt.UTC)
    if isinstance(size, int | float) and size:
        return math.floor(float(value) / size) * size
    raise KqlError("bin(): the bin size must be a timespan for datetime values or a number")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "bin": _bin,
    "floor": _bin,
    "todouble": _to_double,
    "toreal": _to_double,
    "toint": lambda v: None if _to_double(v) is None else int(_to_double(v)),  # type: ignore[arg-type]
    "tolong": lambda v: None if _to_double(v) is None else int(_to_double(v)),  # type: ignore[arg-type]
    "tostring": lambda v: "" if v is None else (json.dumps(v) if isinstance(v, dict | list) else str(v)),
    "tobool": lambda v: v if isinstance(v, bool) else str(v).lower() == "true",
    "isempty": lambda v: v is None or v == "",
    "isnotempty": lambda v: not (v is None or v == ""),
    "isnull": lambda v: v is None,
    "isnotnull": lambda v: v is not None,
    "strcat": lambda *a: "".join("" if v is None else str(v) for v in a),
    "round": lambda v, n=0: None if v is None else round(float(v), int(n)),
    "iff": lambda c, a, b: a if c else b,
    "iif": lambda c, a, b: a if c else b,
}


class _Context:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now


def _eval(node: Any, row: Row, ctx: _Context) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "col":
        if node[1] not in row:
            raise KqlError(f"Failed to resolve scalar expression named '{node[1]}'")
        return row[node[1]]
    if kind == "and":
        return bool(_eval(node[1], row, ctx)) and bool(_eval(node[2], row, ctx))
    if kind == "or":
        return bool(_eval(node[1], row, ctx)) or bool(_eval(node[2], row, ctx))
    if kind == "not":
        return not _eval(node[1], row, ctx)
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], row, ctx), _eval(node[3], row, ctx))
    if kind == "in":
        value = _eval(node[1], row, ctx)
        return any(_compare("==", value, _eval(n, row, ctx)) for n in node[2])
    if kind == "member":
        return _member(_eval(node[1], row, ctx), _eval(node[2], row, ctx))
    if kind == "arith":
        return _arith(node[1], _eval(node[2], row, ctx), _eval(node[3], row, ctx))
    if kind == "call":
        return _call(node[1], [_eval(a, row, ctx) for a in node[2]], ctx)
    raise KqlError(f"cannot evaluate {kind}")


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _num(a), _num(b)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if isinstance(a, int) and isinstance(b, int):
            return None if b == 0 else a // b  # KQL: long / long is a long
        return None if b == 0 else a / b
    except TypeError:
        raise KqlError(
            f"The operator '{op}' cannot be applied to {type(a).__name__} and {type(b).__name__}"
        ) from None


def _call(name: str, args: list[Any], ctx: _Context) -> Any:
    if name == "now":
        return ctx.now + (args[0] if args else dt.timedelta(0))
    if name == "ago":
        return ctx.now - args[0]
    if name in ("datetime", "todatetime"):
        return dt.datetime.fromisoformat(str(args[0]).replace("Z", "+00:00")).astimezone(dt.UTC)
    fn = _FUNCTIONS.get(name)
    if fn is None:
        raise KqlError(f"The function '{name}' is not supported by the stand-in")
    try:
        return fn(*args)
    except TypeError as exc:
        raise KqlError(f"{name}(): {exc}") from None


# aggregations -------------------------------------------------------------------------------------
def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (Kusto estimates it; exact on small sets)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _aggregate(node: Any, rows: list[Row], ctx: _Context) -> Any:
    if node[0] != "call":
        raise KqlError("summarize needs an aggregation function such as count() or avg(x)")
    name, args = node[1], node[2]
    if name == "count":
        return len(rows)
    if name == "countif":
        return sum(1 for r in rows if _eval(args[0], r, ctx))
    values = [_eval(args[0], r, ctx) for r in rows] if args else []
    if name == "dcount":
        return len({json.dumps(v, default=str) for v in values if v is not None})
    numbers = [float(_num(v)) for v in values if _to_double(_num(v)) is not None]
    if name == "sum":
        return sum(numbers)
    if name == "avg":
        return sum(numbers) / len(numbers) if numbers else None
    if name in ("min", "max"):
        present = [v for v in values if v is not None]
        return (min if name == "min" else max)(present) if present else None
    if name == "percentile":
        return _percentile(numbers, float(_eval(args[1], {}, ctx)))
    raise KqlError(f"The aggregation '{name}' is not supported by the stand-in")


def _default_name(node: Any, taken: Iterable[str]) -> str:
    if node[0] == "col":
        return str(node[1])
    if node[0] == "member":
        return str(node[2][1]) if node[2][0] == "lit" else "Column1"
    if node[0] == "call":
        name, args = node[1], node[2]
        inner = next((str(a[1]) for a in args if a[0] == "col"), "")
        if name == "bin" and inner:
            return inner
        if name == "percentile" and len(args) == 2:
            return f"percentile_{inner}_{args[1][1]:g}"
        return f"{name}_{inner}" if inner else f"{name}_"
    base, n, taken = "Column1", 1, set(taken)
    while base in taken:
        n += 1
        base = f"Column{n}"
    return base


def _summarize(rows: list[Row], aggs: list[Any], by: list[Any], ctx: _Context) -> list[Row]:
    by_names = [name or _default_name(node, ()) for name, node in by]
    groups: dict[str, tuple[list[Any], list[Row]]] = {}
    for row in rows:
        keys = [_eval(node, row, ctx) for _, node in by]
        slot = json.dumps(keys, default=str)
        groups.setdefault(slot, (keys, []))[1].append(row)
    if not by and not groups:
        groups[""] = ([], [])  # KQL: a summarize without `by` answers one row even on no input
    out = []
    for keys, members in groups.values():
        result: Row = dict(zip(by_names, keys, strict=True))
        for name, node in aggs:
            result[name or _default_name(node, result)] = _aggregate(node, members, ctx)
        out.append(result)
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, dt.datetime):
        return (1, value.timestamp())
    if isinstance(value, int | float):
        return (1, float(value))
    return (2, str(value))


def run(query: str, tables: Callable[[str], list[Row] | None], now: dt.datetime | None = None) -> list[Row]:
    """Run `query`; `tables(name)` returns the rows of a table (None when there is no such table)."""
    ctx = _Context(now or dt.datetime.now(dt.UTC))
    table, stages = parse(query)
    rows = tables(table)
    if rows is None:
        raise KqlError(f"Failed to resolve table or column expression named '{table}'")
    rows = [dict(r) for r in rows]
    for op, arg in stages:
        if op == "where":
            rows = [r for r in rows if _eval(arg, r, ctx)]
        elif op == "take":
            rows = rows[:arg]
        elif op == "count":
            rows = [{"Count": len(rows)}]
        elif op == "extend":
            for r in rows:
                for name, node in arg:
                    r[name or _default_name(node, r)] = _eval(node, r, ctx)
        elif op == "project":
            rows = [
                {name or _default_name(node, ()): _eval(node, r, ctx) for name, node in arg} for r in rows
            ]
        elif op == "order":
            for node, descending in reversed(arg):
                rows.sort(key=lambda r, n=node: _sort_key(_eval(n, r, ctx)), reverse=descending)
        elif op == "summarize":
            rows = _summarize(rows, arg[0], arg[1], ctx)
    return rows


# ------------------------------------------------------------------------------------------ results
def column_type(values: Iterable[Any]) -> str:
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "long"
        if isinstance(v, float):
            return "real"
        if isinstance(v, dt.datetime):
            return "datetime"
        if isinstance(v, dt.timedelta):
            return "timespan"
        if isinstance(v, dict | list):
            return "dynamic"
        return "string"
    return "string"


def _wire(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.timedelta):
        total = value.total_seconds()
        h, rest = divmod(total, 3600)
        m, s = divmod(rest, 60)
        return f"{int(h):02d}:{int(m):02d}:{s:09.6f}"
    if isinstance(value, dict | list):
        return json.dumps(value)  # Log Analytics returns dynamic values as JSON text
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def as_table(rows: list[Row], columns: list[str] | None = None) -> dict[str, Any]:
    """The `PrimaryResult` table of the query API's answer."""
    names: list[str] = list(columns or [])
    for r in rows:
        for key in r:
            if key not in names:
                names.append(key)
    return {
        "name": "PrimaryResult",
        "columns": [{"name": n, "type": column_type(r.get(n) for r in rows)} for n in names],
        "rows": [[_wire(r.get(n)) for n in names] for r in rows],
    }
