"""Scenario 6: what ``import privacy_kit`` costs, against importing pydantic alone.

Each measurement is a fresh interpreter (``sys.executable``) that times the import statement
itself with ``perf_counter`` and prints it, so interpreter start-up is left out of both sides and
nothing is cached in ``sys.modules``. The two commands alternate; medians are reported.

Two rows: the bare ``import privacy_kit`` (the top-level package is lazy, so this is what a
program that only imports it pays), and the import plus first use of the core models
(``pk.Policy``, ``pk.DataMap``, ``pk.Engine``), which builds their pydantic schemas, against
``from pydantic import BaseModel``, which builds pydantic's own machinery.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from ._harness import Config, Row, median

NAME = "import"

_TEMPLATE = "import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)\n"


def import_seconds(statement: str, cwd: str) -> float:
    """Seconds ``statement`` takes in a fresh interpreter (start-up excluded)."""
    out = subprocess.run(
        [sys.executable, "-c", _TEMPLATE.format(statement=statement)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    return float(out.stdout.strip().splitlines()[-1])


CASES = (
    ("import privacy_kit", "import privacy_kit", "import pydantic", "import pydantic"),
    (
        "import + first use of Policy, DataMap, Engine",
        "import privacy_kit as pk; pk.Policy, pk.DataMap, pk.Engine",
        "from pydantic import BaseModel",
        "from pydantic import BaseModel",
    ),
)


def run(config: Config) -> list[Row]:
    """Both rows, alternating fresh interpreters, ``reps`` per side."""
    reps = config.size(40, 8)
    rows = []
    # An empty directory as cwd: neither the source tree nor benchmarks/ shadows an installed module.
    with tempfile.TemporaryDirectory() as cwd:
        for label, ours, baseline_name, theirs in CASES:
            times: dict[str, list[float]] = {"pk": [], "base": []}
            for rep in range(reps):
                order = [("pk", ours), ("base", theirs)]
                for side, statement in order if rep % 2 == 0 else reversed(order):
                    times[side].append(import_seconds(statement, cwd))
            rows.append(
                Row(
                    scenario=f"6. {label}",
                    size=f"{reps} interpreters",
                    pk=median(times["pk"]),
                    baseline=median(times["base"]),
                    baseline_name=baseline_name,
                    target=1.5,
                    samples=times,
                )
            )
    return rows
