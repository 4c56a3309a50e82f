"""YAML -> pydantic model, with errors that name the file, the line and the field.

The file is read with PyYAML's ``BaseLoader`` (libyaml's when PyYAML has it): every
scalar stays a string and pydantic does the typing. That avoids YAML 1.1's surprises
(``NO`` -> ``False``, an unquoted account id ``012345678901`` read as an octal number,
``10:00`` read as sexagesimal 600)
and leaves one place, the model, that decides what a field may hold. The node tree
keeps the marks, so an error's ``loc`` (``("windows", 0, "duration")``) is walked down
the tree to the line of the offending node.

What one document may cost is bounded before it is built (ADR 0040): at most
:data:`MAX_YAML_BYTES` of text, :data:`MAX_YAML_DEPTH` levels of nesting and
:data:`MAX_YAML_NODES` nodes counted with every alias expanded, all checked on the
event stream, so an alias bomb (a 400-byte file naming a billion nodes) or a 10,000-deep
nesting is refused in milliseconds with one line instead of stalling or overflowing the
recursive composer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from features import ConfigurationError

__all__ = [
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "load_yaml_model",
    "read_yaml_model",
    "yaml_error_message",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_YAML_BYTES: Final = 8 << 20
"""Characters of one YAML document, at most."""
MAX_YAML_DEPTH: Final = 64
"""Nesting of collections, at most (a policy file needs six)."""
MAX_YAML_NODES: Final = 1_000_000
"""Nodes of one document with every alias expanded, at most."""

_Loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def _line(event: yaml.Event) -> int:
    return 1 + (event.start_mark.line if event.start_mark is not None else 0)


def _check_size(text: str, source: str) -> None:
    """Refuse, on the event stream, a document too long, too deep or too large once expanded.

    Each collection's expanded size (itself and everything in it, aliases expanded) is
    known when it ends and kept under its anchor, so an alias adds its anchor's size
    without walking it; the running total is what building the document would cost.

    Raises
    ------
    ConfigurationError
        Naming the line and the bound.
    """
    if len(text) > MAX_YAML_BYTES:
        raise ConfigurationError(
            f"{source}: {len(text)} characters; a YAML document may have {MAX_YAML_BYTES}"
        )
    sizes: dict[str, int] = {}
    open_: list[tuple[str | None, int]] = []  # anchor, expanded size so far
    total = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                add = sizes.get(str(event.anchor), 1)
            elif isinstance(event, yaml.ScalarEvent):
                add = 1
                if event.anchor is not None:
                    sizes[str(event.anchor)] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                open_.append((event.anchor, 1))
                if len(open_) > MAX_YAML_DEPTH:
                    raise ConfigurationError(
                        f"{source}:{_line(event)}: nested deeper than {MAX_YAML_DEPTH} levels"
                    )
                add = 0
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size = open_.pop()
                if anchor is not None:
                    sizes[str(anchor)] = size
                if open_:
                    open_[-1] = (open_[-1][0], open_[-1][1] + size)
                total += 1
                continue
            else:
                continue
            if open_:
                open_[-1] = (open_[-1][0], open_[-1][1] + add)
            total += add
            if total > MAX_YAML_NODES:
                raise ConfigurationError(
                    f"{source}:{_line(event)}: more than {MAX_YAML_NODES} nodes "
                    "with aliases expanded (an alias bomb?)"
                )
    except yaml.YAMLError:
        return  # composing says what is wrong, with its line


def _check_duplicate_keys(root: yaml.Node, source: str) -> None:
    """Reject mappings that name a key twice (PyYAML silently keeps the last one).

    Each node is looked at once, however many aliases share it.
    """
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    raise ConfigurationError(
                        f"{source}:{key.start_mark.line + 1}: key {name!r} given twice "
                        f"(first on line {seen[name]})"
                    )
                seen[name] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Return the 1-based line of the deepest node ``loc`` reaches in the tree."""
    if root is None:
        return None
    node = root
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(file)"


def yaml_error_message(error: ValidationError, root: yaml.Node | None, source: str) -> str:
    """Turn a pydantic error into lines ``source:line: field: message``, one per problem."""
    lines = []
    for problem in error.errors(include_url=False):
        # pydantic adds the name of a tagged-union member or a function validator to loc;
        # keep only the parts that are keys and indexes of the document.
        loc = tuple(part for part in problem["loc"] if isinstance(part, int | str))
        line = _line_of(root, loc)
        message = str(problem["msg"]).removeprefix("Value error, ")
        where = f"{source}:{line}" if line is not None else source
        lines.append(f"{where}: {_dotted(loc)}: {message}")
    return "\n".join(lines)


def load_yaml_model(model: type[ModelT], text: str, *, source: str = "<string>") -> ModelT:
    """Parse ``text`` as YAML and validate it as ``model``.

    Parameters
    ----------
    model : type of BaseModel
        The pydantic model of the whole document.
    text : str
        The YAML document.
    source : str
        The file name errors start with.

    Raises
    ------
    ConfigurationError
        When the text is not YAML, is over a bound (:data:`MAX_YAML_BYTES`,
        :data:`MAX_YAML_DEPTH`, :data:`MAX_YAML_NODES`), names a key twice, or does not
        fit the model; the message holds one line ``source:line: field: what is wrong``
        per problem.
    """
    _check_size(text, source)
    try:
        root = yaml.compose(text, Loader=_Loader)
        if root is None:
            data: Any = {}
        else:
            _check_duplicate_keys(root, source)
            data = yaml.constructor.BaseConstructor().construct_document(root)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigurationError(f"{source}{line}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}:1: expected a mapping at the top of the file")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigurationError(yaml_error_message(error, root, source)) from None


def read_yaml_model(model: type[ModelT], path: str | Path) -> ModelT:
    """Read and validate a YAML file (see :func:`load_yaml_model`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read: {error.strerror or error}") from None
    return load_yaml_model(model, text, source=str(path))
