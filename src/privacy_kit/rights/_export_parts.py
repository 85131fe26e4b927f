"""An export collected store by store: one part per store, then one bundle and one audit entry.

A subject's export job that names a ``parts`` folder (every worker's, such as a shared volume)
is split by store. :func:`collect_part` reads one store's entries of the subject's scope and
writes their record files (JSON, NDJSON, CSV, exactly as a whole export writes them) into one
part file in ``<parts>/<job key>/``, a zip of stored members with a header (``part.json``: the
job, the store, the policy version, the data-map digest, a keyed digest of the store's entries
of the scope, each entry's count and each file's SHA-256). The part's own SHA-256 and counts are
recorded in the shared state store (collection ``export.parts``). Collecting a store again finds
the recorded part and returns it (``resumed``); two workers racing on one store keep the first
record, and the second removes its own file.

:func:`assemble` refuses unless every store of the job has a recorded part whose file is there,
hashes to the recorded SHA-256 (else: corrupt), and was made under the engine's policy version,
data map and the subject's scope as it resolves now (else: stale). It then writes the bundle
through the same code as :func:`~privacy_kit.rights.export_subject`, copying each entry's files
from its part instead of reading the store, records the one ``export.completed`` (with
``parts``), and removes the parts. The bundle's files are those a whole export would have
written; only the zip's member timestamps differ. An assembly run again after it published the
bundle returns the recorded result.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
import zipfile
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from .._errors import ConfigurationError, PlanError, PlanFormatError
from .._scope import Scope, ScopeEntry
from ..audit._log import AuditLog
from ..audit._state import StateConflictError, StateStore
from ..lifecycle._disclosures import DisclosureLog
from ..model._policy import Policy
from ..retention._plan_codec import Reader, selection_to_json
from ._bundle import Bundle, file_sha256
from ._export import (
    EntrySource,
    ExportResult,
    PreparedExport,
    _export_to_path,
    _stream_entry,
    listed,
)
from ._export_describe import Entry, entries
from ._export_job import ExportJob

__all__ = ["PARTS", "ExportPart", "assemble", "collect_part", "job_key"]

PARTS = "export.parts"
"""The state store's collection of recorded parts (and of assembled exports)."""
_HEADER = "part.json"
_PART_FORMAT = "privacy_kit.export-part/1"


def job_key(job: ExportJob, secret: bytes) -> str:
    """The job's key: keyed (so it says nothing of the subject), the same in every process."""
    return hmac.new(secret, job.to_json().encode(), hashlib.sha256).hexdigest()[:32]


def scope_digest(found: list[ScopeEntry], secret: bytes) -> str:
    """A keyed digest of entries of a scope: record type, role and selection of each."""
    body = [
        [f.record_type.name, f.role, selection_to_json(f.selection, "scope.selection")]
        for f in found
    ]
    text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hmac.new(secret, text, hashlib.sha256).hexdigest()


def _entry_key(found: ScopeEntry) -> str:
    return f"{found.record_type.name}:{found.role}"


@attrs.frozen(kw_only=True)
class ExportPart:
    """One store's part of an export job, collected (what a worker hands to the assembly).

    Attributes:
        job: the job's key (keyed digest of the job's JSON).
        store: the store it was read from.
        path: the part file, in the job's ``parts`` folder.
        sha256: the part file's SHA-256 (the assembly refuses a file that does not match).
        size: the part file's bytes.
        counts: records per entry of that store (``"bookings:host"``: record type and role).
        policy_version: the policy version it was collected under.
        datamap_digest: the data map's digest it was collected under.
        scope: a keyed digest of the store's entries of the subject's scope.
        resumed: the part had been collected already (by an earlier run, or another worker).

    Example:
        >>> part = ExportPart(job="j", store="main", path="/p/main.part", sha256="0" * 64,
        ...                   size=10, counts={"users:customer": 1}, policy_version="1",
        ...                   datamap_digest="0" * 64, scope="0" * 64)
        >>> ExportPart.from_json(part.to_json()) == part, part.total
        (True, 1)
    """

    job: str
    store: str
    path: str
    sha256: str
    size: int
    counts: dict[str, int]
    policy_version: str
    datamap_digest: str
    scope: str
    resumed: bool = False

    @property
    def total(self) -> int:
        """Records in the part."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """The part as JSON-able data (``resumed`` left out: it is what a run found)."""
        data = attrs.asdict(self)
        del data["resumed"]
        return data

    def to_json(self) -> str:
        """The part as a JSON document (with ``resumed``)."""
        return orjson.dumps({**self.to_dict(), "resumed": self.resumed}).decode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "part") -> ExportPart:
        """Read :meth:`to_dict`'s data (``PlanFormatError`` naming the field otherwise)."""
        r = Reader(data, where)
        counts = r.obj("counts")
        return cls(
            job=r.text("job"),
            store=r.text("store"),
            path=r.text("path"),
            sha256=r.text("sha256"),
            size=r.integer("size"),
            counts={k: counts.integer(k) for k in counts.data},
            policy_version=r.text("policy_version"),
            datamap_digest=r.text("datamap_digest"),
            scope=r.text("scope"),
            resumed=r.flag("resumed") if "resumed" in r.data else False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ExportPart:
        """Read :meth:`to_json`'s document."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PlanFormatError("part", f"not JSON ({exc})") from None
        return cls.from_dict(data)


@attrs.frozen
class _Origin:
    """What a part must have been made under: the engine's and the subject's."""

    key: str
    policy_version: str
    datamap_digest: str
    secret: bytes = attrs.field(repr=False)


def _origin(job: ExportJob, secret: bytes) -> _Origin:
    if job.parts is None or job.policy_version is None or job.datamap_digest is None:
        raise ConfigurationError(
            "this export job is written in one go (engine.apply(job)); to collect it store by "
            "store, make it with engine.export_job(..., parts=<a folder every worker shares>)"
        )
    return _Origin(job_key(job, secret), job.policy_version, job.datamap_digest, secret)


def _store_entries(scope: Scope, store: str) -> list[ScopeEntry]:
    return [f for f in scope if f.record_type.store == store]


def _current(part: ExportPart, scope: Scope, origin: _Origin) -> bool:
    """Whether ``part`` was made as the job and the subject's scope stand now."""
    return (part.policy_version, part.datamap_digest) == (
        origin.policy_version,
        origin.datamap_digest,
    ) and part.scope == scope_digest(_store_entries(scope, part.store), origin.secret)


def _valid(part: ExportPart) -> bool:
    path = Path(part.path)
    return path.is_file() and file_sha256(path) == part.sha256


def collect_part(
    job: ExportJob, scope: Scope, store: str, *, state: StateStore, secret: bytes
) -> ExportPart:
    """Collect ``store``'s part of ``job``: its entries of ``scope`` read once, into a part file.

    Idempotent: a part already recorded, whose file is intact, is returned (``resumed``);
    one recorded but lost, damaged or stale (made under another policy version, data map or
    scope of the subject) is collected again and replaces it.

    Raises:
        ConfigurationError: the job has no ``parts`` folder, or ``store`` is not one of its
            stores.
        AdapterError: the store failed (nothing is recorded; a later run collects again).
    """
    origin = _origin(job, secret)
    if store not in job.stores:
        raise ConfigurationError(
            f"store {store!r} holds no part of this export job; its stores are {list(job.stores)}"
        )
    doc_key = f"{origin.key}.{store}"
    before = state.get(PARTS, doc_key)
    if before is not None:
        found = ExportPart.from_dict(before.document, f"{PARTS}/{doc_key}")
        if _current(found, scope, origin) and _valid(found):
            return attrs.evolve(found, resumed=True)
    part = _write_part(job, scope, store, origin)
    try:
        if before is None:
            state.put(PARTS, doc_key, part.to_dict(), if_absent=True)
        else:
            state.put(PARTS, doc_key, part.to_dict(), if_version=before.version)
    except StateConflictError:
        # another worker recorded this store's part first: theirs stands, ours goes
        winner = state.get(PARTS, doc_key)
        if winner is None:
            raise
        kept = ExportPart.from_dict(winner.document, f"{PARTS}/{doc_key}")
        if kept.path != part.path:
            Path(part.path).unlink(missing_ok=True)
        return attrs.evolve(kept, resumed=True)
    return part


def _write_part(job: ExportJob, scope: Scope, store: str, origin: _Origin) -> ExportPart:
    mine = _store_entries(scope, store)
    kind = scope.subject.kind
    kept = [found for found in mine if listed(found, kind)]
    folder = Path(str(job.parts)) / origin.key
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{store}.", suffix=".tmp")
    os.close(handle)
    temp = Path(name)
    counts: dict[str, int] = {}
    described: list[dict[str, Any]] = []
    digest = scope_digest(mine, origin.secret)
    try:
        bundle = Bundle(temp, "zip", compression_level=0)
        try:
            for i, (entry, found) in enumerate(entries(kept)):
                member = attrs.evolve(entry, name=str(i))  # file names of the part's own
                count = _drain(
                    _stream_entry(found, member, bundle, job.batch_size, kinds=job.formats)
                )
                counts[_entry_key(found)] = count
                described.append(
                    {
                        "entry": _entry_key(found),
                        "count": count,
                        "files": {
                            k: bundle.files[f"records/{i}.{k}"] | {"member": f"records/{i}.{k}"}
                            for k in job.formats
                        },
                    }
                )
            header = {
                "format": _PART_FORMAT,
                "job": origin.key,
                "store": store,
                "policy_version": origin.policy_version,
                "datamap_digest": origin.datamap_digest,
                "scope": digest,
                "entries": described,
            }
            bundle.add_bytes(_HEADER, orjson.dumps(header))
        finally:
            bundle.close()
        sha = file_sha256(temp)
        final = folder / f"{store}.{sha[:16]}.part"
        temp.replace(final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return ExportPart(
        job=origin.key,
        store=store,
        path=str(final),
        sha256=sha,
        size=final.stat().st_size,
        counts=counts,
        policy_version=origin.policy_version,
        datamap_digest=origin.datamap_digest,
        scope=digest,
    )


def _drain(steps: Generator[None, None, int]) -> int:
    """Run a writing generator to its end; its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            value: int = stop.value
            return value


def _refuse(origin: _Origin, problem: str) -> PlanError:
    return PlanError(f"export job {origin.key[:12]}...: {problem}")


def _recorded_parts(
    job: ExportJob, scope: Scope, origin: _Origin, state: StateStore
) -> dict[str, ExportPart]:
    """Every store's recorded part, checked: present, intact, and made as the job is now."""
    stores = tuple(dict.fromkeys(f.record_type.store for f in scope))
    if set(stores) != set(job.stores):
        raise _refuse(
            origin,
            f"the subject's records are now in store(s) {list(stores)}, the job was made for "
            f"{list(job.stores)}; make the job again",
        )
    found: dict[str, ExportPart] = {}
    for store in job.stores:
        doc = state.get(PARTS, f"{origin.key}.{store}")
        if doc is not None:
            found[store] = ExportPart.from_dict(doc.document, f"{PARTS}/{origin.key}.{store}")
    missing = [s for s in job.stores if s not in found]
    if missing:
        raise _refuse(
            origin,
            f"no part collected for store(s) {missing}; collect every store's part "
            "(engine.collect_export_part(job, store)) before assembling",
        )
    for store, part in found.items():
        where = f"the part of store {store!r} ({part.path})"
        if (part.policy_version, part.datamap_digest) != (
            origin.policy_version,
            origin.datamap_digest,
        ):
            raise _refuse(
                origin,
                f"{where} was collected under policy {part.policy_version!r} and data map "
                f"{part.datamap_digest[:12]}..., not the job's; collect it again",
            )
        if part.scope != scope_digest(_store_entries(scope, store), origin.secret):
            raise _refuse(
                origin,
                f"{where} is stale: the subject's records in that store resolve differently "
                "now (another identity, another role); collect it again",
            )
        if not Path(part.path).is_file():
            raise _refuse(origin, f"{where} is missing from the parts folder; collect it again")
        if file_sha256(Path(part.path)) != part.sha256:
            raise _refuse(
                origin, f"{where} is corrupt: its SHA-256 is not the one recorded; collect it again"
            )
    return found


def _part_source(
    parts: Mapping[str, ExportPart], opened: dict[str, zipfile.ZipFile]
) -> EntrySource:
    """The assembly's entry source: an entry's files copied from its store's part."""
    headers: dict[str, dict[str, Any]] = {}
    for store, part in parts.items():
        archive = zipfile.ZipFile(part.path)
        opened[store] = archive
        header = orjson.loads(archive.read(_HEADER))
        if header.get("format") != _PART_FORMAT or header.get("job") != part.job:
            raise PlanError(f"the part of store {store!r} ({part.path}) is not this job's")
        for item in header["entries"]:
            headers[f"{store}/{item['entry']}"] = item

    def source(found: ScopeEntry, entry: Entry, bundle: Bundle) -> Generator[None, None, int]:
        store = found.record_type.store
        item = headers[f"{store}/{_entry_key(found)}"]
        for kind, file in item["files"].items():
            name = f"records/{entry.name}.{kind}"
            with opened[store].open(file["member"]) as member:
                yield from bundle.iter_add_stream(name, member)
            if bundle.files[name]["sha256"] != file["sha256"]:
                raise PlanError(f"the part of store {store!r}: {file['member']} is corrupt")
        count: int = item["count"]
        return count

    return source


def _result_data(result: ExportResult) -> dict[str, Any]:
    return {
        "path": None if result.path is None else str(result.path),
        "format": result.format,
        "subject_reference": result.subject_reference,
        "generated_at": result.generated_at.isoformat(),
        "counts": result.counts,
        "redacted": {k: list(v) for k, v in result.redacted.items()},
        "files": list(result.files),
        "sha256": result.sha256,
        "searched": list(result.searched),
        "size": result.size,
    }


def _result_from(data: Mapping[str, Any]) -> ExportResult:
    import datetime as dt  # noqa: PLC0415 - only here

    return ExportResult(
        path=None if data["path"] is None else Path(data["path"]),
        format=data["format"],
        subject_reference=data["subject_reference"],
        generated_at=dt.datetime.fromisoformat(data["generated_at"]),
        counts=dict(data["counts"]),
        redacted={k: tuple(v) for k, v in data["redacted"].items()},
        files=tuple(data["files"]),
        sha256=data["sha256"],
        searched=tuple(data["searched"]),
        size=data["size"],
    )


def _published(result: ExportResult) -> bool:
    """Whether the recorded bundle is at its destination, as it was written."""
    path = result.path
    if path is None or not path.exists():
        return False
    if result.format == "zip":
        return path.is_file() and file_sha256(path) == result.sha256
    manifest = path / "manifest.json"
    return manifest.is_file() and file_sha256(manifest) == result.sha256


def _remove_parts(job: ExportJob, origin: _Origin, state: StateStore) -> None:
    for store in job.stores:
        state.delete(PARTS, f"{origin.key}.{store}")
    folder = Path(str(job.parts)) / origin.key
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another file put there by hand: left as it is
            folder.rmdir()


def assemble(
    job: ExportJob,
    scope: Scope,
    *,
    state: StateStore,
    secret: bytes,
    policy: Policy,
    audit: AuditLog | None,
    disclosures: DisclosureLog | None,
) -> ExportResult:
    """Write ``job``'s bundle from its stores' parts; one ``export.completed``; the parts removed.

    Raises:
        PlanError: a store's part is missing, stale (another policy version, data map or scope)
            or corrupt (the message names the store and says to collect it again).
        ConfigurationError: the job has no ``parts`` folder, or its destination exists and is
            not this job's bundle.
    """
    from ._export import record_export  # noqa: PLC0415 - a sibling of what is imported above

    origin = _origin(job, secret)
    done_key = f"{origin.key}.assembled"
    done = state.get(PARTS, done_key)
    if done is not None and _published(recorded := _result_from(done.document["result"])):
        # run again after the bundle was published: record what the first run may not have
        if not done.document["audited"]:
            record_export(audit, recorded, {"lang": job.lang, "parts": done.document["parts"]})
            state.put(PARTS, done_key, {**done.document, "audited": True})
        _remove_parts(job, origin, state)
        return recorded
    parts = _recorded_parts(job, scope, origin, state)
    shas = {store: parts[store].sha256 for store in job.stores}
    present = {f"{p.store}/{e}" for p in parts.values() for e in p.counts}
    opened: dict[str, zipfile.ZipFile] = {}
    try:
        prepared = PreparedExport.prepare(
            scope,
            policy=policy,
            now=job.now,
            audit=audit,
            disclosures=disclosures,
            format=job.format,
            batch_size=job.batch_size,
            lang=job.lang,
            formats=job.formats,
            compression_level=job.compression_level,
            present=lambda f: f"{f.record_type.store}/{_entry_key(f)}" in present,
        )
        prepared.source = _part_source(parts, opened)
        prepared.audit_details = {"parts": shas}

        def before_publish(result: ExportResult) -> None:
            document = {"result": _result_data(result), "parts": shas, "audited": False}
            state.put(PARTS, done_key, document)

        result = _export_to_path(prepared, Path(job.destination), before_publish=before_publish)
    finally:
        for archive in opened.values():
            archive.close()
    state.update(PARTS, done_key, lambda d: {**(d or {}), "audited": True})
    _remove_parts(job, origin, state)
    return result
