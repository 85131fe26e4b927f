"""Identity values as the store holds them: checked against the field's type, then normalised.

A subject arrives with identities from web forms, OpenDSR bodies and application code: ``"7"``
for an integer key, ``" Ann@Example.com "`` for an address the store keeps in lower case. Before
any statement runs, :func:`identity_value` turns each value into the form of the field it is
compared with (integers from digit strings; surrounding whitespace removed; the field's declared
``normalize`` steps), and refuses what cannot be that field's value (a float or ``"2abc"`` for an
integer key, a number for an address), so one person has one reference however the identity
arrives, and a database never coerces a value into someone else's record.

:func:`identity_fields` says which identities a subject of a kind can be known by (and the field
that holds each), refusing an unknown kind or identity with a "did you mean" hint: the resolver
checks every subject with it, and :func:`~privacy_kit._scope.parse_subject` checks command-line
arguments with it before anything is opened.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from .._errors import SubjectError
from .._types import closest
from ._datamap import DataMap, FieldSpec, RecordType

__all__ = ["identity_fields", "identity_value"]

_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
_REAL = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")


def _refuse(where: str, field: FieldSpec, value: Any) -> SubjectError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return SubjectError(
        f"{where}: {type(value).__name__} {shown} cannot be a value of the {field.type} "
        f"field {field.name!r}"
    )


def identity_value(field: FieldSpec, value: Any, *, where: str) -> Any:
    """``value`` as field ``field`` holds it, or :class:`~privacy_kit.SubjectError`.

    Args:
        field: the field the identity is compared with.
        value: the identity value as given.
        where: what to name in an error (``"customer.user_id"``).

    Example:
        >>> from privacy_kit.model import FieldSpec
        >>> identity_value(FieldSpec(name="id", type="integer"), " 7 ", where="customer.user_id")
        7
        >>> identity_value(FieldSpec(name="email", normalize=("lower",)), " Ann@X.org", where="e")
        'ann@x.org'
        >>> identity_value(FieldSpec(name="id", type="integer"), "2abc", where="customer.user_id")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.SubjectError: customer.user_id: str '2abc' cannot be a value of the integer field 'id'
    """
    kind = field.type
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value.strip())
        raise _refuse(where, field, value)
    if kind == "real":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _REAL.fullmatch(value.strip()):
            return float(value.strip())
        raise _refuse(where, field, value)
    if kind == "text":
        if not isinstance(value, str):
            raise _refuse(where, field, value)
        text = value.strip()
        if not text:
            raise SubjectError(f"{where}: an empty identity value matches nobody")
        for step in field.normalize:
            if step == "lower":
                text = text.lower()
            elif step == "casefold":
                text = text.casefold()
            else:
                text = unicodedata.normalize("NFC" if step == "nfc" else "NFKC", text)
        return text
    if kind == "boolean" and not isinstance(value, bool):
        raise _refuse(where, field, value)
    return value


def identity_fields(
    datamap: DataMap, kind: str, names: Iterable[str] = ()
) -> dict[str, tuple[RecordType, FieldSpec]]:
    """Each identity a subject of ``kind`` can be known by, with the record type and field that
    hold it, after checking that ``kind`` and each of ``names`` are known.

    The profile link (an owner link holding the subject's other identities) comes first, so its
    field decides how a value is normalised for the subject's reference.

    Raises:
        SubjectError: a kind no record type links, or a name no link of that kind uses (with a
            "did you mean" hint and the known names).

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> sorted(identity_fields(dm, "customer"))
        ['email', 'user_id']
        >>> identity_fields(dm, "customer", ["usr_id"])
        Traceback (most recent call last):
        ...
        privacy_kit._errors.SubjectError: a customer has no identity 'usr_id'; did you mean 'user_id'? (known: email, user_id)
    """
    kinds = sorted({s.kind for rt in datamap.record_types for s in rt.subjects})
    if kind not in kinds:
        hint = closest(kind, kinds)
        suffix = f"; did you mean {hint!r}?" if hint else ""
        raise SubjectError(
            f"no record type of the data map holds a {kind!r}{suffix} "
            f"(known kinds: {', '.join(kinds)})"
        )
    found: dict[str, tuple[RecordType, FieldSpec]] = {}
    links = sorted(
        datamap.linked_to(kind), key=lambda rl: not (rl[1].owner and rl[1].extra_identities)
    )
    for rt, link in links:
        found.setdefault(link.identity, (rt, rt.field(link.field)))
        for identity, field in link.extra_identities.items():
            found.setdefault(identity, (rt, rt.field(field)))
    for name in names:
        if name not in found:
            hint = closest(name, found)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            raise SubjectError(
                f"a {kind} has no identity {name!r}{suffix} (known: {', '.join(sorted(found))})"
            )
    return found
