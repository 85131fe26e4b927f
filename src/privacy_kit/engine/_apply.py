"""How the engine applies a plan: erasure, retention, or an export job, made here or loaded.

:class:`Applying` is a base of :class:`~privacy_kit.Engine`. Whatever made the plan (this engine,
or another process that wrote it with ``to_json``), it is checked against the engine's policy
version and data map first, and applied with the engine's collaborators: its stores, secret,
audit log, holds, resolver, commitments and journals. A retention plan loaded from JSON gets the
engine's holds, resolver and commitment registry, and the engine's shared journal (state store)
unless it was loaded with a journal of its own; so it applies exactly as the original would.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from .._errors import ConfigurationError
from ..model._datamap import DataMap
from ._choices import Choices
from ._resolve import SubjectResolver

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (imported on use)
    from .._scope import Stores, Subject
    from ..audit._journal import Journal
    from ..lifecycle._disclosures import DisclosureLog
    from ..retention._plan import RetentionPlan
    from ..rights._export_job import ExportJob

__all__ = ["Applying"]


class Applying(Choices):
    """Running the plans the engine (or another process) made (a base of the Engine)."""

    datamap: DataMap
    stores: Stores
    disclosures: DisclosureLog | None
    journal_dir: str | os.PathLike[str] | None
    _resolver: SubjectResolver

    def export_job(
        self,
        subject: Subject,
        destination: str | os.PathLike[str],
        *,
        now: datetime.datetime,
        format: Literal["zip", "folder"] = "zip",  # noqa: A002 - the name users expect
        batch_size: int = 1000,
        lang: str = "en",
        formats: Iterable[str] = ("json", "ndjson", "csv"),
        compression_level: int | None = None,
        parts: str | os.PathLike[str] | None = None,
    ) -> ExportJob:
        """:meth:`~privacy_kit.Engine.export` as a value, to run later or in another process.

        The job records the engine's policy version and data-map digest; ``engine.apply(job)``
        writes the bundle (refused under another policy version or data map), and
        ``job.to_json()`` / :meth:`ExportJob.from_json <privacy_kit.ExportJob.from_json>` carry
        it between processes. The arguments are :meth:`~privacy_kit.Engine.export`'s, and:

        ``parts``: a folder every worker shares, to collect the export store by store: the
        subject is resolved now and the job lists the stores that hold their records
        (``job.stores``); each store's part is collected by
        :meth:`~privacy_kit.Engine.collect_export_part` (any worker, any order, twice) and
        :meth:`~privacy_kit.Engine.assemble_export` writes the one bundle.

        Raises:
            ConfigurationError: an unknown format, a bad batch size or compression level.
            NaiveDatetimeError: ``now`` without a timezone.

        Example:
            >>> import datetime as dt, tempfile, pathlib, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
            >>> out = pathlib.Path(tempfile.mkdtemp()) / "bo.zip"
            >>> job = engine.export_job(pk.Subject.of("customer", user_id=7), out,
            ...                         now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            >>> engine.apply(pk.ExportJob.from_json(job.to_json())).counts["users"]
            1
        """
        from ..model._digest import datamap_digest  # noqa: PLC0415 - on use
        from ..rights._export_job import ExportJob  # noqa: PLC0415

        stores: tuple[str, ...] = ()
        if parts is not None:
            scope = self._resolver.scope(subject, every_role=True)
            stores = tuple(dict.fromkeys(found.record_type.store for found in scope))
        return ExportJob(
            subject=subject,
            destination=os.fspath(destination),
            now=now,
            format=format,
            batch_size=batch_size,
            lang=lang,
            formats=tuple(formats),
            compression_level=compression_level,
            policy_version=self.policy.version,
            datamap_digest=datamap_digest(self.datamap),
            parts=None if parts is None else os.fspath(parts),
            stores=stores,
        )

    def _apply_plan(
        self,
        plan: Any,
        *,
        dry_run: bool,
        journal: Journal | str | os.PathLike[str] | None,
    ) -> Any:
        from ..retention._plan import RetentionPlan  # noqa: PLC0415 - on use
        from ..rights._erasure import ErasurePlan  # noqa: PLC0415
        from ..rights._export_job import ExportJob  # noqa: PLC0415

        if isinstance(plan, ErasurePlan):
            from ..audit._journal import StateJournal  # noqa: PLC0415
            from ..rights._erasure_apply import apply_erasure  # noqa: PLC0415

            if journal is None and self.journal_dir is None and self.state is not None:
                journal = StateJournal.for_plan(self.state, plan.plan_id)
            return apply_erasure(
                plan,
                self.stores,
                policy_version=self.policy.version,
                secret=self.secret,
                audit=self.audit,
                disclosures=self.disclosures,
                journal=journal if journal is not None else self.journal_dir,
                dry_run=dry_run,
                policy=self.policy,
                commitments=self.commitments,
                holds=self.holds,
                resolver=self._resolver,
            )
        if journal is not None and isinstance(plan, RetentionPlan | ExportJob):
            raise ConfigurationError(
                "RetentionPlan keeps its own journal; pass it when planning (or loading)"
                if isinstance(plan, RetentionPlan)
                else "an ExportJob takes no journal"
            )
        if isinstance(plan, RetentionPlan):
            from ..retention._apply import apply_retention  # noqa: PLC0415 - on use

            return apply_retention(
                self._attached(plan),
                self.stores,
                secret=self.secret,
                audit=self.audit,
                dry_run=dry_run,
                policy_version=self.policy.version,
            )
        if isinstance(plan, ExportJob):
            return self._run_export(plan, dry_run=dry_run)
        raise ConfigurationError(
            "engine.apply takes an ErasurePlan, a RetentionPlan or an ExportJob, not "
            f"{type(plan).__name__}"
        )

    def _attached(self, plan: RetentionPlan) -> RetentionPlan:
        """``plan``, or (loaded from JSON) ``plan`` with this engine's holds, resolver,
        commitments and shared journal (see :func:`~privacy_kit.retention._plan_json.attach`)."""
        if not plan.loaded:
            return plan
        from ..retention._journal import RetentionJournal  # noqa: PLC0415 - on use
        from ..retention._plan_json import attach  # noqa: PLC0415

        attached: RetentionPlan = attach(
            plan,
            journal=RetentionJournal(state=self.state) if self.state is not None else None,
            holds=self.holds,
            resolver=self._resolver,
            commitments=self.commitments,
        )
        return attached

    def _run_export(self, job: Any, *, dry_run: bool) -> Any:
        from ..retention._plan_codec import check_origin  # noqa: PLC0415 - on use
        from ..rights._export import export_subject  # noqa: PLC0415

        check_origin(
            "export job",
            (job.policy_version, job.datamap_digest),
            policy_version=self.policy.version,
            datamap=self.datamap,
            again="make the job again",
        )
        if dry_run:
            raise ConfigurationError("an ExportJob has no dry run: it changes no stored data")
        return export_subject(
            self._resolver.scope(job.subject, every_role=True),
            job.destination,
            now=job.now,
            format=job.format,
            batch_size=job.batch_size,
            lang=job.lang,
            formats=job.formats,
            compression_level=job.compression_level,
            policy=self.policy,
            audit=self.audit,
            disclosures=self.disclosures,
        )
