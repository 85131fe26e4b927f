"""First use stays cheap: an Engine is made without importing the operations it has not run."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter
from privacy_kit.engine import Plan

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# Modules an Engine needs only when it runs the operation (or makes the collaborator) they hold.
OPERATIONS = (
    "privacy_kit.audit._log",
    "privacy_kit.retention._apply",
    "privacy_kit.retention._plan",
    "privacy_kit.retention._holds",
    "privacy_kit.retention._commitments",
    "privacy_kit.retention._fate",
    "privacy_kit.rights._export",
    "privacy_kit.rights._erasure_plan",
    "privacy_kit.rights._erasure_apply",
    "privacy_kit.rights._preferences",
    "privacy_kit.lifecycle._disclosures",
)


def _engine() -> pk.Engine:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    tables = {rt.table_name: [] for rt in datamap.record_types}
    return pk.Engine(
        pk.load_policy(pk.example_path()), datamap, InMemoryAdapter(tables), secret=b"s" * 32
    )


def test_making_an_engine_imports_no_operation_module() -> None:
    code = (
        "import sys, privacy_kit as pk\n"
        "from privacy_kit.adapters import InMemoryAdapter\n"
        "dm = pk.load_datamap(pk.example_path('datamap.yaml'))\n"
        "pk.Engine(pk.load_policy(pk.example_path()), dm,\n"
        "          InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}), secret=b's' * 32)\n"
        f"print(','.join(m for m in {OPERATIONS!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


def test_the_default_collaborators_are_made_once_on_first_use() -> None:
    engine = _engine()
    audit = engine.audit
    assert engine.audit is audit
    assert engine.holds is engine.holds
    assert engine.preferences is engine.preferences
    assert engine.commitments is engine.commitments
    engine.place_hold(
        reason="Dispute", placed_by="legal", now=NOW, subject=pk.Subject.of("customer", user_id=7)
    )
    assert [e.action for e in engine.audit.entries()] == ["hold.placed"]
    assert len(engine.holds.active(NOW)) == 1


def test_given_or_assigned_collaborators_are_the_ones_used() -> None:
    log = pk.AuditLog.memory()
    engine = _engine()
    engine.audit = log
    engine.object_to(pk.Subject.of("customer", user_id=7), "marketing", now=NOW)
    assert engine.audit is log
    assert [e.action for e in log.entries()] == ["objection.recorded"]


def test_plan_is_still_the_union_of_the_two_plans() -> None:
    from privacy_kit.retention import RetentionPlan
    from privacy_kit.rights import ErasurePlan

    assert Plan == ErasurePlan | RetentionPlan


def test_the_benchmarked_first_use_imports_no_check_and_no_in_memory_adapter(tmp_path: Any) -> None:
    """Loading the example's files (the data map against the policy) and making an Engine over
    SQLite, as the first-use benchmark does, imports neither the consistency check nor what only
    other adapters and plans need (issue 15): not dateutil (a duration adds months itself), the
    selections (made when the first one is), the subject and scope classes (``_scope``: the
    Engine needs only ``Stores``), the jurisdictions' tables (a policy's keys are checked
    against ``_jurisdiction_keys``) nor orjson (the package data is read with ``json``; JSON
    documents and JSON fields import orjson when they are read or written)."""
    code = (
        "import sys, privacy_kit as pk\n"
        "from privacy_kit.adapters import SQLiteAdapter\n"
        "policy = pk.load_policy(pk.example_path())\n"
        "dm = pk.load_datamap(pk.example_path('datamap.yaml'), policy=policy)\n"
        f"db = SQLiteAdapter({str(tmp_path / 'store.sqlite')!r})\n"
        "db.create_schema(dm)\n"
        "pk.Engine(policy, dm, db, secret=b's' * 32)\n"
        "unused = ('privacy_kit.model._check', 'privacy_kit.adapters._memory',\n"
        "          'privacy_kit.adapters._order', 'privacy_kit.model._check_storage',\n"
        "          'privacy_kit.model._order', 'privacy_kit.adapters._bounds',\n"
        "          'privacy_kit.model._check_retention', 'privacy_kit.rights._unsubscribe',\n"
        "          'logging', 'difflib', 'pydantic.type_adapter', 'dateutil',\n"
        "          'privacy_kit.adapters._selection', 'privacy_kit._scope',\n"
        "          'privacy_kit.model._jurisdictions', 'orjson')\n"
        "print(','.join(m for m in unused if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


def test_the_engine_default_unsubscribe_ttl_is_the_token_code_default() -> None:
    """The engine spells the default out so that it does not import the token code."""
    import inspect

    from privacy_kit.rights._unsubscribe import DEFAULT_UNSUBSCRIBE_TTL

    ttl = inspect.signature(pk.Engine.unsubscribe_token).parameters["ttl"].default
    assert ttl == DEFAULT_UNSUBSCRIBE_TTL


def test_statements_are_logged_at_debug_once_logging_is_configured(tmp_path: Any) -> None:
    """A program that imports logging only after the adapters were imported (and a statement
    ran) still gets the DEBUG lines once it turns them on."""
    code = (
        "import sys, privacy_kit as pk\n"
        "from privacy_kit.adapters import SQLiteAdapter\n"
        "dm = pk.load_datamap(pk.example_path('datamap.yaml'))\n"
        f"db = SQLiteAdapter({str(tmp_path / 'store.sqlite')!r})\n"
        "db.create_schema(dm)\n"
        "assert 'logging' not in sys.modules\n"
        "import logging\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(name)s %(message)s')\n"
        "db.count(dm.record_type('users'), pk.adapters.All())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    line = result.stdout.strip()
    assert line.startswith("privacy_kit.adapters SQLiteAdapter: SELECT users: 1 row(s), ")
    assert line.endswith(" ms")


MODEL_MODULES = (
    "_conditions",
    "_datamap",
    "_policy",
    "_policy_collection",
    "_policy_promises",
    "_policy_retention",
    "_policy_rights",
    "_taxonomy",
)


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_the_policy_and_data_map_models_have_evaluated_annotations(name: str) -> None:
    """The modules defining the policy's and data map's models do not use
    ``from __future__ import annotations``: with it, pydantic compiles and evaluates each
    field's annotation string when the model is built (about a twentieth of a first use)."""
    import importlib

    module = importlib.import_module(f"privacy_kit.model.{name}")
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    assert "from __future__ import annotations" not in source
