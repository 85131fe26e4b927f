"""Lazy re-exports for a package's ``__init__``: names are imported on first use.

Every layer's ``__init__`` lists its public names and the private module that defines each;
importing the package costs nothing until a name is used, which keeps ``import privacy_kit``
light however much the library grows. :class:`DebugLogger` does the same for a module that logs
only at DEBUG: it leaves :mod:`logging` unimported in a program that never imported it.

Example:
    >>> getattr_, dir_ = attach("privacy_kit", {"Duration": "._types"}, ["Duration"])
    >>> getattr_("Duration").__name__
    'Duration'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import logging


def attach(
    package: str, names: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` serving ``names`` lazily.

    Args:
        package: the package's ``__name__``.
        names: public name -> module that defines it, relative to ``package`` (``"._log"``).
        public: the package's ``__all__``.
    """
    listed = sorted(public)

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module-level hook PEP 562 names
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the module-level hook PEP 562 names
        return sorted({*vars(sys.modules[package]), *listed})

    return __getattr__, __dir__


class DebugLogger:
    """The logger ``name``, for lines logged at DEBUG only, without importing :mod:`logging`.

    A program that has not imported :mod:`logging` cannot have configured it, so every logger
    is at the root's default level (WARNING) and a DEBUG line would be dropped: :meth:`enabled`
    then answers ``None`` and nothing is imported. Once the program imports :mod:`logging`, the
    logger is the one ``logging.getLogger(name)`` returns, with whatever level it was given.

    Example:
        >>> import logging
        >>> log = DebugLogger("privacy_kit.example")
        >>> log.enabled() is None
        True
        >>> logging.getLogger("privacy_kit.example").setLevel(logging.DEBUG)
        >>> log.enabled().name
        'privacy_kit.example'
    """

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def enabled(self) -> logging.Logger | None:
        """The logger if it logs DEBUG lines, else ``None``."""
        logger = self._logger
        if logger is None:
            logging = sys.modules.get("logging")
            if logging is None:
                return None
            logger = self._logger = logging.getLogger(self.name)
        return logger if logger.isEnabledFor(10) else None  # 10: logging.DEBUG
