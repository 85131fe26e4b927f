"""Scenario 5: loading and validating a large policy and data map, against fideslang.

The documents are generated from the reference example: the policy gains 1,000 data categories
of its own (a root, 9 groups, 990 leaves), a collection entry for every leaf and a retention rule;
the data map has 200 record types of 5 personal fields each, every leaf category used. Both are
written as JSON files (so PyYAML's speed is not what is measured) and privacy_kit times
``load_policy(path)`` plus ``load_datamap(path, policy=policy)``: parsing, model validation, the
policy's cross-references and the data map's vocabulary check.

fideslang (the Fides taxonomy language) is the nearest tool: the same vocabulary as a fideslang
taxonomy (1,000 ``data_category`` resources, and 200 ``dataset`` resources whose fields carry the
categories) is validated with ``load_manifests_into_taxonomy`` after reading the JSON file.
fideslang pins an older pydantic, so it never enters privacy_kit's environment: the nox ``bench``
session installs it into a virtual environment of its own and names that interpreter in
``PRIVACY_KIT_BENCH_FIDESLANG_PYTHON``; the timing runs there (``_fideslang_runner.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from ._harness import Config, Measured, Row, alternate, median, peak_python_memory

NAME = "load"

CATEGORIES = 1000
RECORD_TYPES = 200
FIELDS_PER_TYPE = 5
GROUPS = 9


def category_keys(total: int = CATEGORIES) -> tuple[list[str], list[str]]:
    """All generated category keys (root, groups, leaves) and the leaves alone.

    Example:
        >>> keys, leaves = category_keys(20)
        >>> len(keys), keys[:2], leaves[0]
        (20, ['bench', 'bench.g0'], 'bench.g0.c000')
    """
    groups = [f"bench.g{g}" for g in range(GROUPS)]
    leaves = [f"bench.g{i % GROUPS}.c{i:03d}" for i in range(total - 1 - GROUPS)]
    return ["bench", *groups, *leaves], leaves


def generate_policy(total: int = CATEGORIES) -> dict[str, Any]:
    """The example policy as a mapping, with ``total`` categories of its own."""
    import privacy_kit as pk

    doc: dict[str, Any] = pk.load_policy(pk.example_path()).model_dump(
        mode="json", exclude_defaults=True
    )
    keys, leaves = category_keys(total)
    doc["taxonomy"] = {
        "base": "default",
        "categories": [
            {
                "key": key,
                "name": {"en": f"Benchmark data {key}", "ar": f"بيانات {key}"},
                "description": {"en": f"Generated category {key}.", "ar": "فئة مولّدة."},
            }
            for key in keys
        ],
    }
    doc["collection"] = [
        *doc["collection"],
        *(
            {
                "category": leaf,
                "source": "provided",
                "purposes": ["service.provide"],
                "description": {"en": f"Collected {leaf}.", "ar": "تُجمع."},
            }
            for leaf in leaves
        ),
    ]
    doc["retention"] = [
        *doc["retention"],
        {
            "key": "bench_data",
            "description": {"en": "Generated data is kept for a year.", "ar": "تُحفظ سنة."},
            "categories": ["bench"],
            "trigger": "created",
            "duration": "P1Y",
        },
    ]
    return doc


def generate_datamap(
    total: int = CATEGORIES, record_types: int = RECORD_TYPES, fields: int = FIELDS_PER_TYPE
) -> dict[str, Any]:
    """A data map of ``record_types`` tables that together use every generated leaf category."""
    _, leaves = category_keys(total)
    out = []
    n = 0
    for t in range(record_types):
        specs: list[dict[str, Any]] = [
            {"name": "id", "type": "integer", "personal": False},
            {"name": "user_id", "type": "integer", "categories": ["user.account.identifier"]},
            {"name": "created_at", "type": "timestamp", "personal": False},
        ]
        for f in range(fields):
            specs.append({"name": f"f{f}", "categories": [leaves[n % len(leaves)]]})
            n += 1
        out.append(
            {
                "name": f"t{t:03d}",
                "store": "main",
                "description": f"Generated record type {t}.",
                "subjects": [
                    {"kind": "customer", "field": "user_id", "identity": "user_id", "owner": True}
                ],
                "timestamps": {"created": "created_at"},
                "fields": specs,
            }
        )
    return {"record_types": out}


def generate_fideslang(total: int = CATEGORIES, record_types: int = RECORD_TYPES) -> dict[str, Any]:
    """The same vocabulary as fideslang manifests: data categories and datasets."""
    keys, leaves = category_keys(total)
    categories = [
        {
            "fides_key": key,
            "name": f"Benchmark data {key}",
            "description": f"Generated category {key}.",
            "parent_key": key.rpartition(".")[0] or None,
        }
        for key in keys
    ]
    datasets = []
    n = 0
    for t in range(record_types):
        fields: list[dict[str, Any]] = [
            {"name": "id", "data_categories": ["bench"]},
            {"name": "user_id", "data_categories": ["bench"]},
            {"name": "created_at", "data_categories": ["bench"]},
        ]
        for f in range(FIELDS_PER_TYPE):
            fields.append({"name": f"f{f}", "data_categories": [leaves[n % len(leaves)]]})
            n += 1
        datasets.append(
            {
                "fides_key": f"t{t:03d}",
                "name": f"Record type {t}",
                "description": f"Generated record type {t}.",
                "collections": [{"name": f"t{t:03d}", "fields": fields}],
            }
        )
    return {
        "data_category": categories,
        "data_use": [{"fides_key": "provide", "name": "Provide the service"}],
        "data_subject": [{"fides_key": "customer", "name": "Customer"}],
        "dataset": datasets,
    }


def _fideslang(python: str, path: Path) -> Measured:
    runner = Path(__file__).with_name("_fideslang_runner.py")
    out = subprocess.run(
        [python, str(runner), str(path)], capture_output=True, text=True, check=True
    )
    return Measured(float(out.stdout.strip().splitlines()[-1]))


def run(config: Config) -> list[Row]:
    """Time loading both documents, alternating with fideslang when it is available."""
    import privacy_kit as pk

    total = config.size(CATEGORIES, 100)
    types = config.size(RECORD_TYPES, 20)
    work = Path(config.workdir)
    policy_path, datamap_path = work / "bench_policy.json", work / "bench_datamap.json"
    policy_path.write_text(json.dumps(generate_policy(total), ensure_ascii=False), "utf-8")
    datamap_path.write_text(json.dumps(generate_datamap(total, types)), "utf-8")
    fides_path = work / "bench_fideslang.json"
    fides_path.write_text(json.dumps(generate_fideslang(total, types)), "utf-8")

    def ours(_state: object) -> Any:
        policy = pk.load_policy(policy_path)
        datamap = pk.load_datamap(datamap_path, policy=policy)
        assert len(policy.vocabulary.categories) >= total
        assert len(datamap.record_types) == types
        return datamap

    size = f"{total} categories, {types} record types"
    python = os.environ.get("PRIVACY_KIT_BENCH_FIDESLANG_PYTHON")
    why_not = os.environ.get("PRIVACY_KIT_BENCH_FIDESLANG_ERROR")
    contenders: list[tuple[str, Any]] = [("pk", ours)]
    note = ""
    if python:
        contenders.append(("fideslang", lambda _s: _fideslang(python, fides_path)))
    else:
        note = (
            f"fideslang could not be installed: {why_not}"
            if why_not
            else "fideslang not run (set by `nox -s bench`: PRIVACY_KIT_BENCH_FIDESLANG_PYTHON)"
        )
    ours(None)  # warm-up: first-use costs (lazy imports) are scenario 6's, not this one's
    times = alternate(lambda: None, contenders, config.repetitions)
    if python:
        note = "fideslang: read JSON + load_manifests_into_taxonomy, in its own venv"
    peak, _ = peak_python_memory(lambda: ours(None))
    return [
        Row(
            scenario="5. load + validate policy and data map",
            size=size,
            pk=median(times["pk"]),
            baseline=median(times["fideslang"]) if python else None,
            baseline_name="fideslang" if python else "",
            peak_mb=peak,
            note=note,
            samples=times,
        )
    ]
