"""The engine's data-subject requests split by store, for workers to run in parallel.

:class:`Requests` is a base of :class:`~privacy_kit.Engine`. An export job made with a
``parts`` folder (:meth:`~privacy_kit.Engine.export_job`) is collected one store at a time by
:meth:`~Requests.collect_export_part` and written as one bundle by
:meth:`~Requests.assemble_export`; both hand the job, the subject's scope and the engine's state
store, secret, policy and logs to :mod:`privacy_kit.rights._export_parts`, which does the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ._apply import Applying

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (imported on use)
    from .._scope import Scope
    from ..audit._state import StateStore
    from ..rights._erasure import ErasurePlan, ErasureReport
    from ..rights._erasure_units import ErasureUnit
    from ..rights._export import ExportResult
    from ..rights._export_job import ExportJob
    from ..rights._export_parts import ExportPart

__all__ = ["Requests"]


class Requests(Applying):
    """``collect_export_part`` and ``assemble_export``; ``begin_erasure``,
    ``apply_erasure_unit`` and ``finish_erasure`` (a base of the Engine).

    Example:
        >>> import datetime as dt, pathlib, tempfile, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> from privacy_kit.audit import MemoryStateStore
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem,
        ...                    state=MemoryStateStore(), verify=False)
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> job = engine.export_job(pk.Subject.of("customer", user_id=7), folder / "bo.zip",
        ...                         now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        ...                         parts=folder / "parts")
        >>> [engine.collect_export_part(job, store).counts["users:customer"] for store in job.stores]
        [1]
        >>> engine.assemble_export(job).counts["users"]
        1
    """

    def _parts_state(self, job: ExportJob) -> tuple[Scope, StateStore]:
        from ..retention._plan_codec import check_origin  # noqa: PLC0415 - on use

        check_origin(
            "export job",
            (job.policy_version, job.datamap_digest),
            policy_version=self.policy.version,
            datamap=self.datamap,
            again="make the job again",
        )
        if self.state is None:
            raise ConfigurationError(
                "an export collected store by store records its parts in the engine's state "
                "store, and this engine has none: give it one every worker shares (state=...)"
            )
        return self._resolver.scope(job.subject, every_role=True), self.state

    def collect_export_part(self, job: ExportJob, store: str) -> ExportPart:
        """Read ``store``'s records of ``job``'s subject into a part file in ``job.parts``.

        Only the entries of that store are read, exactly as :meth:`~privacy_kit.Engine.export`
        reads them (the same record files, the same redaction). The part's SHA-256 and counts
        are recorded in the engine's state store, which every worker must share. Any worker may
        collect any store, in any order; collecting it again returns the recorded part
        (``resumed=True``), unless its file was lost or damaged, when it is collected again.

        Raises:
            ConfigurationError: the job was made without ``parts``, ``store`` is not one of
                ``job.stores``, or the engine has no state store.
            PlanError: the job was made under another policy version or data map.
            AdapterError: the store failed (nothing recorded: collect it again).
        """
        from ..rights._export_parts import collect_part  # noqa: PLC0415 - on use

        scope, state = self._parts_state(job)
        return collect_part(job, scope, store, state=state, secret=self.secret)

    def assemble_export(self, job: ExportJob) -> ExportResult:
        """Write ``job``'s one bundle from its stores' parts, as :meth:`~privacy_kit.Engine.export`
        would have written it, and record the one ``export.completed`` (with ``parts``: each
        store's part SHA-256). The parts are then deleted (they hold the subject's data).

        Refused, naming the store, while a store's part is missing, or when it is stale
        (collected under another policy version or data map, or for a scope the subject no
        longer resolves to) or corrupt (its file does not hash to the recorded SHA-256): collect
        that store again. Run again after it published the bundle, it returns the same result
        (and records the audit entry if the first run could not).

        Raises:
            PlanError: a part missing, stale or corrupt; the job made under another policy
                version or data map.
            ConfigurationError: the job was made without ``parts``, the engine has no state
                store, or the destination exists and is not this job's bundle.
        """
        from ..rights._export_parts import assemble  # noqa: PLC0415 - on use

        scope, state = self._parts_state(job)
        return assemble(
            job,
            scope,
            state=state,
            secret=self.secret,
            policy=self.policy,
            audit=self.audit,
            disclosures=self.disclosures,
        )

    def begin_erasure(self, plan: ErasurePlan) -> tuple[ErasureUnit, ...]:
        """Begin applying ``plan`` store by store: record its commitments; return its units.

        The units (one per store and wave, :class:`~privacy_kit.rights.ErasureUnit`) and the
        commitments' notes are kept in the engine's state store: begun again, in any process
        sharing it, the same units come back and nothing is recorded twice. Apply each unit
        with :meth:`apply_erasure_unit` (a wave's units in any order, on any worker, after the
        waves before), then :meth:`finish_erasure`. Together they end as ``engine.apply(plan)``.

        Raises:
            PlanError: the plan was made under another policy version or data map.
            ConfigurationError: the engine has no state store.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> from privacy_kit.audit import MemoryStateStore
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
            >>> _ = mem.insert("sessions", [{"id": 1, "user_id": 7}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem,
            ...                    state=MemoryStateStore(), verify=False)
            >>> plan = engine.plan_erasure(pk.Subject.of("customer", user_id=7),
            ...                            now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            >>> units = engine.begin_erasure(plan)
            >>> [(u.key, len(u.steps)) for u in units]
            [('0.main', 6)]
            >>> for unit in units:
            ...     _ = engine.apply_erasure_unit(plan, unit)
            >>> engine.finish_erasure(plan).deleted["sessions"], mem.rows("sessions")
            (1, [])
        """
        from ..rights._erasure_units import begin_erasure, require_state  # noqa: PLC0415

        return begin_erasure(
            plan,
            self.stores,
            state=require_state(self.state, "an erasure applied store by store"),
            policy=self.policy,
            policy_version=self.policy.version,
            commitments=self.commitments,
        )

    def apply_erasure_unit(self, plan: ErasurePlan, unit: ErasureUnit) -> dict[str, Any]:
        """Run one unit of a begun plan (see :meth:`begin_erasure`); what it did, as data.

        Its steps run as ``engine.apply`` runs them (holds read again, each step journalled in
        the plan's journal in the state store, an interrupted step recounted). Run again, it
        returns the first run's record. See :func:`privacy_kit.rights.apply_unit` for the keys.

        Raises:
            PlanError: the plan was not begun, the unit is not one of its units, or a unit of
                an earlier wave is not done.
            AdapterError: the store failed (run the unit again: finished steps are skipped).
        """
        from ..rights._erasure_units import apply_unit, require_state  # noqa: PLC0415

        return apply_unit(
            plan,
            unit,
            self.stores,
            state=require_state(self.state, "an erasure applied store by store"),
            secret=self.secret,
            policy_version=self.policy.version,
            audit=self.audit,
            holds=self.holds,
            resolver=self._resolver,
        )

    def finish_erasure(self, plan: ErasurePlan) -> ErasureReport:
        """The report of a plan whose units are all done, as ``engine.apply(plan)`` returns it,
        and its one ``erasure.applied`` audit entry (finished again: the same report, nothing
        recorded).

        Raises:
            PlanError: the plan was not begun, or a unit is not done (naming it).
        """
        from ..rights._erasure_units import finish_erasure, require_state  # noqa: PLC0415

        return finish_erasure(
            plan,
            self.stores,
            state=require_state(self.state, "an erasure applied store by store"),
            policy_version=self.policy.version,
            commitments=self.commitments,
            audit=self.audit,
            disclosures=self.disclosures,
        )
