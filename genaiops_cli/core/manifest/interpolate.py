"""`${VAR}` / `${VAR:-default}` interpolation of string scalars, `$$` for a literal `$`.

Only `${` starts a reference, so JSONPath strings such as `$.answer` pass untouched.
`${VAR:-default}` uses the default when VAR is unset *or empty* (as docker compose does);
`${VAR}` with VAR unset is an error, VAR set to "" gives "". The default is literal text
(no nested references), which keeps the rule easy to explain."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class InterpolationProblem:
    message: str
    hint: str
    offset: int  # index of the offending `$` in the scalar's text
    variable: str | None = None


def interpolate(text: str, environ: Mapping[str, str]) -> tuple[str, list[InterpolationProblem]]:
    """Return the substituted text and every problem found (the text keeps the raw reference
    where a problem occurred, so later validation sees something string-shaped)."""
    if "$" not in text:
        return text, []
    out: list[str] = []
    problems: list[InterpolationProblem] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        nxt = text[j + 1] if j + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i = j + 2
            continue
        if nxt != "{":
            out.append("$")
            i = j + 1
            continue
        end = text.find("}", j + 2)
        if end < 0:
            problems.append(
                InterpolationProblem(
                    f"unterminated `${{` in {text!r}",
                    "close the reference with `}` (`${NAME}`), or write `$$` for a literal `$`",
                    j,
                )
            )
            out.append(text[j:])
            break
        body = text[j + 2 : end]
        value, problem = _resolve(body, environ, j)
        if problem:
            problems.append(problem)
            out.append(text[j : end + 1])
        else:
            out.append(value)
        i = end + 1
    return "".join(out), problems


def _resolve(body: str, environ: Mapping[str, str], offset: int) -> tuple[str, InterpolationProblem | None]:
    m = _NAME.match(body)
    if not m:
        return "", InterpolationProblem(
            f"invalid variable reference `${{{body}}}`",
            "a variable name is letters, digits and `_`, not starting with a digit: "
            "`${AZURE_SUBSCRIPTION_ID}`",
            offset,
        )
    name, rest = m.group(0), body[m.end() :]
    if rest == "":
        if name in environ:
            return environ[name], None
        return "", InterpolationProblem(
            f"environment variable `{name}` is not set",
            f"export {name}=..., or give a default: `${{{name}:-value}}`",
            offset,
            name,
        )
    if rest.startswith(":-"):
        default = rest[2:]
        if "${" in default:
            return "", InterpolationProblem(
                f"nested reference in the default of `${{{body}}}` is not supported",
                "use a literal default: `${NAME:-value}`",
                offset,
                name,
            )
        value = environ.get(name, "")
        return (value if value != "" else default), None
    return "", InterpolationProblem(
        f"unsupported form `${{{body}}}`",
        f"write `${{{name}}}` or `${{{name}:-default}}`; `$$` is a literal `$`",
        offset,
        name,
    )
