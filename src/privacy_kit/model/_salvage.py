"""What can still be checked when some sections of a policy or data map are malformed.

pydantic runs a model's cross-reference validator only when every field validated, so a single
structural error would hide every cross-reference problem. On failure the loader
(:mod:`._loading`) validates each top-level section on its own (and, for a list of entries, each
entry), runs the same cross-reference checks on the sections and entries that are well formed,
and keeps only the problems that do not depend on a malformed part. Nothing is reported twice.
Only a document that failed to validate imports this module. Nothing here is public.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any

import attrs
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .._errors import Problem
from .._types import LocalizedText
from ._datamap import DataMap
from ._datamap_refs import datamap_vocabulary_problems
from ._policy import Policy

__all__ = ["datamap_salvage", "policy_salvage"]


@attrs.frozen
class _Sections:
    """The top-level sections of a document, validated one by one."""

    values: dict[str, Any]
    """The validated value of each well-formed section; for a list, its well-formed entries."""
    broken: frozenset[str]
    """The sections with a structural problem (or missing although required)."""
    positions: dict[str, tuple[int, ...]]
    """For a partly well-formed list: the index in the document of each entry kept."""

    def relocate(self, problem: Problem) -> Problem | None:
        """``problem`` at its place in the document, or ``None`` if it concerns a broken part."""
        match = _SECTION.match(problem.location)
        if match is None:
            return problem
        section, index = match.group(1), match.group(2)
        if section not in self.broken:
            return problem
        positions = self.positions.get(section)
        if positions is None or index is None:
            return None
        start, end = match.span(2)
        original = positions[int(index)]
        location = f"{problem.location[:start]}{original}{problem.location[end:]}"
        return Problem(location, problem.message)


_SECTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


def _sections(model: type[BaseModel], data: Mapping[str, Any]) -> _Sections:
    values: dict[str, Any] = {}
    broken: set[str] = set()
    positions: dict[str, tuple[int, ...]] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in data:
            if field.is_required():
                broken.add(name)
            continue
        raw = data[key]
        try:
            values[name] = _section_adapter(model, name).validate_python(raw)
            continue
        except ValidationError:
            broken.add(name)
        entry = _entry_type(field.annotation)
        if entry is not None and isinstance(raw, list | tuple):
            kept: list[Any] = []
            where: list[int] = []
            adapter = _entry_adapter(model, entry)
            for index, item in enumerate(raw):
                try:
                    kept.append(adapter.validate_python(item))
                except ValidationError:
                    continue
                where.append(index)
            values[name] = tuple(kept)
            positions[name] = tuple(where)
    return _Sections(values, frozenset(broken), positions)


def _config(model: type[BaseModel]) -> ConfigDict:
    # The options that change how a bare value validates; the rest only concern models.
    config = model.model_config
    return ConfigDict(
        str_strip_whitespace=config.get("str_strip_whitespace", False),
        use_enum_values=config.get("use_enum_values", False),
    )


def _adapter(annotation: Any, model: type[BaseModel]) -> TypeAdapter[Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return TypeAdapter(annotation)
    return TypeAdapter(annotation, config=_config(model))


@functools.cache
def _section_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    annotation = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    return _adapter(annotation, model)


@functools.cache
def _entry_adapter(model: type[BaseModel], entry: Any) -> TypeAdapter[Any]:
    return _adapter(entry, model)


def _entry_type(annotation: Any) -> Any:
    """``X`` for ``tuple[X, ...]``, else ``None``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _stand_in(annotation: Any) -> Any:
    """A placeholder for a broken section, read by no check whose problem is kept."""
    if typing.get_origin(annotation) is tuple:
        return ()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_construct(
            **{
                name: _stand_in(field.annotation)
                for name, field in annotation.model_fields.items()
                if field.is_required()
            }
        )
    if isinstance(annotation, type):
        try:
            return annotation()  # an empty text, a zero duration, ...
        except (TypeError, ValueError):
            return None
    return None


# Checks in one section that read another: when the section they read is malformed, their
# problems cannot be trusted (``rights[0].channels[1]`` is unknown only if the channels are known).
_POLICY_READS: dict[str, re.Pattern[str]] = {
    "jurisdictions": re.compile(r"^rights\[\d+\]\.jurisdictions\["),
    "requests": re.compile(r"^rights\[\d+\]\.channels\["),
}


def policy_salvage(data: Mapping[str, Any]) -> list[Problem]:
    """The cross-reference problems of the well-formed parts of a policy that failed to validate."""
    from ._policy import _policy_problems, _resolve_taxonomy  # noqa: PLC0415
    from ._policy_collection import SubjectScope, TaxonomySpec  # noqa: PLC0415

    sections = _sections(Policy, data)
    if "taxonomy" in sections.broken:
        return []  # every category, purpose and subject kind is checked against it
    values = dict(sections.values)
    for name in sections.broken - values.keys():
        values[name] = _stand_in(Policy.model_fields[name].annotation)
    if "subjects" in sections.broken:
        # Other sections may only name the policy's subjects; with those unknown, let every kind
        # of the vocabulary pass that test (an unknown kind is still reported).
        vocabulary = _resolve_taxonomy(values.get("taxonomy", TaxonomySpec()))
        values["subjects"] = tuple(
            SubjectScope.model_construct(kind=k.key, description=LocalizedText({"en": ""}))
            for k in vocabulary.subject_kinds
        )
        sections = attrs.evolve(
            sections, positions={k: v for k, v in sections.positions.items() if k != "subjects"}
        )
    partial = Policy.model_construct(**values)
    problems = []
    for problem in _policy_problems(partial):
        if any(
            section in sections.broken and pattern.match(problem.location)
            for section, pattern in _POLICY_READS.items()
        ):
            continue
        kept = sections.relocate(problem)
        if kept is not None:
            problems.append(kept)
    return problems


def datamap_salvage(data: Mapping[str, Any], policy: Policy | None) -> list[Problem]:
    """The problems of the well-formed record types of a data map that failed to validate."""
    from ._datamap import _datamap_problems  # noqa: PLC0415

    sections = _sections(DataMap, data)
    if "record_types" not in sections.values:
        return []
    partial = DataMap.model_construct(record_types=sections.values["record_types"])
    found = list(_datamap_problems(partial))
    if policy is not None:
        found += datamap_vocabulary_problems(partial, policy)
    problems = []
    for problem in found:
        if "record_types" in sections.broken and problem.location.endswith(".account.record_type"):
            continue  # it may name a malformed record type
        kept = sections.relocate(problem)
        if kept is not None:
            problems.append(kept)
    return problems
