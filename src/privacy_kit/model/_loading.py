"""Loading policies and data maps from YAML, JSON or mappings, with errors that say where.

Every failure, whether the file cannot be read, does not parse, or does not validate, becomes one
:class:`~privacy_kit.PolicyError` that names the file, each location inside it (``retention[2].duration``)
and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .._errors import PolicyError, Problem, WrongTypeError
from ._datamap import DataMap
from ._datamap_refs import datamap_vocabulary_problems
from ._policy import Policy
from ._reading import (
    DEFAULT_MAX_BYTES,
    bounded,
    data_problems,
    parse_document,
    read_bytes,
    require_max_bytes,
    shorten,
)

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
            message = f"{message} (got {shorten(error['input'])})"
        elif error["type"] in _TYPE_ERRORS:
            message = f"{message} (got {_type_name(error['input'])})"
        elif error["type"].endswith("_parsing") and isinstance(error.get("input"), str):
            message = f"{message} (got {shorten(error['input'])})"
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


def read_document(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read a YAML or JSON file; raise :class:`PolicyError` naming the file on any failure.

    Only a regular file of at most ``max_bytes`` bytes (10 MiB by default) is read; a YAML alias
    bomb, nesting deeper than 64 levels, a value YAML cannot build (``!!float x``, ``2024-02-30``)
    and text that cannot be written as UTF-8 (a lone surrogate) are refused, each at its place.

    Example:
        >>> read_document(example_path(), max_bytes=100)
        Traceback (most recent call last):
        ...
        privacy_kit._errors.PolicyError: ...: the file is larger than 100 bytes, the limit (raise it with max_bytes=)
    """
    limit = require_max_bytes(max_bytes)
    p = Path(path)
    name = str(path)
    suffix = p.suffix.lower()
    raw = read_bytes(p, name, limit, suffix_ok=suffix in (".json", ".yaml", ".yml"))
    return parse_document(raw, name, json=suffix == ".json")


def _load(
    model: type[_M],
    source: Source | _M,
    what: str,
    *,
    salvage: Callable[[Mapping[str, Any]], list[Problem]],
    max_bytes: int,
) -> _M:
    require_max_bytes(max_bytes)
    if isinstance(source, model):
        return source
    if isinstance(source, Mapping):
        name, data = f"<{what} mapping>", source
        limits = data_problems(data)  # a file's data was checked as it was read
        if limits:
            raise PolicyError(name, bounded(limits))
    elif isinstance(source, str | os.PathLike):
        name, data = str(source), read_document(source, max_bytes=max_bytes)
    else:
        raise WrongTypeError(
            f"expected a path or a mapping for the {what}, got {type(source).__name__}"
        )
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
        problems = validation_problems(exc)
        errors = exc.errors(include_url=False)
        if any(not e["loc"] and e["type"] == "unknown_key" for e in errors):
            # An unknown top-level key stops pydantic before any section is validated: report it,
            # then validate the rest of the document as if the key were not there.
            known = _known_keys(model)
            problems += _problems_without_unknown_keys(
                model, {k: v for k, v in data.items() if k in known}, salvage
            )
        else:
            problems += salvage(data)
        raise PolicyError(name, bounded(_unique(problems))) from None
    except RecursionError:  # pragma: no cover - data_problems bounds the nesting first
        raise PolicyError(name, [Problem("", "the document is nested too deeply")]) from None


def _problems_without_unknown_keys(
    model: type[BaseModel],
    data: Mapping[str, Any],
    salvage: Callable[[Mapping[str, Any]], list[Problem]],
) -> list[Problem]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return validation_problems(exc) + salvage(data)
    return []


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _known_keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields) | {
        f.alias for f in model.model_fields.values() if f.alias is not None
    }


def _as_policy(policy: Policy | Source | None, max_bytes: int) -> Policy | None:
    if policy is None or isinstance(policy, Policy):
        return policy
    if isinstance(policy, str | os.PathLike | Mapping):
        return load_policy(policy, max_bytes=max_bytes)
    raise WrongTypeError(
        f"policy must be a Policy, a path or a mapping, got {type(policy).__name__}"
    )


def load_policy(source: Source | Policy, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Policy:
    """Load and validate a policy from a YAML/JSON path or a mapping.

    Every problem of the document is reported at once: the structural ones (a wrong type, a
    missing section, an unknown key) together with the cross-references that can still be checked
    in the sections that are well formed (an unknown category, a duplicate key, ...).

    Hostile input is refused, not let run: only a regular file of at most ``max_bytes`` bytes
    is read, and YAML alias bombs, nesting deeper than 64 levels and text with lone surrogates
    are located errors (see "Limits" in ``docs/errors.md``).

    Args:
        source: a path to a ``.yaml``/``.yml``/``.json`` file, or a mapping.
        max_bytes: the largest file read (default 10 MiB).

    Returns:
        The validated, frozen :class:`~privacy_kit.Policy`.

    Raises:
        PolicyError: naming the file, each location inside it and what was expected.
        WrongTypeError: ``source`` is neither a path, a mapping nor a ``Policy``.

    Example:
        >>> import privacy_kit as pk
        >>> pk.load_policy(pk.example_path()).children.minimum_age
        16
        >>> pk.load_policy({"version": "1"})
        Traceback (most recent call last):
        ...
        privacy_kit._errors.PolicyError: <policy mapping>: ...
    """
    return _load(Policy, source, "policy", salvage=_policy_salvage, max_bytes=max_bytes)


def load_datamap(
    source: Source | DataMap,
    policy: Policy | Source | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DataMap:
    """Load and validate a data map; with ``policy``, also check its categories and subject kinds.

    Args:
        source: a path to a ``.yaml``/``.yml``/``.json`` file, a mapping or a ``DataMap``.
        policy: the policy whose vocabulary the data map must use: a ``Policy``, or a path or
            mapping that is loaded with :func:`load_policy` first.
        max_bytes: the largest file read, for the data map and a policy given as a path
            (default 10 MiB).

    Raises:
        PolicyError: naming the file, each location inside it and what was expected; all the
            problems at once, those against the policy included.
        WrongTypeError: ``source`` or ``policy`` is of none of the accepted types.

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"), policy=pk.example_path())
        >>> "bookings" in [r.name for r in dm.record_types]
        True
    """
    resolved = _as_policy(policy, max_bytes)
    datamap = _load(
        DataMap,
        source,
        "data map",
        salvage=lambda data: _datamap_salvage(data, resolved),
        max_bytes=max_bytes,
    )
    if resolved is not None:
        problems = list(datamap_reference_problems(datamap, resolved))
        if problems:
            name = (
                str(source) if not isinstance(source, Mapping | DataMap) else "<data map mapping>"
            )
            raise PolicyError(name, bounded(problems))
    return datamap


def datamap_reference_problems(datamap: DataMap, policy: Policy) -> list[Problem]:
    """Categories, subject kinds and retention rules a data map names that the policy does not know."""
    return datamap_vocabulary_problems(datamap, policy)


# -- what can still be checked when some sections are malformed: see ._salvage ------------------


def _policy_salvage(data: Mapping[str, Any]) -> list[Problem]:
    from ._salvage import policy_salvage  # noqa: PLC0415 - only a document that failed to validate

    return policy_salvage(data)


def _datamap_salvage(data: Mapping[str, Any], policy: Policy | None) -> list[Problem]:
    from ._salvage import datamap_salvage  # noqa: PLC0415 - as _policy_salvage

    return datamap_salvage(data, policy)
