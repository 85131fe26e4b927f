"""Admin integration: an action that downloads the export bundle of the selected person."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ..._errors import PrivacyKitError
from ..._scope import Subject
from ._settings import get_engine

__all__ = ["export_personal_data"]

AdminAction = Callable[[Any, HttpRequest, Any], HttpResponse | None]


def export_personal_data(
    kind: str,
    identity: str,
    attribute: str | None = None,
    *,
    description: str = "Export this person's data (zip)",
) -> AdminAction:
    """An admin action exporting the data of the person the selected object is.

    The subject is ``Subject(kind, {identity: getattr(obj, attribute or identity)})``; the
    response is the zip bundle of :meth:`privacy_kit.Engine.export` (as of the request's time),
    and the export is in the audit log like any other. Exactly one object must be selected
    (otherwise an error message and no download); a privacy_kit error is shown as a message.

    Args:
        kind: the subject kind of the data map (``"member"``).
        identity: the identity the object's attribute holds (``"member_id"``).
        attribute: the object's attribute with the value (default: ``identity``; ``"pk"`` for
            the primary key).
        description: the action's label in the admin.

    Example:
        >>> class MemberAdmin(admin.ModelAdmin):   # doctest: +SKIP
        ...     actions = [export_personal_data("member", "member_id", "pk")]
    """
    # Imported here: django.contrib.admin needs the app registry, and importing this module
    # (the doctests do) must not.
    from django.contrib import admin, messages  # noqa: PLC0415

    @admin.action(description=description)  # type: ignore[untyped-decorator]
    def action(modeladmin: Any, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        selected = list(queryset[:2])
        if len(selected) != 1:
            modeladmin.message_user(
                request, "Select exactly one person to export.", level=messages.ERROR
            )
            return None
        value = getattr(selected[0], attribute or identity)
        who = Subject(kind, {identity: value})
        try:
            buffer = io.BytesIO()  # the zip is written front to back into memory
            result = get_engine().export(who, buffer, now=timezone.now())
            data = buffer.getvalue()
        except PrivacyKitError as exc:
            modeladmin.message_user(request, f"Export failed: {exc}", level=messages.ERROR)
            return None
        response = HttpResponse(data, content_type="application/zip")
        name = f"personal-data-{kind}-{result.subject_reference[:16]}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    action.__name__ = f"export_{kind}_data"
    return action  # type: ignore[no-any-return]
