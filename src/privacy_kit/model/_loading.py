"""Loading policies and data maps from YAML, JSON or mappings, with errors that say where.

Every failure, whether the file cannot be read, does not parse, or does not validate, becomes one
:class:`~privacy_kit.PolicyError` that names the file, each location inside it (``retention[2].duration``)
and what was expected.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .._errors import PolicyError, Problem
from ._datamap import DataMap
from ._policy import Policy

__all__ = [
    "example_path",
    "format_location",
    "load_datamap",
    "load_policy",
    "read_document",
    "validation_problems",
]

Source = str | os.PathLike[str] | Mapping[str, Any]
_M = TypeVar("_M", bound=BaseModel)


def example_path(name: str = "policy.yaml") -> Path:
    """Path of a file of the built-in example (the reference scheduling service).

    Example:
        >>> example_path("datamap.yaml").name
        'datamap.yaml'
    """
    here = Path(__file__).resolve().parents[1]  # the privacy_kit package
    for folder in (
        here / "examples" / "scheduling_service",
        here.parents[1] / "examples" / "scheduling_service",
    ):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"the built-in example has no file {name!r}")


def format_location(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a path: ``('retention', 2, 'duration')`` → ``retention[2].duration``.

    Example:
        >>> format_location(("retention", 2, "duration"))
        'retention[2].duration'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        # Other parts are pydantic's internal tags (union members, validator names): not a place
        # in the user's document, so they are left out.
    return out


def _join(prefix: str, location: str) -> str:
    if not prefix:
        return location
    if not location:
        return prefix
    return f"{prefix}{location}" if location.startswith("[") else f"{prefix}.{location}"


def validation_problems(exc: ValidationError) -> list[Problem]:
    """Turn a pydantic ``ValidationError`` into located :class:`Problem` objects."""
    problems: list[Problem] = []
    errors = exc.errors(include_url=False)
    for error in errors:
        # pydantic also reports "at least 1 item" for a list whose only items were invalid;
        # the user gave items, so only the errors inside them are real.
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(error["loc"])
            and tuple(other["loc"][: len(error["loc"])]) == tuple(error["loc"])
            for other in errors
        ):
            continue
        prefix = format_location(tuple(error["loc"]))
        if error["type"] in ("policy_references", "datamap_references"):
            for line in error["msg"].split("\n"):
                location, sep, message = line.partition(": ")
                if sep and " " not in location:
                    problems.append(Problem(_join(prefix, location), message))
                else:
                    problems.append(Problem(prefix, line))
            continue
        message = error["msg"]
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] in ("enum", "literal_error") and "expected" in error.get("ctx", {}):
            message = f"{message} (got {error['input']!r})"
        elif error["type"] in _TYPE_ERRORS:
            message = f"{message} (got {_type_name(error['input'])})"
        elif error["type"].endswith("_parsing") and isinstance(error.get("input"), str):
            message = f"{message} (got {error['input']!r})"
        problems.append(Problem(prefix, message))
    return problems


# pydantic's "Input should be a valid X" errors: saying what was found makes them actionable.
_TYPE_ERRORS = frozenset(
    {"model_type", "dict_type", "tuple_type", "list_type", "string_type", "int_type", "bool_type"}
)


def _type_name(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def read_document(path: str | os.PathLike[str]) -> Any:
    """Read a YAML or JSON file; raise :class:`PolicyError` naming the file on any failure."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PolicyError(name, [Problem("", f"cannot read file: {exc.strerror or exc}")]) from exc
    if p.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise PolicyError(name, [Problem("", "unsupported file type; use .yaml, .yml or .json")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(
            name,
            [
                Problem(
                    "", f"file is not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}"
                )
            ],
        ) from exc
    if p.suffix.lower() == ".json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise PolicyError(name, [Problem(where, f"invalid JSON: {exc.msg}")]) from exc
    try:
        import yaml  # noqa: PLC0415 - optional dependency, imported only when a YAML file is read
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PolicyError(
            name, [Problem("", "reading YAML needs PyYAML: pip install 'privacy-kit[yaml]'")]
        ) from exc
    try:
        return yaml.load(text, Loader=_strict_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            # e.g. an unclosed '[': PyYAML notices it lines later; say where it was opened
            problem += f" ({context} at line {start.line + 1}, column {start.column + 1})"
        raise PolicyError(name, [Problem(where, f"invalid YAML: {problem}")]) from exc


@functools.cache
def _strict_yaml_loader() -> Any:
    """A ``yaml.SafeLoader`` that refuses duplicate keys (PyYAML silently keeps the last one)."""
    import yaml  # noqa: PLC0415 - optional dependency

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: PyYAML reports it itself
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _load(model: type[_M], source: Source | _M, what: str) -> _M:
    if isinstance(source, model):
        return source
    if isinstance(source, Mapping):
        name, data = f"<{what} mapping>", source
    elif isinstance(source, str | os.PathLike):
        name, data = str(source), read_document(source)
    else:
        raise TypeError(f"expected a path or a mapping for the {what}, got {type(source).__name__}")
    if data is None:
        raise PolicyError(name, [Problem("", f"the file is empty; expected a {what} mapping")])
    if not isinstance(data, Mapping):
        raise PolicyError(
            name,
            [Problem("", f"expected a mapping at the top of the {what}, got {_type_name(data)}")],
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(name, validation_problems(exc)) from None


def load_policy(source: Source | Policy) -> Policy:
    """Load and validate a policy from a YAML/JSON path or a mapping.

    Args:
        source: a path to a ``.yaml``/``.yml``/``.json`` file, or a mapping.

    Returns:
        The validated, frozen :class:`~privacy_kit.Policy`.

    Raises:
        PolicyError: naming the file, each location inside it and what was expected.

    Example:
        >>> import privacy_kit as pk
        >>> pk.load_policy(pk.example_path()).children.minimum_age
        16
        >>> pk.load_policy({"version": "1"})
        Traceback (most recent call last):
        ...
        privacy_kit._errors.PolicyError: <policy mapping>: ...
    """
    return _load(Policy, source, "policy")


def load_datamap(source: Source | DataMap, policy: Policy | None = None) -> DataMap:
    """Load and validate a data map; with ``policy``, also check its categories and subject kinds.

    Raises:
        PolicyError: naming the file, each location inside it and what was expected.

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> "bookings" in [r.name for r in dm.record_types]
        True
    """
    datamap = _load(DataMap, source, "data map")
    if policy is not None:
        problems = list(datamap_reference_problems(datamap, policy))
        if problems:
            name = (
                str(source) if not isinstance(source, Mapping | DataMap) else "<data map mapping>"
            )
            raise PolicyError(name, problems)
    return datamap


def datamap_reference_problems(datamap: DataMap, policy: Policy) -> list[Problem]:
    """Categories, subject kinds and retention rules a data map names that the policy does not know."""
    from ._check import datamap_vocabulary_problems  # noqa: PLC0415 - avoids an import cycle

    return datamap_vocabulary_problems(datamap, policy)
