"""The disclosure log: who received which personal data, when and why, checked against the policy.

A :class:`DisclosureLog` records each disclosure to a recipient (the recipient, the subject or
kind of subject, the categories and record types, the purpose, the legal ground, the time) and
refuses, with a :class:`~privacy_kit.DisclosureError` naming what is wrong, any disclosure the
policy does not describe: an undeclared recipient, a category the recipient is not declared to
receive (a recipient of ``user.contact`` may receive ``user.contact.email``), a purpose not declared
for it, or a kind of subject it does not receive data about; and the recipient's declared
conditions (:mod:`._disclosure_conditions`): authorities only under an accepted kind of legal
process, the person told unless the law forbids it (a disclosure not yet notified is listed by
:meth:`DisclosureLog.pending_notifications` until :meth:`DisclosureLog.record_notification`
settles it), and a business transfer only once its notice was sent.

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
from ._disclosure_conditions import SubjectNotification, disclosure_conditions
from ._disclosure_entries import Disclosure, RecipientSummary, _read

__all__ = ["ERASURE_NOTICE_CITATION", "DisclosureLog"]

DISCLOSURES = "disclosures"
"""The state store log of the disclosures (its sequence number is the disclosure's ``seq``)."""
NOTIFICATIONS = "disclosure_notifications"
"""The state store log of the notifications that settle disclosures pending one."""

ERASURE_NOTICE_CITATION = "GDPR Art. 17(2), Art. 19"
"""Where the duty to tell recipients of an erasure, rectification or restriction comes from."""


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
        self._notices: list[SubjectNotification] = []
        if self.path is not None and self.path.exists():
            entries, notices = _read(self.path)
            self._entries.extend(entries)
            self._notices.extend(notices)

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
            for found in self.state.entries(NOTIFICATIONS, after=len(self._notices)):
                try:
                    self._notices.append(SubjectNotification.from_json(found.document))
                except (ValueError, TypeError) as exc:
                    raise ConfigurationError(
                        f"state store log {NOTIFICATIONS}, entry {found.seq}: malformed "
                        f"notification entry: {exc}"
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
        legal_process: str | None = None,
        subject_notified_at: dt.datetime | None = None,
        notification_prohibited: str | None = None,
        transfer_notice_sent_at: dt.datetime | None = None,
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
            legal_process: the kind of legal process (``warrant``, ``subpoena``,
                ``court_order``); required to be one the recipient accepts when it declares
                ``legal_process``.
            subject_notified_at: when the person was told of the disclosure.
            notification_prohibited: what legally forbids telling them (instead of telling).
                With neither, a recipient that promises to tell records the disclosure as
                ``pending`` (see :meth:`pending_notifications`).
            transfer_notice_sent_at: when the notice of a business transfer was sent; required
                (and no later than ``at``) when the recipient declares ``notify_before_transfer``.

        Returns:
            The recorded :class:`Disclosure`.

        Raises:
            DisclosureError: the policy does not allow it (unknown recipient, undeclared or
                unknown category, undeclared purpose, subject kind not covered, no accepted
                legal process, a prohibition against an "always tell" promise, a business
                transfer without or before its notice).
            ConfigurationError: neither subject given, no categories, an unknown record type,
                legal ground or process kind, both a notification and a prohibition.
            ValueError: ``at`` is naive.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> data = pk.load_policy(pk.example_path()).model_dump(mode="json")
            >>> police = next(r for r in data["recipients"] if r["kind"] == "authorities")
            >>> police.update(legal_process=["warrant", "court_order"],
            ...               notify_subject="unless_prohibited")
            >>> log = DisclosureLog(pk.Policy.model_validate(data))
            >>> at = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
            >>> log.record(recipient="authorities", subject_ref="subj_1", subject_kind="customer",
            ...            categories=["user.contact.email"], purpose="legal.obligation", at=at)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.DisclosureError: recipient 'authorities' receives data only under legal process of these kinds: warrant, court_order (the policy's legal_process); no legal process was given
            >>> d = log.record(recipient="authorities", subject_ref="subj_1", subject_kind="customer",
            ...     categories=["user.contact.email"], purpose="legal.obligation", at=at,
            ...     legal_process="warrant")
            >>> d.notification, [p.seq for p in log.pending_notifications()]
            ('pending', [1])
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
        conditions = disclosure_conditions(
            target,
            at=at,
            legal_process=legal_process,
            subject_notified_at=subject_notified_at,
            notification_prohibited=notification_prohibited,
            transfer_notice_sent_at=transfer_notice_sent_at,
        )
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
            **attrs.asdict(conditions, recurse=False),
        )
        if self.state is not None:  # the store numbers it: another process may have appended
            document = entry.to_json()
            del document["seq"]
            entry = attrs.evolve(entry, seq=self.state.append(DISCLOSURES, document))
            self._sync()
            return entry
        self._write_line(entry.to_json())
        self._entries.append(entry)
        return entry

    def _write_line(self, document: dict[str, Any]) -> None:
        if self.path is not None:
            line = orjson.dumps(document) + b"\n"
            with self.path.open("ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    # -- telling the person -------------------------------------------------------------------
    @property
    def notifications(self) -> tuple[SubjectNotification, ...]:
        """Every notification that settled a disclosure pending one, in the order recorded."""
        self._sync()
        return tuple(self._notices)

    def pending_notifications(self) -> tuple[Disclosure, ...]:
        """The disclosures whose person must still be told (or a prohibition stated).

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> DisclosureLog(pk.load_policy(pk.example_path())).pending_notifications()
            ()
        """
        entries = self._sync()
        settled = {n.disclosure for n in self._notices}
        return tuple(e for e in entries if e.notification == "pending" and e.seq not in settled)

    def record_notification(
        self,
        seq: int,
        *,
        at: dt.datetime,
        notified_at: dt.datetime | None = None,
        prohibited: str | None = None,
    ) -> SubjectNotification:
        """Settle the pending disclosure ``seq``: the person was told at ``notified_at``, or
        the law forbids telling them (``prohibited`` says what forbids it).

        Raises:
            ConfigurationError: ``seq`` is not a disclosure pending notification, neither or
                both of ``notified_at`` and ``prohibited``, an empty prohibition, a naive time.
            DisclosureError: a prohibition for a recipient whose policy promises to always tell.
        """
        require_aware(at, "at")
        pending = {e.seq: e for e in self.pending_notifications()}
        if seq not in pending:
            raise ConfigurationError(
                f"disclosure {seq} is not pending notification (pending: "
                f"{', '.join(map(str, pending)) or 'none'})"
            )
        if (notified_at is None) == (prohibited is None):
            raise ConfigurationError(
                "settle a notification with notified_at (the person was told) or prohibited "
                "(what forbids telling them), exactly one"
            )
        if notified_at is not None:
            require_aware(notified_at, "notified_at")
        if prohibited is not None and not prohibited.strip():
            raise ConfigurationError("a legal prohibition must say what forbids telling the person")
        promise = next(
            (r.notify_subject for r in self.policy.recipients if r.key == pending[seq].recipient),
            None,
        )
        if prohibited is not None and promise == "always":
            raise DisclosureError(
                f"the policy promises to always tell people of disclosures to "
                f"{pending[seq].recipient!r}; a prohibition on telling them contradicts that promise"
            )
        notice = SubjectNotification(
            disclosure=seq,
            recorded_at=at,
            outcome="notified" if notified_at is not None else "prohibited",
            notified_at=notified_at,
            prohibition=None if prohibited is None else prohibited.strip(),
        )
        if self.state is not None:
            self.state.append(NOTIFICATIONS, notice.to_json())
            self._sync()
            return notice
        self._write_line(notice.to_json())
        self._notices.append(notice)
        return notice

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
