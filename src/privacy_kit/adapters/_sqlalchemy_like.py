"""What the SQLAlchemy adapter's statement helpers use of it (a protocol, so the helper modules
need not import the adapter).

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlalchemy as sa

from ..model._datamap import RecordType
from ._selection import Selection

__all__ = ["SQLAlchemyLike"]


class SQLAlchemyLike(Protocol):
    """What these plans use of :class:`~privacy_kit.adapters.SQLAlchemyAdapter`."""

    engine: sa.Engine

    def _connect(self) -> AbstractContextManager[sa.Connection]: ...

    def _begin(self) -> AbstractContextManager[sa.Connection]: ...

    def table(self, record_type: RecordType) -> sa.Table: ...

    def _where(self, table: sa.Table, selection: Selection) -> sa.ColumnElement[bool]: ...

    def _column(self, table: sa.Table, field: str) -> sa.Column[Any]: ...

    def _in(
        self, column: sa.Column[Any], listed: Sequence[Any], *, plain: bool = False
    ) -> sa.ColumnElement[bool]: ...
