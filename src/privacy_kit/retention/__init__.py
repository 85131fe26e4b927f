"""Retention that enforces itself: rules evaluated against the store, planned, then applied.

For each record type the engine finds its :class:`~privacy_kit.RetentionRule`, the rule's trigger
(``created``, an ``event`` such as a booking's end, ``account_closed``, ``account_deactivated``,
``last_activity``) and the time field that records it: a field of the record itself, or, through
the record type's account link, a field of its account (``users.closed_at``). A record expires
when ``trigger time + duration <= now``; "for the life of the account" (``account_closed`` and no
duration) expires when the account is closed.

**Calendar convention.** Durations are added in UTC with dateutil's ``relativedelta``, so one
month after 31 January is the last day of February. Subtraction is *not* the inverse of that
addition at month ends (``31 March - 1 month + 1 month`` is 29 March), so the cutoff of a sweep is
not ``now - duration``: :func:`cutoff` finds the latest instant ``t`` (to the microsecond) with
``t + duration <= now``, and a sweep selects ``trigger time <= cutoff``. Because adding a calendar
duration is monotone, that selects exactly the expired records (tested against brute force).

**Legal-obligation extensions.** A rule's exceptions that carry a duration (``legal_obligation``,
6 years) keep *only the fields* holding the categories they name, counted from the same trigger:
when the rule itself expires, the record's other personal fields are cleared (set to NULL: the
plan's ``minimize`` step), and the record meets the rule's action when the longest exception
ends. An exception without a duration ("until the dispute is resolved") cannot be timed by a
sweep: enforce it with a legal hold. ``duration: forever`` (``_indefinite``) is never expired:
plans, reports, the audit log and ``fate()`` state what is kept indefinitely and why; ``action:
blind`` anonymises only the fields holding the rule's ``blind`` categories.

**Per-customer overrides.** Where the policy allows it (``override``), a customer chooses the
duration within the range; :class:`RetentionSettings` holds those choices per account and refuses
anything outside the range. A sweep stays set-based: accounts are grouped by the duration they
chose and each group is one selection; the policy's default applies to accounts with none.

**Plan, then apply.** :meth:`Engine.plan_retention <privacy_kit.Engine.plan_retention>` returns a
:class:`RetentionPlan`: per rule, record type and group, the selection, the cutoff, the action and
how many records it covers, counted by the store, with the records under a legal hold excluded and
counted separately. ``engine.apply(plan)`` runs it as a few statements per entry (one per batch of
accounts when the trigger is an account's), journals each finished unit so a re-run after a
failure resumes, and writes counts (never data) to the audit log. ``dry_run=True`` changes nothing.

**Where things are.** Rules as time (``_rules``), customers' settings (``_settings``), legal holds
(``_holds``), anonymisation strategies (``_anonymize``, used by erasure too), the plan
(``_plan``), applying it (``_apply``, ``_journal``) and one record's fate (``_fate``). A sweep is
planned from the policy, the data map, the holds and the settings, as values, and applied through
the adapters; nothing here reaches back into the engine.

Layer rule: imports the foundation, :mod:`privacy_kit.model`, :mod:`privacy_kit.adapters`,
:mod:`privacy_kit.audit`, the scope values (``privacy_kit._scope``) and
:mod:`privacy_kit.lifecycle`.

Example:
    >>> import datetime as dt
    >>> from privacy_kit import Duration
    >>> from privacy_kit.retention import cutoff
    >>> cutoff(Duration.parse("P1M"), dt.datetime(2026, 3, 31, tzinfo=dt.UTC)).date()
    datetime.date(2026, 2, 28)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "FieldAnonymization": "._anonymize",
    "PSEUDONYM_PREFIX": "._anonymize",
    "anonymize_selection": "._anonymize",
    "generalize_date": "._anonymize",
    "mask": "._anonymize",
    "pseudonym": "._anonymize",
    "strategy_for": "._anonymize",
    "update_method": "._anonymize",
    "ReportLine": "._apply",
    "RetentionReport": "._apply",
    "apply_retention": "._apply",
    "Commitment": "._commitments",
    "CommitmentAction": "._commitments",
    "CommitmentRegistry": "._commitments",
    "schedule_after": "._commitments",
    "FateStage": "._fate",
    "RecordFate": "._fate",
    "record_fate": "._fate",
    "HoldRegistry": "._holds",
    "IndefiniteKeep": "._indefinite",
    "HoldRecheck": "._holds_recheck",
    "NewlyHeld": "._holds_recheck",
    "LegalHold": "._holds",
    "combine_holds": "._holds",
    "definitely": "._holds",
    "selection_from_data": "._holds",
    "selection_to_data": "._holds",
    "RetentionJournal": "._journal",
    "Orphans": "._orphans",
    "find_orphans": "._orphans",
    "RetentionEntry": "._plan",
    "RetentionPlan": "._plan",
    "plan_retention": "._plan",
    "units": "._plan",
    "TriggerSource": "._rules",
    "cutoff": "._rules",
    "expires_at": "._rules",
    "trigger_source": "._rules",
    "RetentionSettings": "._settings",
    "Shard": "._shards",
    "ShardReport": "._shards",
    "apply_shard": "._sweep",
    "finish_sweep": "._sweep",
    "plan_shards": "._sweep",
    "check_override": "._settings",
}

__all__ = [
    "PSEUDONYM_PREFIX",
    "Commitment",
    "CommitmentAction",
    "CommitmentRegistry",
    "FateStage",
    "FieldAnonymization",
    "HoldRecheck",
    "HoldRegistry",
    "IndefiniteKeep",
    "LegalHold",
    "NewlyHeld",
    "Orphans",
    "RecordFate",
    "ReportLine",
    "RetentionEntry",
    "RetentionJournal",
    "RetentionPlan",
    "RetentionReport",
    "RetentionSettings",
    "Shard",
    "ShardReport",
    "TriggerSource",
    "anonymize_selection",
    "apply_retention",
    "apply_shard",
    "check_override",
    "combine_holds",
    "cutoff",
    "definitely",
    "expires_at",
    "find_orphans",
    "finish_sweep",
    "generalize_date",
    "mask",
    "plan_retention",
    "plan_shards",
    "pseudonym",
    "record_fate",
    "schedule_after",
    "selection_from_data",
    "selection_to_data",
    "strategy_for",
    "trigger_source",
    "units",
    "update_method",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._anonymize import (
        PSEUDONYM_PREFIX,
        FieldAnonymization,
        anonymize_selection,
        generalize_date,
        mask,
        pseudonym,
        strategy_for,
        update_method,
    )
    from ._apply import ReportLine, RetentionReport, apply_retention
    from ._commitments import Commitment, CommitmentAction, CommitmentRegistry, schedule_after
    from ._fate import FateStage, RecordFate, record_fate
    from ._holds import (
        HoldRegistry,
        LegalHold,
        combine_holds,
        definitely,
        selection_from_data,
        selection_to_data,
    )
    from ._holds_recheck import HoldRecheck, NewlyHeld
    from ._indefinite import IndefiniteKeep
    from ._journal import RetentionJournal
    from ._orphans import Orphans, find_orphans
    from ._plan import RetentionEntry, RetentionPlan, plan_retention, units
    from ._rules import TriggerSource, cutoff, expires_at, trigger_source
    from ._settings import RetentionSettings, check_override
    from ._shards import Shard, ShardReport
    from ._sweep import apply_shard, finish_sweep, plan_shards
