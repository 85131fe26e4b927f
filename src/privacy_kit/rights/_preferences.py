"""Subjects' recorded choices: objections, restrictions, opt-outs, and the decisions they imply.

A :class:`Preferences` registry keeps, per subject *reference* (``engine.reference(subject)``),
the purposes objected to, the active restrictions with their Art. 18(1) ground, the
communications opted out of, and the opt-out of sale or sharing (including a Global Privacy
Control signal), each with the time it took effect and, once lifted, the time it ended. Questions
are asked *as of* a time: ``may_process(ref, purpose, now=...)`` and
``may_send(ref, communication, now=...)`` return a :class:`Decision` saying whether, why, and
under which article.

Unsubscribe links carry a token made by :func:`make_unsubscribe_token`: HMAC-SHA256 signed,
base64url, expiring, and holding the subject's reference rather than an address.

The registry is kept in memory, per instance; :meth:`Preferences.save_json` /
:meth:`Preferences.load_json` and :meth:`Preferences.save_sqlite` / :meth:`Preferences.load_sqlite`
persist a snapshot of it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import hmac
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from .._errors import ConfigurationError, VerificationError
from .._types import Duration, require_aware
from ..model._policy_rights import Communication, CommunicationKind
from ..model._taxonomy import LegalBasis, Purpose

__all__ = [
    "Decision",
    "PreferenceRecord",
    "Preferences",
    "RestrictionGround",
    "UnsubscribeToken",
    "make_unsubscribe_token",
    "read_unsubscribe_token",
]

RecordKind = Literal["objection", "compelling_grounds", "restriction", "opt_out", "sale_opt_out"]
_KINDS: tuple[str, ...] = (
    "objection",
    "compelling_grounds",
    "restriction",
    "opt_out",
    "sale_opt_out",
)
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOKEN_VERSION = 1
DEFAULT_UNSUBSCRIBE_TTL = Duration(days=90)


class RestrictionGround(enum.StrEnum):
    """The grounds of GDPR Art. 18(1) on which a subject may obtain restriction."""

    ACCURACY_CONTESTED = "accuracy_contested"
    """Art. 18(1)(a): for the time needed to check the data's accuracy."""
    UNLAWFUL_PROCESSING = "unlawful_processing"
    """Art. 18(1)(b): processing is unlawful and the subject prefers restriction to erasure."""
    LEGAL_CLAIMS = "legal_claims"
    """Art. 18(1)(c): the controller no longer needs the data but the subject needs it for legal claims."""
    OBJECTION_PENDING = "objection_pending"
    """Art. 18(1)(d): an objection is pending the check of the controller's grounds."""

    @property
    def citation(self) -> str:
        """The article of this ground."""
        letter = "abcd"[list(RestrictionGround).index(self)]
        return f"GDPR Art. 18(1)({letter})"


@attrs.frozen
class Decision:
    """Whether something may be done, why, and the article behind the answer.

    A decision is truthy when allowed.

    Example:
        >>> d = Decision(False, "objected to direct marketing", "GDPR Art. 21(3)")
        >>> bool(d), str(d)
        (False, 'refused: objected to direct marketing (GDPR Art. 21(3))')
    """

    allowed: bool
    reason: str
    citation: str | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "refused"
        cite = f" ({self.citation})" if self.citation else ""
        return f"{verdict}: {self.reason}{cite}"


def _allow(reason: str, citation: str | None = None) -> Decision:
    return Decision(allowed=True, reason=reason, citation=citation)


def _refuse(reason: str, citation: str | None = None) -> Decision:
    return Decision(allowed=False, reason=reason, citation=citation)


def _to_utc(value: dt.datetime, name: str) -> dt.datetime:
    return require_aware(value, name).astimezone(dt.UTC)


@attrs.frozen
class PreferenceRecord:
    """One recorded choice of one subject.

    Attributes:
        subject: the subject's reference.
        kind: ``objection``, ``compelling_grounds``, ``restriction``, ``opt_out`` or ``sale_opt_out``.
        key: the purpose key, restriction ground, communication key (or ``kind:promotional``),
            or ``sale``.
        at: when it took effect (UTC).
        ended_at: when it was lifted or withdrawn (UTC), or ``None``.
        note: free text (an objection's stated grounds, the controller's compelling grounds, ...).
        source: where it came from (``request``, ``unsubscribe``, ``gpc``, ...).
    """

    subject: str
    kind: str
    key: str
    at: dt.datetime
    ended_at: dt.datetime | None = None
    note: str | None = None
    source: str | None = None

    def active(self, now: dt.datetime) -> bool:
        """Whether it is in effect at ``now``."""
        return self.at <= now and (self.ended_at is None or self.ended_at > now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "key": self.key,
            "at": self.at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "note": self.note,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> PreferenceRecord:
        """Parse :meth:`to_dict` output; ``ValueError`` naming ``where`` and the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        try:
            kind = data["kind"]
            if kind not in _KINDS:
                raise ValueError(f"kind {kind!r} is not one of {', '.join(_KINDS)}")
            for name in ("subject", "key"):
                if not isinstance(data[name], str) or not data[name]:
                    raise ValueError(f"{name} must be a non-empty string")
            at = _to_utc(dt.datetime.fromisoformat(data["at"]), "at")
            ended = data.get("ended_at")
            ended_at = (
                None if ended is None else _to_utc(dt.datetime.fromisoformat(ended), "ended_at")
            )
        except KeyError as exc:
            raise ValueError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        return cls(
            subject=data["subject"],
            kind=kind,
            key=data["key"],
            at=at,
            ended_at=ended_at,
            note=data.get("note"),
            source=data.get("source"),
        )


def _covers(objected: str, purpose: str) -> bool:
    """An objection to ``marketing`` covers ``marketing.email`` (dotted purpose keys)."""
    return purpose == objected or purpose.startswith(objected + ".")


class Preferences:
    """Each subject's objections, restrictions and opt-outs, and the decisions they imply.

    Args:
        storage_purposes: purpose keys (and their sub-keys) that amount to storage only, which
            Art. 18(2) still allows while processing is restricted.
        legal_claims_purposes: purpose keys (and sub-keys) for the establishment, exercise or
            defence of legal claims, which Art. 18(2) also allows while restricted.
        restriction_blocks_transactional: whether a restriction also stops transactional
            messages (default ``False``; see :meth:`may_send`).

    Example:
        >>> prefs = Preferences()
        >>> now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
        >>> ads = Purpose(key="marketing.email", name="Promotional email",
        ...               legal_basis="consent", direct_marketing=True)
        >>> prefs.may_process("subj_1", ads, now=now).allowed
        True
        >>> _ = prefs.object_to("subj_1", "marketing", now=now)
        >>> print(prefs.may_process("subj_1", ads, now=now))
        refused: objected to 'marketing' (direct marketing: the objection is absolute) (GDPR Art. 21(3))
    """

    def __init__(
        self,
        *,
        storage_purposes: Iterable[str] = ("storage",),
        legal_claims_purposes: Iterable[str] = ("legal.claims",),
        restriction_blocks_transactional: bool = False,
    ) -> None:
        self.storage_purposes = tuple(storage_purposes)
        self.legal_claims_purposes = tuple(legal_claims_purposes)
        self.restriction_blocks_transactional = restriction_blocks_transactional
        self._records: dict[tuple[str, str, str], PreferenceRecord] = {}

    # -- recording --------------------------------------------------------------------------
    def _start(
        self,
        subject_ref: str,
        kind: RecordKind,
        key: str,
        now: dt.datetime,
        *,
        note: str | None = None,
        source: str | None = None,
    ) -> PreferenceRecord:
        if not subject_ref:
            raise ValueError("subject_ref must be a non-empty reference string")
        if not key:
            raise ValueError(f"{kind}: key must not be empty")
        at = _to_utc(now, "now")
        current = self._records.get((subject_ref, kind, key))
        if current is not None and current.active(at):
            return current  # idempotent: already in effect
        record = PreferenceRecord(subject_ref, kind, key, at, None, note, source)
        self._records[(subject_ref, kind, key)] = record
        return record

    def _end(
        self, subject_ref: str, kind: RecordKind, key: str, now: dt.datetime
    ) -> PreferenceRecord | None:
        at = _to_utc(now, "now")
        current = self._records.get((subject_ref, kind, key))
        if current is None or not current.active(at):
            return None
        ended = attrs.evolve(current, ended_at=at)
        self._records[(subject_ref, kind, key)] = ended
        return ended

    def object_to(
        self,
        subject_ref: str,
        purpose_key: str,
        *,
        now: dt.datetime,
        reason: str | None = None,
    ) -> PreferenceRecord:
        """Record an objection to ``purpose_key`` (and the purposes beneath it).

        Args:
            subject_ref: the subject's reference.
            purpose_key: the purpose objected to.
            now: when the objection was made.
            reason: the subject's grounds, if they gave any (kept here, never in the audit log).

        Returns:
            The record (the existing one if the objection is already in effect).
        """
        return self._start(subject_ref, "objection", purpose_key, now, note=reason)

    def withdraw_objection(
        self, subject_ref: str, purpose_key: str, *, now: dt.datetime
    ) -> PreferenceRecord | None:
        """End an objection (``None`` if none was in effect)."""
        self._end(subject_ref, "compelling_grounds", purpose_key, now)
        return self._end(subject_ref, "objection", purpose_key, now)

    def record_compelling_grounds(
        self, subject_ref: str, purpose_key: str, grounds: str, *, now: dt.datetime
    ) -> PreferenceRecord:
        """Record the controller's compelling legitimate grounds that override an objection (Art. 21(1)).

        They only matter for purposes on legitimate interests or a public task; they never
        override an objection to direct marketing (Art. 21(3)).

        Raises:
            ValueError: ``grounds`` is empty.
        """
        if not grounds or not grounds.strip():
            raise ValueError("compelling grounds must be stated (Art. 21(1))")
        return self._start(subject_ref, "compelling_grounds", purpose_key, now, note=grounds)

    def restrict(
        self, subject_ref: str, *, ground: RestrictionGround | str, now: dt.datetime
    ) -> PreferenceRecord:
        """Restrict processing of the subject's data on an Art. 18(1) ground.

        Raises:
            ValueError: ``ground`` is not one of :class:`RestrictionGround`.
        """
        try:
            ground = RestrictionGround(ground)
        except ValueError:
            raise ValueError(
                f"unknown restriction ground {ground!r}; expected one of "
                f"{', '.join(g.value for g in RestrictionGround)} (GDPR Art. 18(1))"
            ) from None
        return self._start(subject_ref, "restriction", ground.value, now)

    def lift_restriction(
        self,
        subject_ref: str,
        *,
        now: dt.datetime,
        ground: RestrictionGround | str | None = None,
    ) -> tuple[PreferenceRecord, ...]:
        """Lift the restriction on ``ground`` (every ground if ``None``); returns what was lifted.

        Art. 18(3): the subject must be told before a restriction is lifted.
        """
        grounds = list(RestrictionGround) if ground is None else [RestrictionGround(ground)]
        lifted = (self._end(subject_ref, "restriction", g.value, now) for g in grounds)
        return tuple(r for r in lifted if r is not None)

    def restrictions(self, subject_ref: str, *, now: dt.datetime) -> tuple[PreferenceRecord, ...]:
        """The restrictions in effect at ``now``."""
        at = _to_utc(now, "now")
        return tuple(
            r
            for (s, kind, _k), r in self._records.items()
            if s == subject_ref and kind == "restriction" and r.active(at)
        )

    def opt_out(
        self,
        subject_ref: str,
        key: str | CommunicationKind,
        *,
        now: dt.datetime,
        source: str | None = None,
    ) -> PreferenceRecord:
        """Opt out of one communication (by key) or of a whole kind (``CommunicationKind.PROMOTIONAL``).

        Raises:
            ConfigurationError: an opt-out of transactional messages (they are needed to run
                the service; the policy promises they are still sent).
        """
        if isinstance(key, CommunicationKind):
            if key is CommunicationKind.TRANSACTIONAL:
                raise ConfigurationError(
                    "transactional messages cannot be opted out of: they are needed to run the service"
                )
            key = f"kind:{key.value}"
        return self._start(subject_ref, "opt_out", key, now, source=source)

    def opt_in(
        self, subject_ref: str, key: str | CommunicationKind, *, now: dt.datetime
    ) -> PreferenceRecord | None:
        """End an opt-out (``None`` if none was in effect)."""
        if isinstance(key, CommunicationKind):
            key = f"kind:{key.value}"
        return self._end(subject_ref, "opt_out", key, now)

    def opt_out_of_sale(
        self, subject_ref: str, *, now: dt.datetime, source: str = "request"
    ) -> PreferenceRecord:
        """Opt out of the sale or sharing of personal data (CCPA/CPRA)."""
        return self._start(subject_ref, "sale_opt_out", "sale", now, source=source)

    def record_gpc(
        self, subject_ref: str, header_value: str | None, *, now: dt.datetime
    ) -> PreferenceRecord | None:
        """Record a Global Privacy Control signal: an opt-out only when ``Sec-GPC`` is exactly ``1``.

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> prefs.record_gpc("subj_1", "true", now=now) is None
            True
            >>> prefs.record_gpc("subj_1", "1", now=now).source
            'gpc'
        """
        if header_value != "1":
            return None
        return self.opt_out_of_sale(subject_ref, now=now, source="gpc")

    # -- decisions --------------------------------------------------------------------------
    def _active(self, subject_ref: str, kind: str, now: dt.datetime) -> list[PreferenceRecord]:
        return [
            r
            for (s, k, _key), r in self._records.items()
            if s == subject_ref and k == kind and r.active(now)
        ]

    def may_process(self, subject_ref: str, purpose: Purpose, *, now: dt.datetime) -> Decision:
        """May the subject's data be processed for ``purpose`` at ``now``?

        In order: a restriction allows only storage and legal claims (Art. 18(2)); an objection
        to a direct-marketing purpose is absolute (Art. 21(3)); an objection to a purpose on
        consent withdraws that consent (Art. 7(3)); an objection to a purpose on legitimate
        interests or a public task stops it unless compelling legitimate grounds were recorded
        (Art. 21(1)); an objection to a purpose on another basis (contract, legal obligation,
        vital interests) has no effect under Art. 21 and is reported as such. An objection to
        ``marketing`` covers ``marketing.email``.

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
            >>> research = Purpose(key="product.research", name="Research",
            ...                    legal_basis="legitimate_interests")
            >>> _ = prefs.object_to("subj_1", "product.research", now=now)
            >>> prefs.may_process("subj_1", research, now=now).citation
            'GDPR Art. 21(1)'
            >>> _ = prefs.record_compelling_grounds("subj_1", "product.research", "fraud study", now=now)
            >>> prefs.may_process("subj_1", research, now=now).allowed
            True
        """
        at = _to_utc(now, "now")
        restrictions = self._active(subject_ref, "restriction", at)
        if restrictions:
            grounds = ", ".join(sorted(r.key for r in restrictions))
            if any(_covers(k, purpose.key) for k in self.storage_purposes):
                return _allow(f"restricted ({grounds}), but storage is allowed", "GDPR Art. 18(2)")
            if any(_covers(k, purpose.key) for k in self.legal_claims_purposes):
                return _allow(
                    f"restricted ({grounds}), but legal claims are allowed",
                    "GDPR Art. 18(2)",
                )
            return _refuse(
                f"processing is restricted ({grounds}): only storage and legal claims are allowed",
                "GDPR Art. 18(2)",
            )
        objections = [
            r for r in self._active(subject_ref, "objection", at) if _covers(r.key, purpose.key)
        ]
        if not objections:
            return _allow("no objection or restriction recorded")
        objected = min(objections, key=lambda r: len(r.key)).key
        if purpose.direct_marketing:
            return _refuse(
                f"objected to {objected!r} (direct marketing: the objection is absolute)",
                "GDPR Art. 21(3)",
            )
        basis = purpose.legal_basis
        if basis is LegalBasis.CONSENT:
            return _refuse(f"objected to {objected!r}: consent withdrawn", "GDPR Art. 7(3)")
        if basis.objectionable:
            grounds_recorded = [
                r
                for r in self._active(subject_ref, "compelling_grounds", at)
                if _covers(r.key, purpose.key)
            ]
            if grounds_recorded:
                return _allow(
                    f"objected to {objected!r}, but compelling legitimate grounds were recorded",
                    "GDPR Art. 21(1)",
                )
            return _refuse(
                f"objected to {objected!r} ({basis.value}); no compelling legitimate grounds recorded",
                "GDPR Art. 21(1)",
            )
        return _allow(
            f"objection to {objected!r} recorded, but processing on {basis.value} "
            f"({basis.article}) is not open to objection",
            "GDPR Art. 21(1)",
        )

    def may_send(
        self,
        subject_ref: str,
        communication: Communication,
        *,
        now: dt.datetime,
        purpose: Purpose | None = None,
    ) -> Decision:
        """May ``communication`` be sent to the subject at ``now``?

        Transactional messages (confirmations, security notices) are always allowed, even while
        processing is restricted, unless the registry was built with
        ``restriction_blocks_transactional=True``. The default is a deliberate choice: they are
        part of the service the subject uses (the policy promises they are still sent), and
        the controller must still be able to tell the subject before lifting a restriction
        (Art. 18(3)). Hosts that read Art. 18(2) strictly can turn that on.

        Promotional messages are refused after an opt-out of that communication or of all
        promotional messages, while processing is restricted, and, when ``purpose`` is given,
        whenever :meth:`may_process` refuses that purpose (an objection to direct marketing).

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
            >>> news = Communication(key="newsletter", kind="promotional",
            ...                      purpose="marketing.email", description="News")
            >>> _ = prefs.opt_out("subj_1", "newsletter", now=now)
            >>> print(prefs.may_send("subj_1", news, now=now))
            refused: opted out of 'newsletter' (GDPR Art. 21(3))
        """
        at = _to_utc(now, "now")
        restricted = self._active(subject_ref, "restriction", at)
        if communication.kind is CommunicationKind.TRANSACTIONAL:
            if restricted and self.restriction_blocks_transactional:
                return _refuse(
                    "processing is restricted and this registry blocks transactional messages too",
                    "GDPR Art. 18(2)",
                )
            suffix = (
                " (sent despite the restriction: needed to run the service)" if restricted else ""
            )
            return _allow(f"transactional message{suffix}")
        for record in self._active(subject_ref, "opt_out", at):
            if record.key in (communication.key, f"kind:{communication.kind.value}"):
                what = (
                    f"{communication.key!r}"
                    if record.key == communication.key
                    else f"all {communication.kind.value} messages"
                )
                return _refuse(f"opted out of {what}", "GDPR Art. 21(3)")
        if restricted:
            grounds = ", ".join(sorted(r.key for r in restricted))
            return _refuse(f"processing is restricted ({grounds})", "GDPR Art. 18(2)")
        if purpose is not None:
            decision = self.may_process(subject_ref, purpose, now=at)
            if not decision:
                return decision
        return _allow("promotional message; no opt-out recorded")

    def may_sell(self, subject_ref: str, *, now: dt.datetime) -> Decision:
        """May the subject's data be sold or shared (CCPA/CPRA) at ``now``?

        Example:
            >>> prefs = Preferences()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> _ = prefs.record_gpc("subj_1", "1", now=now)
            >>> prefs.may_sell("subj_1", now=now).reason
            'opted out of sale or sharing (via gpc)'
        """
        at = _to_utc(now, "now")
        for record in self._active(subject_ref, "sale_opt_out", at):
            return _refuse(
                f"opted out of sale or sharing (via {record.source})",
                "Cal. Civ. Code 1798.120; CCPA regs 7025-7026",
            )
        return _allow("no opt-out of sale or sharing recorded")

    # -- inspection and persistence ---------------------------------------------------------
    def records(self, subject_ref: str | None = None) -> Iterator[PreferenceRecord]:
        """Every record (of one subject, if given), active or ended."""
        for (s, _k, _key), record in sorted(self._records.items()):
            if subject_ref is None or s == subject_ref:
                yield record

    def to_json(self) -> bytes:
        """A JSON snapshot of every record."""
        return orjson.dumps(
            {"version": 1, "records": [r.to_dict() for r in self.records()]},
            option=orjson.OPT_INDENT_2,
        )

    def _load(self, rows: Iterable[PreferenceRecord]) -> None:
        self._records = {(r.subject, r.kind, r.key): r for r in rows}

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write a snapshot to ``path`` (atomically: a temporary file, then a rename)."""
        target = Path(path)
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_bytes(self.to_json())
        temporary.replace(target)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str], **options: Any) -> Preferences:
        """A registry from a :meth:`save_json` snapshot.

        Raises:
            ValueError: the file is not a snapshot; names the file and the bad record.
        """
        try:
            data = orjson.loads(Path(path).read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError(f"{path}: expected an object with a 'records' list")
        prefs = cls(**options)
        prefs._load(
            PreferenceRecord.from_dict(row, f"{path}: records[{i}]")
            for i, row in enumerate(data["records"])
        )
        return prefs

    def save_sqlite(
        self,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_preferences",
    ) -> None:
        """Replace the table's rows with a snapshot (one transaction).

        The table: ``subject TEXT, kind TEXT, key TEXT, at TEXT, ended_at TEXT, note TEXT,
        source TEXT, PRIMARY KEY (subject, kind, key)``; times are ISO 8601 in UTC.
        """
        conn, owned = _connect(path_or_connection, table)
        try:
            with conn:
                _create(conn, table)
                conn.execute(f'DELETE FROM "{table}"')
                conn.executemany(
                    f'INSERT INTO "{table}" (subject, kind, key, at, ended_at, note, source) '
                    "VALUES (:subject, :kind, :key, :at, :ended_at, :note, :source)",
                    [r.to_dict() for r in self.records()],
                )
        finally:
            if owned:
                conn.close()

    @classmethod
    def load_sqlite(
        cls,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_preferences",
        **options: Any,
    ) -> Preferences:
        """A registry from a :meth:`save_sqlite` table (empty if the table does not exist)."""
        conn, owned = _connect(path_or_connection, table)
        try:
            _create(conn, table)
            cursor = conn.execute(
                f'SELECT subject, kind, key, at, ended_at, note, source FROM "{table}"'
            )
            names = [c[0] for c in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor]
        finally:
            if owned:
                conn.close()
        prefs = cls(**options)
        prefs._load(
            PreferenceRecord.from_dict(row, f"{table} row {i}") for i, row in enumerate(rows, 1)
        )
        return prefs


def _connect(
    path_or_connection: str | os.PathLike[str] | sqlite3.Connection, table: str
) -> tuple[sqlite3.Connection, bool]:
    if not _TABLE.match(table):
        raise ValueError(f"invalid table name {table!r} (letters, digits and underscores)")
    if isinstance(path_or_connection, sqlite3.Connection):
        return path_or_connection, False
    return sqlite3.connect(os.fspath(path_or_connection)), True


def _create(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{table}" (subject TEXT NOT NULL, kind TEXT NOT NULL, '
        "key TEXT NOT NULL, at TEXT NOT NULL, ended_at TEXT, note TEXT, source TEXT, "
        "PRIMARY KEY (subject, kind, key))"
    )


# -- unsubscribe tokens ------------------------------------------------------------------------
@attrs.frozen
class UnsubscribeToken:
    """What an unsubscribe token says: whose, for which communication, and its validity."""

    subject_ref: str
    communication_key: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, b"unsubscribe\x00" + body.encode(), hashlib.sha256).digest())


def _check_secret(secret: bytes) -> None:
    if len(secret) < 16:
        raise ConfigurationError("secret must be at least 16 bytes")


def make_unsubscribe_token(
    secret: bytes,
    subject_ref: str,
    communication_key: str,
    *,
    now: dt.datetime,
    ttl: Duration = DEFAULT_UNSUBSCRIBE_TTL,
) -> str:
    """A signed, expiring token for an unsubscribe link.

    The token is ``base64url(payload).base64url(HMAC-SHA256(secret, payload))``; the payload
    holds the subject's *reference* (not an address), the communication key and the expiry.

    Args:
        secret: at least 16 bytes, kept by the host.
        subject_ref: the subject's reference.
        communication_key: the communication to stop.
        now: when the token is issued.
        ttl: how long it stays valid (90 days by default).

    Raises:
        ConfigurationError: a short secret.

    Example:
        >>> secret = b"s" * 32
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> token = make_unsubscribe_token(secret, "subj_1", "newsletter", now=now)
        >>> read_unsubscribe_token(secret, token, now=now).communication_key
        'newsletter'
    """
    _check_secret(secret)
    issued = _to_utc(now, "now")
    expires = ttl.after(issued)
    payload = {
        "v": _TOKEN_VERSION,
        "s": subject_ref,
        "c": communication_key,
        "i": int(issued.timestamp()),
        "e": int(expires.timestamp()),
    }
    body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
    return f"{body}.{_sign(secret, body)}"


def read_unsubscribe_token(secret: bytes, token: str, *, now: dt.datetime) -> UnsubscribeToken:
    """Check and decode a token made by :func:`make_unsubscribe_token`.

    Raises:
        VerificationError: ``malformed`` (not a token), ``tampered`` (the signature does not
            match: altered, or signed with another secret) or ``expired`` (saying when).

    Example:
        >>> secret = b"s" * 32
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> token = make_unsubscribe_token(secret, "subj_1", "newsletter", now=now, ttl=Duration(days=1))
        >>> read_unsubscribe_token(secret, token, now=now + dt.timedelta(days=2))
        Traceback (most recent call last):
        ...
        privacy_kit._errors.VerificationError: expired: the unsubscribe token expired at 2026-01-02T00:00:00+00:00
    """
    _check_secret(secret)
    at = _to_utc(now, "now")
    if token.count(".") != 1:
        raise VerificationError("malformed: not an unsubscribe token")
    body, signature = token.split(".")
    if not hmac.compare_digest(_sign(secret, body).encode(), signature.encode("utf-8", "replace")):
        raise VerificationError("tampered: the unsubscribe token's signature does not match")
    try:
        payload = orjson.loads(_unb64(body))
        subject_ref = payload["s"]
        key = payload["c"]
        issued = dt.datetime.fromtimestamp(payload["i"], dt.UTC)
        expires = dt.datetime.fromtimestamp(payload["e"], dt.UTC)
        if (
            payload["v"] != _TOKEN_VERSION
            or not isinstance(subject_ref, str)
            or not isinstance(key, str)
        ):
            raise ValueError("unsupported payload")
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise VerificationError(
            "malformed: the unsubscribe token's payload is unreadable"
        ) from None
    if at >= expires:
        raise VerificationError(f"expired: the unsubscribe token expired at {expires.isoformat()}")
    return UnsubscribeToken(subject_ref, key, issued, expires)
