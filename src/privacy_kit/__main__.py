"""``python -m privacy_kit``: the command line, as ``privacy-kit``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
