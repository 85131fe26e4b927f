"""The engine's sharded sweep: one retention plan, cut into shards that any worker applies.

:class:`Sweeps` is a base of :class:`~privacy_kit.Engine`. Its three methods hand the plan (with
this engine's holds, resolver, commitments and shared journal attached when it was loaded from
JSON, as :meth:`~privacy_kit.Engine.apply` does) and the engine's stores, secret and audit log to
:mod:`privacy_kit.retention._sweep`, which does the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._apply import Applying

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (imported on use)
    from ..retention._apply import RetentionReport
    from ..retention._plan import RetentionPlan
    from ..retention._shards import Shard, ShardReport

__all__ = ["Sweeps"]


class Sweeps(Applying):
    """``shards``, ``apply_shard`` and ``finish_sweep`` (a base of the Engine).

    Example:
        >>> import datetime as dt
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> rows = {rt.table_name: [] for rt in dm.record_types}
        >>> rows["users"] = [{"id": i, "closed_at": dt.datetime(2020, 1, i, tzinfo=dt.UTC)}
        ...                  for i in range(1, 7)]
        >>> rows["sessions"] = [{"id": 10 + i, "user_id": i} for i in range(1, 7)]
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, InMemoryAdapter(rows),
        ...                    secret=b"k" * 32, verify=False)
        >>> plan = engine.plan_retention(now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> shards = engine.shards(plan, rows_per_shard=2)
        >>> [(plan.entries[s.entry].record_type, s.index, s.of) for s in shards if s.of > 1]
        [('sessions', 0, 3), ('sessions', 1, 3), ('sessions', 2, 3)]
        >>> for shard in reversed(shards):  # any order, any worker
        ...     _ = engine.apply_shard(plan, shard)
        >>> engine.finish_sweep(plan, shards).counts()["account_data"]
        {'delete': 7, 'minimize': 0}
    """

    def shards(self, plan: RetentionPlan, *, rows_per_shard: int = 100_000) -> tuple[Shard, ...]:
        """Cut ``plan`` into shards, every entry's in plan order, for workers to apply.

        An entry's shards are ranges of its trigger time (the record's, or its account's), cut
        where the adapter says so (:func:`~privacy_kit.adapters.time_bounds`: in one statement on
        the SQL adapters; read by privacy_kit otherwise, and each shard's ``bounds_by`` and
        ``note`` say so) into about ``entry.count / rows_per_shard`` pieces. Every entry gets at
        least one shard, so the finish step can say it looked. The shards are recorded in the
        plan's journal (the engine's state store for a plan made or loaded here): asked again,
        in this process or another sharing the store, the same shards come back. Audited as
        ``retention.sharded``.

        Args:
            plan: the plan (made by :meth:`plan_retention`, or loaded with
                :meth:`RetentionPlan.from_json <privacy_kit.RetentionPlan.from_json>`).
            rows_per_shard: about how many records a shard changes.

        Returns:
            The shards (:class:`~privacy_kit.Shard`, each ``to_json()``-able).

        Raises:
            ConfigurationError: ``rows_per_shard`` below 1.
            PlanError: the plan's shards were made with another ``rows_per_shard``.
        """
        from ..retention._sweep import plan_shards  # noqa: PLC0415 - on use

        return plan_shards(
            self._attached(plan), self.stores, rows_per_shard=rows_per_shard, audit=self.audit
        )

    def apply_shard(self, plan: RetentionPlan, shard: Shard) -> ShardReport:
        """Apply one shard of ``plan``: idempotent, journalled, in any order, by any worker.

        Runs the shard's units as :meth:`apply` runs a plan's (holds read again before each
        unit, each unit journalled with its counts, an interrupted unit's work counted), under
        journal keys of the shard's own. The entries this one must follow (``shard.after``:
        records reading their trigger time from this entry's records, say) are finished first,
        here, if no worker has finished them yet. A shard already finished changes nothing and
        reports the journal's counts with ``resumed=True``. Audited as ``retention.shard``
        (counts only). Commitments are fulfilled by :meth:`finish_sweep`, not here.

        Raises:
            PlanError: the plan cannot be applied by this engine (as :meth:`apply` refuses it),
                or ``shard`` is not one of its shards (another plan's, an entry or index out of
                range, other bounds, or shards made with another journal).
        """
        from ..retention._sweep import apply_shard  # noqa: PLC0415 - on use

        return apply_shard(
            self._attached(plan),
            shard,
            self.stores,
            secret=self.secret,
            audit=self.audit,
            policy_version=self.policy.version,
        )

    def finish_sweep(self, plan: RetentionPlan, shards: Sequence[Shard]) -> RetentionReport:
        """Total a sweep applied shard by shard: the :class:`~privacy_kit.RetentionReport` that
        :meth:`apply` would have returned.

        Reads every shard's report from the journal (any process sharing it may call this),
        sums them per entry, fulfils the commitments whose entries kept no record held (at
        planning, or by a hold placed since) and records ``retention.applied`` as :meth:`apply`
        does, with the number of shards. Called again (a redelivered task, a second worker),
        it returns the same report with ``already_finished=True`` and records nothing: the
        journal keeps the first finish (if that one stopped before its audit entry, the next
        call writes it).

        Raises:
            PlanError: a shard is not one of the plan's, the shards leave part of the plan out,
                or some are not finished (named; nothing is fulfilled or recorded then).
        """
        from ..retention._sweep import finish_sweep  # noqa: PLC0415 - on use

        return finish_sweep(
            self._attached(plan),
            shards,
            self.stores,
            audit=self.audit,
            policy_version=self.policy.version,
        )
