"""The command line (``privacy-kit``), the demo and the sample data it runs on.

The top layer: it may import every other layer, and nothing imports it.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
