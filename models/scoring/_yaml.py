"""YAML -> pydantic model, with errors that name the file, the line and the field.

The file is read with PyYAML's ``BaseLoader``: every scalar stays a string and pydantic
does the typing. That avoids YAML 1.1's surprises (``NO`` -> ``False``, an unquoted
account id ``012345678901`` read as an octal number, ``10:00`` read as sexagesimal 600)
and leaves one place, the model, that decides what a field may hold. The node tree
keeps the marks, so an error's ``loc`` (``("windows", 0, "duration")``) is walked down
the tree to the line of the offending node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from features import ConfigurationError

__all__ = ["load_yaml_model", "read_yaml_model", "yaml_error_message"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def _check_duplicate_keys(node: yaml.Node, source: str) -> None:
    """Reject mappings that name a key twice (PyYAML silently keeps the last one)."""
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
            _check_duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, source)


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
        When the text is not YAML, names a key twice, or does not fit the model; the
        message holds one line ``source:line: field: what is wrong`` per problem.
    """
    try:
        root = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigurationError(f"{source}{line}: not valid YAML: {problem}") from None
    if root is None:
        data: Any = {}
    else:
        _check_duplicate_keys(root, source)
        data = yaml.BaseLoader(text).get_single_data()
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
