"""The names a data map uses that its policy must define: checked when a data map is loaded
against a policy, and by :func:`~privacy_kit.model.check`.

A module of its own so that loading a data map does not import the whole consistency check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import Problem
from .._types import closest

if TYPE_CHECKING:
    from ._datamap import DataMap
    from ._policy import Policy

__all__ = ["datamap_vocabulary_problems"]


def datamap_vocabulary_problems(datamap: DataMap, policy: Policy) -> list[Problem]:
    """Names in the data map that the policy's vocabulary does not define (errors at load time)."""
    tax = policy.vocabulary
    problems: list[Problem] = []
    rule_keys = [r.key for r in policy.retention]
    for i, rt in enumerate(datamap.record_types):
        for j, f in enumerate(rt.fields):
            for k, cat in enumerate(f.categories):
                if not tax.has_category(cat):
                    hint = tax.suggest_category(cat)
                    problems.append(
                        Problem(
                            f"record_types[{i}].fields[{j}].categories[{k}]",
                            f"unknown category {cat!r}"
                            + (f"; did you mean {hint!r}?" if hint else ""),
                        )
                    )
        for j, s in enumerate(rt.subjects):
            if not tax.has_subject_kind(s.kind):
                hint = tax.suggest_subject_kind(s.kind)
                problems.append(
                    Problem(
                        f"record_types[{i}].subjects[{j}].kind",
                        f"unknown subject kind {s.kind!r}"
                        + (f"; did you mean {hint!r}?" if hint else ""),
                    )
                )
        for j, entry in enumerate(rt.retention_entries):
            if entry.rule not in rule_keys:
                hint = closest(entry.rule, rule_keys)
                where = f"[{j}].rule" if rt.is_conditional else ""
                problems.append(
                    Problem(
                        f"record_types[{i}].retention{where}",
                        f"unknown retention rule {entry.rule!r}"
                        + (f"; did you mean {hint!r}?" if hint else ""),
                    )
                )
    return problems
