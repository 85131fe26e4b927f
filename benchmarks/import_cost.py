"""Scenario 6: what ``import privacy_kit`` and its first use cost, against pydantic alone.

Each measurement is a fresh interpreter (``sys.executable``) that times the statements itself
with ``perf_counter`` and prints it, so interpreter start-up is left out of both sides and
nothing is cached in ``sys.modules``. The two commands alternate; medians are reported. Before
the clock, one untimed run of each side writes the bytecode caches (``__pycache__``), as
installing a package does: ``PYTHONDONTWRITEBYTECODE`` is not passed on, so a source checkout
is measured as an installed wheel would be, not recompiling every module on every run.

Two rows:

- ``import privacy_kit`` (the top-level package is lazy, so this is what a program that only
  imports it pays) against ``import pydantic``;
- **first use**: import, load the example policy and data map (YAML files) and make an
  ``Engine`` over an SQLite file (the default store, its tables made beforehand), against what
  any pydantic program pays first: ``from pydantic import BaseModel``, one model of a few fields
  and one validation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ._harness import Config, Row, median

NAME = "import"

_TEMPLATE = "import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)\n"

FIRST_USE = (
    "import privacy_kit as pk\n"
    "from privacy_kit.adapters import SQLiteAdapter\n"
    "policy = pk.load_policy(pk.example_path())\n"
    "datamap = pk.load_datamap(pk.example_path('datamap.yaml'), policy=policy)\n"
    "engine = pk.Engine(policy, datamap, SQLiteAdapter({store!r}), secret=b'k' * 32)"
)

PYDANTIC_FIRST_USE = (
    "from pydantic import BaseModel\n"
    "class Item(BaseModel):\n"
    "    name: str\n"
    "    size: int\n"
    "    tags: list[str] = []\n"
    "Item.model_validate({'name': 'a', 'size': 1, 'tags': ['x']})"
)


def _env() -> dict[str, str]:
    """The environment of the measured interpreters: the caller's (so ``PYTHONPATH=src``
    measures a source checkout), with bytecode caching allowed.

    The interpreters run in an empty directory, so each ``PYTHONPATH`` entry is made absolute
    against the caller's directory: a relative ``src`` would otherwise name nothing there, and
    the installed package (another checkout, perhaps) would be measured instead, silently.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(entry) if entry else entry
            for entry in env["PYTHONPATH"].split(os.pathsep)
        )
    return env


def import_seconds(statement: str, cwd: str, env: dict[str, str] | None = None) -> float:
    """Seconds ``statement`` takes in a fresh interpreter (start-up excluded)."""
    out = subprocess.run(
        [sys.executable, "-c", _TEMPLATE.format(statement=statement)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env=env if env is not None else _env(),
    )
    return float(out.stdout.strip().splitlines()[-1])


def cases(store: str) -> tuple[tuple[str, str, str, str], ...]:
    """``(label, privacy_kit statement, baseline name, baseline statement)`` per row."""
    return (
        ("import privacy_kit", "import privacy_kit", "import pydantic", "import pydantic"),
        (
            "first use: import, load policy + data map, Engine(...)",
            FIRST_USE.format(store=store),
            "pydantic: import, one model, one validation",
            PYDANTIC_FIRST_USE,
        ),
    )


def _make_store(path: Path) -> None:
    """The SQLite file the first-use Engine opens, its tables made (untimed, in this process)."""
    import privacy_kit as pk
    from privacy_kit.adapters import SQLiteAdapter

    adapter = SQLiteAdapter(path)
    try:
        adapter.create_schema(pk.load_datamap(pk.example_path("datamap.yaml")))
        adapter.connection.commit()
    finally:
        adapter.close()


def run(config: Config) -> list[Row]:
    """Both rows, alternating fresh interpreters, ``reps`` per side."""
    reps = config.size(40, 8)
    rows = []
    env = _env()
    # An empty directory as cwd: neither the source tree nor benchmarks/ shadows an installed module.
    with tempfile.TemporaryDirectory() as cwd:
        store = Path(cwd) / "store.sqlite"
        _make_store(store)
        for label, ours, baseline_name, theirs in cases(str(store)):
            for statement in (ours, theirs):  # untimed: bytecode caches written, disk warm
                import_seconds(statement, cwd, env)
            times: dict[str, list[float]] = {"pk": [], "base": []}
            for rep in range(reps):
                order = [("pk", ours), ("base", theirs)]
                for side, statement in order if rep % 2 == 0 else reversed(order):
                    times[side].append(import_seconds(statement, cwd, env))
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
