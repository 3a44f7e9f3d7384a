"""Parse template JSON while remembering where each value starts, so errors can carry ARM's
"at line 'L' and column 'C'" (1-based line, 1-based column of the value's first character)."""

from __future__ import annotations

import json
from typing import Any

from .errors import TemplateError

Path = tuple[str | int, ...]


def parse_with_positions(text: str) -> tuple[Any, dict[Path, tuple[int, int]]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(
            f"Deployment template parse failed: '{exc.msg}. Path '', line {exc.lineno}, position {exc.colno}.'.",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    positions: dict[Path, tuple[int, int]] = {}
    line_starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            line_starts.append(i + 1)
    _Scanner(text, positions, line_starts).value(())
    return value, positions


class _Scanner:
    """A minimal re-scan of already-valid JSON recording the start offset of every value."""

    def __init__(self, text: str, positions: dict[Path, tuple[int, int]], line_starts: list[int]) -> None:
        self.text = text
        self.i = 0
        self.positions = positions
        self.line_starts = line_starts
        self.decoder = json.JSONDecoder()

    def _where(self, offset: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def _ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def value(self, path: Path) -> None:
        self._ws()
        self.positions[path] = self._where(self.i)
        ch = self.text[self.i]
        if ch == "{":
            self.i += 1
            self._ws()
            if self.text[self.i] == "}":
                self.i += 1
                return
            while True:
                self._ws()
                key, self.i = self.decoder.raw_decode(self.text, self.i)
                self._ws()
                self.i += 1  # ':'
                self.value(path + (key,))
                self._ws()
                ch = self.text[self.i]
                self.i += 1
                if ch == "}":
                    return
        elif ch == "[":
            self.i += 1
            self._ws()
            if self.text[self.i] == "]":
                self.i += 1
                return
            index = 0
            while True:
                self.value(path + (index,))
                index += 1
                self._ws()
                ch = self.text[self.i]
                self.i += 1
                if ch == "]":
                    return
        else:
            _, self.i = self.decoder.raw_decode(self.text, self.i)
