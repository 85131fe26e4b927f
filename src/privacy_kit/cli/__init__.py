"""The command line (``privacy-kit``, ``python -m privacy_kit``), the demo and the sample data.

:func:`main` runs the command line; :func:`run_demo` runs the demo from Python; :func:`generate`
fills a store with realistic sample data for the built-in example.

Layer rule: the top layer; it may import every other layer, and nothing imports it.

Example:
    >>> from privacy_kit.cli import main
    >>> callable(main)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "DEFAULT_AS_OF": "._demo",
    "DemoResult": "._demo",
    "DemoStep": "._demo",
    "run_demo": "._demo",
    "main": "._main",
    "SampleSummary": "._sample",
    "generate": "._sample",
}

__all__ = [
    "DEFAULT_AS_OF",
    "DemoResult",
    "DemoStep",
    "SampleSummary",
    "generate",
    "main",
    "run_demo",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._demo import DEFAULT_AS_OF, DemoResult, DemoStep, run_demo
    from ._main import main
    from ._sample import SampleSummary, generate
