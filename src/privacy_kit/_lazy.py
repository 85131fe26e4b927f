"""Lazy re-exports for a package's ``__init__``: names are imported on first use.

Every layer's ``__init__`` lists its public names and the private module that defines each;
importing the package costs nothing until a name is used, which keeps ``import privacy_kit``
light however much the library grows.

Example:
    >>> getattr_, dir_ = attach("privacy_kit", {"Duration": "._types"}, ["Duration"])
    >>> getattr_("Duration").__name__
    'Duration'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


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
