"""The disclosure log: who received which personal data, when and why, checked against the policy.

A :class:`DisclosureLog` records each disclosure to a recipient (the recipient, the subject or
kind of subject, the categories and record types, the purpose, the legal ground, the time) and
refuses, with a :class:`~privacy_kit.DisclosureError` naming what is wrong, any disclosure the
policy does not describe: an undeclared recipient, a category the recipient is not declared to
receive (a recipient of ``user.contact`` may receive ``user.contact.email``), a purpose not declared
for it, or a kind of subject it does not receive data about.

The log is append-only, in memory, backed by a JSON-lines file, or kept in a
:class:`~privacy_kit.audit.StateStore` (the log ``disclosures``; every process appends to the same
log, and the store numbers the entries without gaps or duplicates). It answers "who received my
data" for an access export (:meth:`DisclosureLog.received_by`) and which recipients must be told
of an erasure, rectification or restriction (:meth:`DisclosureLog.recipients_to_notify`, GDPR
Art. 17(2) and 19), leaving out public authorities receiving data in a particular inquiry, which
are not recipients (Art. 4(9)).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from .._errors import ConfigurationError, DisclosureError
from .._types import LocalizedText, closest, require_aware
from ..audit._state import StateStore
from ..model._datamap import DataMap
from ..model._policy import Policy
from ..model._policy_collection import Recipient
from ..model._taxonomy import LegalBasis, is_within

__all__ = ["ERASURE_NOTICE_CITATION", "Disclosure", "DisclosureLog", "RecipientSummary"]

DISCLOSURES = "disclosures"
"""The state store log of the disclosures (its sequence number is the disclosure's ``seq``)."""

ERASURE_NOTICE_CITATION = "GDPR Art. 17(2), Art. 19"
"""Where the duty to tell recipients of an erasure, rectification or restriction comes from."""


@attrs.frozen
class Disclosure:
    """One recorded disclosure.

    Attributes:
        seq: its position in the log, from 1.
        recipient: the recipient key.
        recipient_kind: the recipient's kind when it was recorded.
        gdpr_recipient: whether the recipient is a recipient under GDPR Art. 4(9).
        subject_ref: the subject's reference (e.g. ``engine.reference(subject)``), or ``None``
            for a disclosure about every subject of ``subject_kind``.
        subject_kind: the kind of subject concerned.
        categories: the data categories disclosed.
        record_types: the record types they came from.
        purpose: the purpose of the disclosure.
        legal_ground: its legal basis.
        at: when it happened (timezone-aware).
        policy_version: the policy version it was checked against.
        note: free text.
    """

    seq: int
    recipient: str
    recipient_kind: str
    gdpr_recipient: bool
    subject_ref: str | None
    subject_kind: str | None
    categories: tuple[str, ...]
    record_types: tuple[str, ...]
    purpose: str
    legal_ground: LegalBasis
    at: dt.datetime
    policy_version: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible mapping (one line of the log file)."""
        return {
            "seq": self.seq,
            "recipient": self.recipient,
            "recipient_kind": self.recipient_kind,
            "gdpr_recipient": self.gdpr_recipient,
            "subject_ref": self.subject_ref,
            "subject_kind": self.subject_kind,
            "categories": list(self.categories),
            "record_types": list(self.record_types),
            "purpose": self.purpose,
            "legal_ground": self.legal_ground.value,
            "at": self.at.isoformat(),
            "policy_version": self.policy_version,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Any) -> Disclosure:
        """Read one entry written by :meth:`to_json`.

        Raises:
            ValueError: a field is missing or malformed.
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        try:
            at = dt.datetime.fromisoformat(data["at"])
            require_aware(at, "at")
            return cls(
                seq=int(data["seq"]),
                recipient=str(data["recipient"]),
                recipient_kind=str(data["recipient_kind"]),
                gdpr_recipient=bool(data["gdpr_recipient"]),
                subject_ref=data["subject_ref"],
                subject_kind=data["subject_kind"],
                categories=tuple(data["categories"]),
                record_types=tuple(data["record_types"]),
                purpose=str(data["purpose"]),
                legal_ground=LegalBasis(data["legal_ground"]),
                at=at,
                policy_version=str(data["policy_version"]),
                note=data.get("note"),
            )
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]!r}") from None


@attrs.frozen
class RecipientSummary:
    """What one recipient received about a subject, over every recorded disclosure.

    Attributes:
        recipient: the recipient key.
        name: its name in the current policy (``None`` if the policy no longer lists it).
        kind: the recipient's kind.
        gdpr_recipient: whether it is a recipient under GDPR Art. 4(9).
        categories: every category it received.
        purposes: every purpose.
        record_types: every record type the data came from.
        first: the first disclosure.
        last: the latest disclosure.
        count: how many disclosures.
    """

    recipient: str
    name: LocalizedText | None
    kind: str
    gdpr_recipient: bool
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    record_types: tuple[str, ...]
    first: dt.datetime
    last: dt.datetime
    count: int


class DisclosureLog:
    """An append-only log of disclosures, each checked against the policy before it is recorded.

    Args:
        policy: the policy disclosures are checked against.
        path: a JSON-lines file to append to (read back on construction if it exists);
            ``None`` keeps the log in memory.
        datamap: if given, record types are checked against it.
        state: a :class:`~privacy_kit.audit.StateStore` to keep the log in instead of ``path``
            (the log ``disclosures``), shared by every process that opens the store.

    Raises:
        ConfigurationError: the file or store holds a malformed entry or entries out of
            sequence, or both a path and a state store are given.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> log = DisclosureLog(pk.load_policy(pk.example_path()))
        >>> at = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
        >>> log.record(recipient="integration_partners", subject_ref="subj_1", subject_kind="customer",
        ...            categories=["user.contact.email"], purpose="service.integrations", at=at).seq
        1
        >>> log.record(recipient="integration_partners", subject_ref="subj_1", subject_kind="customer",
        ...            categories=["user.financial.payment_card"], purpose="service.integrations", at=at)
        Traceback (most recent call last):
        ...
        privacy_kit._errors.DisclosureError: recipient 'integration_partners' is not declared to receive category 'user.financial.payment_card' (it receives user.account.name, user.contact.email, user.scheduling.booking)
        >>> [r.recipient for r in log.recipients_to_notify("subj_1", kind="customer")]
        ['integration_partners']
    """

    def __init__(
        self,
        policy: Policy,
        *,
        path: str | os.PathLike[str] | None = None,
        datamap: DataMap | None = None,
        state: StateStore | None = None,
    ) -> None:
        if path is not None and state is not None:
            raise ConfigurationError("a DisclosureLog is kept in a file or a state store")
        self.policy = policy
        self.datamap = datamap
        self.path = Path(path) if path is not None else None
        self.state = state
        self._entries: list[Disclosure] = []
        if self.path is not None and self.path.exists():
            self._entries.extend(_read(self.path))

    def _sync(self) -> list[Disclosure]:
        """The entries, with those any process appended to the state store since the last read."""
        if self.state is not None:
            for found in self.state.entries(DISCLOSURES, after=len(self._entries)):
                where = f"state store log {DISCLOSURES}, entry {found.seq}"
                if found.seq != len(self._entries) + 1:
                    raise ConfigurationError(f"{where}: expected entry {len(self._entries) + 1}")
                try:
                    self._entries.append(Disclosure.from_json({**found.document, "seq": found.seq}))
                except (ValueError, TypeError) as exc:
                    raise ConfigurationError(
                        f"{where}: malformed disclosure entry: {exc}"
                    ) from None
        return self._entries

    # -- recording ----------------------------------------------------------------------------
    def record(
        self,
        *,
        recipient: str,
        categories: Iterable[str],
        purpose: str,
        at: dt.datetime,
        subject_ref: str | None = None,
        subject_kind: str | None = None,
        record_types: Iterable[str] = (),
        legal_ground: LegalBasis | str | None = None,
        note: str | None = None,
    ) -> Disclosure:
        """Check a disclosure against the policy and append it to the log.

        Args:
            recipient: the recipient key (as in ``policy.recipients``).
            categories: the categories disclosed.
            purpose: the purpose (must be declared for the recipient; a declared parent purpose
                covers its children).
            at: when (timezone-aware).
            subject_ref: the subject's reference; omit for a disclosure about every subject of
                ``subject_kind``.
            subject_kind: the kind of subject concerned.
            record_types: the record types the data came from.
            legal_ground: the legal basis (default: the purpose's, from the taxonomy).
            note: free text.

        Returns:
            The recorded :class:`Disclosure`.

        Raises:
            DisclosureError: the policy does not allow it (unknown recipient, undeclared or
                unknown category, undeclared purpose, subject kind not covered).
            ConfigurationError: neither subject given, no categories, an unknown record type or
                legal ground.
            ValueError: ``at`` is naive.
        """
        require_aware(at, "at")
        cats = tuple(categories)
        if not cats:
            raise ConfigurationError("a disclosure needs at least one category")
        if subject_ref is None and subject_kind is None:
            raise ConfigurationError("a disclosure needs a subject_ref, a subject_kind, or both")
        target = self._recipient(recipient)
        vocabulary = self.policy.vocabulary
        for category in cats:
            if not vocabulary.has_category(category):
                hint = vocabulary.suggest_category(category)
                suffix = f"; did you mean {hint!r}?" if hint else ""
                raise DisclosureError(f"unknown category {category!r}{suffix}")
            if not any(is_within(category, declared) for declared in target.categories):
                raise DisclosureError(
                    f"recipient {recipient!r} is not declared to receive category {category!r} "
                    f"(it receives {', '.join(target.categories)})"
                )
        if not vocabulary.has_purpose(purpose):
            hint = vocabulary.suggest_purpose(purpose)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            raise DisclosureError(f"unknown purpose {purpose!r}{suffix}")
        if not any(is_within(purpose, declared) for declared in target.purposes):
            raise DisclosureError(
                f"purpose {purpose!r} is not declared for recipient {recipient!r} "
                f"(declared: {', '.join(target.purposes)})"
            )
        if subject_kind is not None:
            kinds = [s.kind for s in self.policy.subjects]
            if subject_kind not in kinds:
                raise DisclosureError(
                    f"subject kind {subject_kind!r} is not covered by the policy (kinds: "
                    f"{', '.join(kinds)})"
                )
            if target.subjects and subject_kind not in target.subjects:
                raise DisclosureError(
                    f"recipient {recipient!r} is not declared to receive data about "
                    f"{subject_kind!r} (only {', '.join(target.subjects)})"
                )
        rts = tuple(record_types)
        if self.datamap is not None:
            for name in rts:
                if not self.datamap.has_record_type(name):
                    hint = closest(name, [r.name for r in self.datamap.record_types])
                    suffix = f"; did you mean {hint!r}?" if hint else ""
                    raise ConfigurationError(f"unknown record type {name!r}{suffix}")
        ground = self._ground(legal_ground, purpose)
        entry = Disclosure(
            seq=len(self._sync()) + 1,
            recipient=target.key,
            recipient_kind=target.kind.value,
            gdpr_recipient=target.is_recipient_under_gdpr,
            subject_ref=subject_ref,
            subject_kind=subject_kind,
            categories=cats,
            record_types=rts,
            purpose=purpose,
            legal_ground=ground,
            at=at,
            policy_version=self.policy.version,
            note=note,
        )
        if self.state is not None:  # the store numbers it: another process may have appended
            document = entry.to_json()
            del document["seq"]
            entry = attrs.evolve(entry, seq=self.state.append(DISCLOSURES, document))
            self._sync()
            return entry
        if self.path is not None:
            line = orjson.dumps(entry.to_json()) + b"\n"
            with self.path.open("ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        self._entries.append(entry)
        return entry

    def _recipient(self, key: str) -> Recipient:
        try:
            return self.policy.recipient(key)
        except KeyError as exc:
            raise DisclosureError(
                f"{exc.args[0]}: policy {self.policy.version!r} does not declare it, so data "
                "may not be disclosed to it"
            ) from None

    def _ground(self, value: LegalBasis | str | None, purpose: str) -> LegalBasis:
        if value is None:
            return self.policy.vocabulary.purpose(purpose).legal_basis
        try:
            return LegalBasis(value)
        except ValueError:
            known = [b.value for b in LegalBasis]
            raise ConfigurationError(
                f"unknown legal ground {value!r}; use one of {', '.join(known)}"
            ) from None

    # -- reading ------------------------------------------------------------------------------
    @property
    def entries(self) -> tuple[Disclosure, ...]:
        """Every disclosure, in the order recorded."""
        return tuple(self._sync())

    def __len__(self) -> int:
        return len(self._sync())

    def __iter__(self) -> Iterator[Disclosure]:
        return iter(tuple(self._sync()))

    def for_subject(self, subject_ref: str, *, kind: str | None = None) -> tuple[Disclosure, ...]:
        """The disclosures about ``subject_ref``, plus (with ``kind``) those about every subject of that kind."""
        return tuple(
            e
            for e in self._sync()
            if e.subject_ref == subject_ref
            or (kind is not None and e.subject_ref is None and e.subject_kind == kind)
        )

    def received_by(
        self, subject_ref: str, *, kind: str | None = None
    ) -> tuple[RecipientSummary, ...]:
        """Who received the subject's data, what and when (for an export manifest), by recipient."""
        grouped: dict[str, list[Disclosure]] = {}
        for e in self.for_subject(subject_ref, kind=kind):
            grouped.setdefault(e.recipient, []).append(e)
        out: list[RecipientSummary] = []
        for key, items in grouped.items():
            name: LocalizedText | None
            try:
                name = self.policy.recipient(key).name
            except KeyError:
                name = None
            out.append(
                RecipientSummary(
                    recipient=key,
                    name=name,
                    kind=items[-1].recipient_kind,
                    gdpr_recipient=items[-1].gdpr_recipient,
                    categories=tuple(sorted({c for e in items for c in e.categories})),
                    purposes=tuple(sorted({e.purpose for e in items})),
                    record_types=tuple(sorted({r for e in items for r in e.record_types})),
                    first=min(e.at for e in items),
                    last=max(e.at for e in items),
                    count=len(items),
                )
            )
        return tuple(out)

    def recipients_to_notify(
        self, subject_ref: str, *, kind: str | None = None
    ) -> tuple[RecipientSummary, ...]:
        """The recipients to tell of the subject's erasure, rectification or restriction.

        Every recipient the subject's data was disclosed to (GDPR Art. 17(2), Art. 19), except
        public authorities receiving data in a particular inquiry, which are not recipients
        under Art. 4(9) (``is_recipient_under_gdpr: false`` in the policy).
        """
        return tuple(r for r in self.received_by(subject_ref, kind=kind) if r.gdpr_recipient)

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        where = repr(self.state) if self.state is not None else where
        return f"<DisclosureLog {len(self)} entries in {where}>"


def _read(path: Path) -> Iterator[Disclosure]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the disclosure log: {exc}") from exc
    expected = 1
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = Disclosure.from_json(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"{path}:{number}: malformed disclosure entry: {exc}"
            ) from None
        if entry.seq != expected:
            raise ConfigurationError(
                f"{path}:{number}: entry has seq {entry.seq}, expected {expected} "
                "(the log was edited, reordered or truncated)"
            )
        expected += 1
        yield entry
