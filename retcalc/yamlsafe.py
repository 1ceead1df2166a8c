"""The YAML loader of every config and report spec (see :mod:`retcalc.validate` for the
limits): PyYAML's safe loader with sizes, depth, aliases and integers bounded, and
messages naming the key path and line."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import yaml

from retcalc.errors import UsageError
from retcalc.validate import (
    FIRST_DAY,
    LAST_DAY,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_NODES,
    _short,
    read_small_file,
)

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"


def _segment(parent: Any, index: Any) -> str:
    """The key path step from ``parent`` to its child at ``index`` (as PyYAML composes)."""
    if isinstance(parent, yaml.SequenceNode):
        return f"[{index}]"
    if isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.ScalarNode):
        return f".{index.value}"
    return ""


def _joined(steps: list[str]) -> str:
    return "".join(steps).removeprefix(".")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a depth limit while composing; dates are left as text
    (checked by :func:`_walk`, read where they are used)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._steps: list[str] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._steps.append(_segment(parent, index))
        try:
            if len(self._steps) > MAX_DEPTH:
                raise _Refused(
                    self.peek_event().start_mark.line,
                    _joined(self._steps),
                    f"nested more than {MAX_DEPTH} levels deep",
                )
            return super().compose_node(parent, index)
        finally:
            self._steps.pop()

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            raise _Refused(node.start_mark.line, None, str(exc), node) from None


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DATE_LIKE = next(
    regexp
    for resolvers in yaml.SafeLoader.yaml_implicit_resolvers.values()
    for tag, regexp in resolvers
    if tag == _TIMESTAMP
)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class _Refused(Exception):
    """A YAML value refused: the 0-based line, its key path (None: look the node up)."""

    def __init__(
        self, line: int, path: str | None, problem: str, node: yaml.Node | None = None
    ) -> None:
        super().__init__(problem)
        self.line, self.path, self.problem, self.node = line, path, problem, node


def _check_scalar(node: yaml.ScalarNode, path: str) -> None:
    """Integers of at most MAX_INT_DIGITS digits; what YAML reads as a date (kept as text
    here) must be a day that exists in the years 1900-2200."""
    if node.tag == _INT:
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_INT_DIGITS:
            raise _Refused(
                node.start_mark.line,
                path,
                f"a number with {digits} digits (at most {MAX_INT_DIGITS}); quote it if it is text",
            )
    date_like = node.style is None and _DATE_LIKE.match(node.value)
    if node.tag == _TIMESTAMP or (node.tag == "tag:yaml.org,2002:str" and date_like):
        try:
            value = _CONSTRUCTOR.construct_yaml_timestamp(yaml.ScalarNode(_TIMESTAMP, node.value))
        except (ValueError, OverflowError):
            value = None
        if value is None:
            raise _Refused(
                node.start_mark.line,
                path,
                f"{_short(node.value)!r} is not a date: expected YYYY-MM-DD, a day that exists "
                f"between {FIRST_DAY} and {LAST_DAY} (quote it if it is text)",
            )
        day = value.date() if isinstance(value, dt.datetime) else value
        if not FIRST_DAY <= day <= LAST_DAY:
            raise _Refused(
                node.start_mark.line,
                path,
                f"{node.value} is outside the dates retcalc accepts ({FIRST_DAY} to "
                f"{LAST_DAY}); a typo in the year?",
            )


def _walk(root: yaml.Node, paths: dict[int, str]) -> None:
    """Record each node's key path; refuse expansions that grow too large or too deep,
    aliases inside the value they name, and scalars that :func:`_check_scalar` refuses."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (values when expanded, depth)
    active: set[int] = set()

    def visit(node: yaml.Node, path: str) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused(node.start_mark.line, path, "an alias refers to the value it is part of")
        active.add(key)
        paths.setdefault(key, path)
        size, depth = 1, 1
        children: list[tuple[yaml.Node, str]] = []
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                where = _joined([path, _segment(node, key_node)])
                children += [(key_node, where), (value_node, where)]
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.ScalarNode):
            _check_scalar(node, path)
        for child, child_path in children:
            child_size, child_depth = visit(child, child_path)
            size += child_size
            depth = max(depth, child_depth + 1)
            if size > MAX_NODES:
                raise _Refused(
                    node.start_mark.line,
                    path,
                    f"holds more than {MAX_NODES:,} values once its aliases (*name) are "
                    "expanded; write the values out or use fewer aliases",
                )
            if depth > MAX_DEPTH:
                raise _Refused(
                    node.start_mark.line,
                    path,
                    f"nested more than {MAX_DEPTH} levels deep once its aliases are expanded",
                )
        active.discard(key)
        sizes[key] = (size, depth)
        return size, depth

    visit(root, "")


def load_yaml(
    text: str, *, name: str, error: type[UsageError] = UsageError
) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document safely: the data and its node tree (for line numbers).

    Every problem is an ``error`` naming ``name``, the line and the key path.
    """
    loader = _Loader(text)
    paths: dict[int, str] = {}
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _walk(root, paths)
        return loader.construct_document(root), root
    except _Refused as exc:
        path = exc.path if exc.path is not None else paths.get(id(exc.node), "")
        where = f"{_short(path, 60)}: " if path else ""
        problem = exc.problem
        if exc.node is not None:  # PyYAML could not build the value
            problem = f"cannot read {_short(str(exc.node.value))!r}: {problem}"
        raise error(f"{name}, line {exc.line + 1}: {where}{problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(exc, yaml.constructor.ConstructorError):
            # The safe loader refuses tags that would build objects (!!python/...).
            raise error(
                f"{name}{where}: {exc.problem}; only text, numbers, lists and mappings are allowed"
            ) from None
        problem = exc.problem or exc.context or "not valid YAML"
        raise error(f"{name}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{name}: not valid YAML: {exc}") from None
    except RecursionError:  # a limit above should have caught it first
        raise error(f"{name}: nested too deeply to read") from None
    finally:
        loader.dispose()


def load_yaml_file(
    path: Path, flag: str, *, error: type[UsageError] = UsageError
) -> tuple[Any, yaml.Node | None]:
    """:func:`read_small_file`, then :func:`load_yaml`; messages name ``path``."""
    text = read_small_file(path, flag, error=error)
    return load_yaml(text, name=os.fspath(path), error=error)
