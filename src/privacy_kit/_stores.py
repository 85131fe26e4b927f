"""The adapters of a data map, per store: :class:`Stores`, which the engine makes first.

Kept apart from :mod:`privacy_kit._scope` (which re-exports it): making an ``Engine`` needs the
stores, while a subject, its scope and their entries are made when the first operation runs, so a
first use does not create their classes (issue 15).

Layer rule: as :mod:`privacy_kit._scope`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ._errors import ConfigurationError
from .adapters import Adapter
from .model._datamap import DataMap, RecordType

__all__ = ["Stores"]


@attrs.frozen
class Stores:
    """The adapters of a data map, per store: which adapter holds which record type.

    Raises:
        ConfigurationError: a store of the data map has no adapter.
    """

    datamap: DataMap = attrs.field(repr=False)
    adapters: Mapping[str, Adapter]

    def __attrs_post_init__(self) -> None:
        missing = [s for s in self.datamap.stores if s not in self.adapters]
        if missing:
            raise ConfigurationError(
                f"no adapter for store(s) {', '.join(map(repr, missing))}; "
                f"adapters were given for {sorted(self.adapters)}"
            )

    @classmethod
    def of(cls, datamap: DataMap, adapters: Adapter | Mapping[str, Adapter]) -> Stores:
        """One adapter serving every store, or ``{store name: adapter}``."""
        if isinstance(adapters, Mapping):
            return cls(datamap, dict(adapters))
        return cls(datamap, dict.fromkeys(datamap.stores, adapters))

    def record_type(self, record_type: RecordType | str) -> RecordType:
        """The data map's record type (given or named)."""
        if isinstance(record_type, RecordType):
            return record_type
        return self.datamap.record_type(record_type)

    def adapter_for(self, record_type: RecordType | str) -> Adapter:
        """The adapter that holds ``record_type``."""
        return self.adapters[self.record_type(record_type).store]

    def by_adapter(
        self, record_types: Iterable[RecordType | str]
    ) -> list[tuple[Adapter, list[RecordType]]]:
        """``record_types`` (each once, in order) grouped by the adapter that holds them: one
        adapter serving several stores is one group, so a question asked of the store's
        catalog (its foreign keys, its partitioned tables) is asked once per adapter.

        Example:
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> import privacy_kit as pk
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> stores = Stores.of(dm, InMemoryAdapter())
            >>> [(len(types), types[-1].name)
            ...  for _adapter, types in stores.by_adapter(["sessions", "users", "sessions"])]
            [(2, 'users')]
        """
        groups: dict[int, tuple[Adapter, list[RecordType]]] = {}
        seen: set[str] = set()
        for given in record_types:
            rt = self.record_type(given)
            if rt.name in seen:
                continue
            seen.add(rt.name)
            adapter = self.adapter_for(rt)
            groups.setdefault(id(adapter), (adapter, []))[1].append(rt)
        return list(groups.values())
