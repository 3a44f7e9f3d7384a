"""Read YAML safely into plain Python while remembering where every value came from.

PyYAML's own loaders are not used: its composer recurses (a deeply nested file ends in
RecursionError) and its constructor expands aliases without limit (billion laughs). Here the
event stream (libyaml when available: fast and non-recursive) is composed into nodes with an
explicit stack, then converted with a budget on expanded nodes, a depth limit and alias-cycle
detection. Anchors, aliases and `<<` merge keys still work for honest files.

Mapping keys are always the literal key text (`on:` is the string "on", never True), and
implicit timestamps stay strings: a manifest has no use for dates and the surprise is costly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 20_000
# Characters of scalar text after alias expansion: a 1 MiB manifest read honestly stays far below;
# a short string aliased thousands of times (billion laughs with long strings) does not.
MAX_EXPANDED_CHARS = 4 * 1024 * 1024

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()

_T = "tag:yaml.org,2002:"
STR, NULL, BOOL, INT, FLOAT = _T + "str", _T + "null", _T + "bool", _T + "int", _T + "float"
MAP, SEQ, MERGE, TIMESTAMP = _T + "map", _T + "seq", _T + "merge", _T + "timestamp"
_SCALAR_TAGS = {NULL, BOOL, INT, FLOAT}

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    """A fatal reading problem: nothing sensible can be validated after it."""

    def __init__(self, message: str, line: int | None, column: int | None, hint: str) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint


@dataclass(frozen=True)
class Site:
    """Where a value sits in the file (1-based). key_* is the position of its key, if any."""

    line: int
    column: int
    key_line: int | None = None
    key_column: int | None = None
    collection: bool = False  # a mapping/list: errors about it read better at its key


@dataclass(frozen=True)
class NodeIssue:
    message: str
    path: Path
    line: int
    column: int
    hint: str


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


def _pos(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def compose(text: str) -> Node | None:
    """Compose the single document of `text` into a node graph (aliases shared, not copied)."""
    loader = _Loader(text)
    try:
        return _compose(loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = _pos(mark) if mark else (None, None)
        what = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        raise YamlProblem(
            f"YAML syntax error: {what}",
            line,
            col,
            "check indentation (spaces, not tabs), and quote values containing ': ', '#', '{' or '['",
        ) from None
    except yaml.reader.ReaderError as e:  # control characters and the like
        before = text[: e.position]
        line, col = before.count("\n") + 1, e.position - (before.rfind("\n") + 1) + 1
        raise YamlProblem(
            f"unacceptable character #x{e.character:04x} in the manifest",
            line,
            col,
            "remove it; save the file as plain UTF-8 text",
        ) from None
    except yaml.YAMLError as e:
        raise YamlProblem(f"invalid YAML: {e}", None, None, "save the manifest as UTF-8 YAML text") from None
    finally:
        loader.dispose()


def _compose(loader: Any) -> Node | None:
    loader.get_event()  # StreamStart
    if loader.check_event(StreamEndEvent):
        return None
    loader.get_event()  # DocumentStart
    anchors: dict[str, Node] = {}
    # each frame: [collection node, pending mapping key or None]
    stack: list[list[Any]] = []
    root: Node | None = None

    def attach(node: Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        frame = stack[-1]
        parent = frame[0]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif frame[1] is None:
            frame[1] = node
        else:
            parent.value.append((frame[1], node))
            frame[1] = None

    def remember(anchor: str | None, node: Node) -> None:
        if anchor is not None:
            anchors[anchor] = node

    while True:
        event = loader.get_event()
        if isinstance(event, AliasEvent):
            if event.anchor not in anchors:
                line, col = _pos(event.start_mark)
                raise YamlProblem(
                    f"alias `*{event.anchor}` refers to no anchor defined before it",
                    line,
                    col,
                    f"define `&{event.anchor}` earlier in the file",
                )
            attach(anchors[event.anchor])
        elif isinstance(event, ScalarEvent):
            node = _scalar_node(event)
            remember(event.anchor, node)
            attach(node)
        elif isinstance(event, (SequenceStartEvent, MappingStartEvent)):
            node = _collection_node(event)
            remember(event.anchor, node)
            attach(node)
            stack.append([node, None])
            _check_depth(len(stack), event)
        elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
            node = stack.pop()[0]
            node.end_mark = event.end_mark
        else:
            raise YamlProblem("unexpected YAML event", None, None, "this should not happen; please report it")
        if not stack and root is not None:
            break
    loader.get_event()  # DocumentEnd
    if not loader.check_event(StreamEndEvent):
        line, col = _pos(loader.peek_event().start_mark)
        raise YamlProblem(
            "more than one YAML document in the manifest",
            line,
            col,
            "remove the second `---` document; one genaiops.yaml holds one manifest",
        )
    return root


def _scalar_node(event: Any) -> ScalarNode:
    tag = event.tag
    if tag is None or tag == "!":
        tag = _resolver.resolve(ScalarNode, event.value, event.implicit)
    return ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)


def _collection_node(event: Any) -> Node:
    kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
    tag = event.tag
    if tag is None or tag == "!":
        tag = _resolver.resolve(kind, None, event.implicit)
    return kind(tag, [], event.start_mark, None, flow_style=event.flow_style)


def _check_depth(depth: int, event: Any) -> None:
    if depth > MAX_DEPTH:
        line, col = _pos(event.start_mark)
        raise YamlProblem(
            f"nesting deeper than {MAX_DEPTH} levels",
            line,
            col,
            "a manifest is a few levels deep; flatten it",
        )


@dataclass
class Converter:
    """Node graph → plain Python (dict/list/str/int/float/bool/None), recording a Site per path.

    `on_string(text, path, node)` post-processes every string scalar (interpolation)."""

    on_string: Callable[[str, Path, ScalarNode], str]
    sites: dict[Path, Site] = field(default_factory=dict)
    issues: list[NodeIssue] = field(default_factory=list)
    _budget: int = MAX_EXPANDED_NODES
    _chars: int = MAX_EXPANDED_CHARS
    _active: set[int] = field(default_factory=set)

    def convert(self, node: Node, path: Path = (), key_site: tuple[int, int] | None = None) -> Any:
        self._budget -= 1
        line, col = _pos(node.start_mark)
        if self._budget < 0:
            raise YamlProblem(
                f"the manifest expands to more than {MAX_EXPANDED_NODES} values "
                "(aliases repeated many times?)",
                line,
                col,
                "this looks like a YAML bomb; write the values out or use fewer aliases",
            )
        if len(path) > MAX_DEPTH:
            raise YamlProblem(
                f"nesting deeper than {MAX_DEPTH} levels",
                line,
                col,
                "a manifest is a few levels deep; flatten it",
            )
        if id(node) in self._active:
            raise YamlProblem(
                "recursive alias: a value contains itself",
                line,
                col,
                "an alias may not point at one of its own parents",
            )
        self.sites[path] = Site(
            line, col, *(key_site or (None, None)), collection=not isinstance(node, ScalarNode)
        )
        if isinstance(node, ScalarNode):
            self._chars -= len(node.value)
            if self._chars < 0:
                raise YamlProblem(
                    f"the manifest expands to more than {MAX_EXPANDED_CHARS // (1024 * 1024)} MiB of text "
                    "(aliases repeating long strings?)",
                    line,
                    col,
                    "this looks like a YAML bomb; write the values out or use fewer aliases",
                )
            return self._scalar(node, path)
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, SEQ, path)
                return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
            self._check_tag(node, MAP, path)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _check_tag(self, node: Node, expected: str, path: Path) -> None:
        if node.tag != expected:
            self._issue(
                node,
                path,
                f"unsupported YAML tag `{short_tag(node.tag)}`",
                "remove the tag; manifests use plain YAML",
            )

    def _issue(self, node: Node, path: Path, message: str, hint: str) -> None:
        line, col = _pos(node.start_mark)
        self.issues.append(NodeIssue(message, path, line, col, hint))

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag in (STR, TIMESTAMP):
            return self.on_string(node.value, path, node)
        if tag in _SCALAR_TAGS:
            try:
                return _constructor.yaml_constructors[tag](_constructor, node)
            except Exception:  # e.g. `!!int abc`
                self._issue(
                    node, path, f"`{node.value}` is not a valid {tag.rsplit(':', 1)[-1]}", "remove the tag"
                )
                return node.value
        self._issue(
            node, path, f"unsupported YAML tag `{short_tag(tag)}`", "remove the tag; manifests use plain YAML"
        )
        return node.value

    def _key(self, key: Node, path: Path) -> str | None:
        if not isinstance(key, ScalarNode):
            self._issue(
                key, path, "a mapping key must be a plain name, not a list or mapping", "use a string key"
            )
            return None
        return key.value

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == MERGE:
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            key_line, key_col = _pos(key_node.start_mark)
            if key in first_seen:
                self.issues.append(
                    NodeIssue(
                        f"duplicate key `{key}` (first defined on line {first_seen[key]})",
                        path + (key,),
                        key_line,
                        key_col,
                        "remove one of them; YAML would silently keep only one",
                    )
                )
                continue
            first_seen[key] = key_line
            result[key] = self.convert(value_node, path + (key,), (key_line, key_col))
        for source in merges:
            items = source.value if isinstance(source, SequenceNode) else [source]
            for item in items:
                if not isinstance(item, MappingNode):
                    self._issue(
                        item, path, "`<<` must merge a mapping (or a list of mappings)", "`<<: *anchor`"
                    )
                    continue
                # convert the source aside, then keep only what the explicit keys did not set
                own_sites, self.sites = self.sites, {}
                try:
                    merged = self.convert(item, path)
                finally:
                    aside, self.sites = self.sites, own_sites
                fresh = {k for k in merged if k not in result}
                for k in fresh:
                    result[k] = merged[k]
                depth = len(path)
                for p, site in aside.items():
                    if len(p) > depth and p[depth] in fresh:
                        self.sites[p] = site
        return result
