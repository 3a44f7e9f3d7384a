"""The ARM expression language: `[fn(args).prop[index]]` inside JSON strings.

Grammar (as ARM accepts it): expression := call accessor*; call := name '(' [arg (',' arg)*] ')';
arg := expression | 'single-quoted string' ('' escapes a quote) | integer; accessor := '.' name | '[' arg ']'.
A JSON string is an expression only when it starts with '[' and ends with ']'; a leading '[[' escapes
the bracket and yields the literal text minus the first '['."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import EXPRESSIONS_HELP, ExpressionError


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Access:
    target: Any
    key: Any  # a node evaluating to a property name or an index


Node = Literal | Call | Access

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+)|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<str>'(?:[^']|'')*')|(?P<sym>[(),.\[\]]))"
)


def is_expression(text: str) -> bool:
    return len(text) >= 2 and text[0] == "[" and text[-1] == "]" and not text.startswith("[[")


def literal_text(text: str) -> str:
    """The value of a non-expression JSON string (ARM's '[[' escape)."""
    return text[1:] if text.startswith("[[") else text


def _tokens(source: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise ExpressionError(
                f"The language expression '{source}' is not valid: the string character "
                f"'{source[pos:].strip()[:1]}' at position '{pos}' is not expected. {EXPRESSIONS_HELP}"
            )
        kind = m.lastgroup or "sym"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse(text: str) -> Node:
    """Parse the inside of a `[...]` JSON string."""
    source = text[1:-1]
    tokens = _tokens(source)
    parser = _Parser(tokens, source)
    node = parser.expression()
    if parser.pos != len(tokens):
        raise ExpressionError(
            f"The language expression '{source}' is not valid: unexpected '{tokens[parser.pos][1]}' "
            f"after the end of the expression. {EXPRESSIONS_HELP}"
        )
    if isinstance(node, Literal):
        # ARM requires a function call at the top level ("[ 'abc' ]" is not a valid expression).
        raise ExpressionError(
            f"The language expression '{source}' is not valid: the expression must be a "
            f"function call. {EXPRESSIONS_HELP}"
        )
    return node


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _expect(self, symbol: str) -> None:
        tok = self._peek()
        if tok != ("sym", symbol):
            got = tok[1] if tok else "end of expression"
            raise ExpressionError(
                f"The language expression '{self.source}' is not valid: expected '{symbol}' but "
                f"found '{got}'. {EXPRESSIONS_HELP}"
            )
        self.pos += 1

    def expression(self) -> Node:
        tok = self._peek()
        if tok is None:
            raise ExpressionError(
                f"The language expression '{self.source}' is not valid: the expression is "
                f"incomplete. {EXPRESSIONS_HELP}"
            )
        kind, value = tok
        self.pos += 1
        node: Node
        if kind == "num":
            node = Literal(int(value))
        elif kind == "str":
            node = Literal(value[1:-1].replace("''", "'"))
        elif kind == "name":
            self._expect("(")
            args: list[Node] = []
            if self._peek() != ("sym", ")"):
                while True:
                    args.append(self.expression())
                    if self._peek() == ("sym", ","):
                        self.pos += 1
                        continue
                    break
            self._expect(")")
            node = Call(value, tuple(args))
        else:
            raise ExpressionError(
                f"The language expression '{self.source}' is not valid: unexpected '{value}'. "
                f"{EXPRESSIONS_HELP}"
            )
        while True:
            tok = self._peek()
            if tok == ("sym", "."):
                self.pos += 1
                name = self._peek()
                if not name or name[0] != "name":
                    raise ExpressionError(
                        f"The language expression '{self.source}' is not valid: a property name "
                        f"must follow '.'. {EXPRESSIONS_HELP}"
                    )
                self.pos += 1
                node = Access(node, Literal(name[1]))
            elif tok == ("sym", "["):
                self.pos += 1
                key = self.expression()
                self._expect("]")
                node = Access(node, key)
            else:
                return node


class Scope(Protocol):
    """What an evaluation can see: the function table bound to one template evaluation."""

    def call(self, name: str, args: tuple[Node, ...]) -> Any: ...


def evaluate(node: Node, scope: Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call):
        return scope.call(node.name, node.args)
    target = evaluate(node.target, scope)
    key = evaluate(node.key, scope)
    return access(target, key)


def access(target: Any, key: Any) -> Any:
    if isinstance(target, dict):
        if not isinstance(key, str):
            raise ExpressionError(
                f"The language expression property array index '{key}' is not valid: an object "
                f"needs a property name. {EXPRESSIONS_HELP}"
            )
        if key in target:
            return target[key]
        for k, v in target.items():  # ARM property access is case-insensitive
            if k.lower() == key.lower():
                return v
        raise ExpressionError(
            f"The language expression property '{key}' doesn't exist, available properties are "
            f"'{', '.join(target)}'."
        )
    if isinstance(target, list):
        if isinstance(key, bool) or not isinstance(key, int):
            raise ExpressionError(
                f"The language expression property '{key}' can't be evaluated, property name must "
                f"be a string for an object and an integer index for an array."
            )
        if not 0 <= key < len(target):
            raise ExpressionError(f"The language expression property array index '{key}' is out of bounds.")
        return target[key]
    raise ExpressionError(
        f"The language expression property '{key}' can't be evaluated: the value is of type "
        f"'{type_name(target)}'."
    )


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "Null"


def walk_calls(node: Node) -> list[Call]:
    """Every function call in the tree (used to find reference()/list*() targets for implicit dependsOn)."""
    out: list[Call] = []
    if isinstance(node, Call):
        out.append(node)
        for a in node.args:
            out.extend(walk_calls(a))
    elif isinstance(node, Access):
        out.extend(walk_calls(node.target))
        out.extend(walk_calls(node.key))
    return out
