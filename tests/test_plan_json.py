"""Plans as plain, versioned data: retention plans, erasure plans and export jobs written to JSON,
loaded (here or in another process) and applied exactly as the originals; refused when made
under another policy version or data map, of a newer format, or corrupt."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys
import uuid
import zoneinfo
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

import privacy_kit as pk
from plan_workers import (
    SWEEP,
    T,
    copy_deployment,
    engine,
    seed,
    summary,
    table_rows,
)
from privacy_kit.adapters import (
    After,
    All,
    And,
    Before,
    Eq,
    In,
    IsNull,
    Not,
    Or,
    Related,
    SQLiteAdapter,
)
from privacy_kit.retention import apply_retention
from privacy_kit.retention._plan_codec import Reader, selection_to_json
from privacy_kit.rights import plan_erasure
from test_export import ANN, OMAR, policy_and_datamap
from test_selection_property import selections

TESTS = Path(__file__).parent
SRC = Path(pk.__file__).parent.parent


def _in_another_process(db: Path, state: Path, document: str, tmp: Path, **env: str) -> Any:
    """Load ``document`` in a fresh interpreter, apply it on ``db``/``state``, return its summary."""
    path = tmp / f"plan-{uuid.uuid4().hex}.json"
    path.write_text(document)
    run = subprocess.run(
        [sys.executable, str(TESTS / "plan_workers.py"), "apply", str(db), str(state), str(path)],
        capture_output=True,
        check=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
            "PYTHONHASHSEED": "12345",  # another process hashes strings differently
            **env,
        },
        timeout=300,
    )
    out = orjson.loads(run.stdout)
    if "error" in out:
        return out["error"]
    return out["ok"]


def _json(value: Any) -> Any:
    """A summary as it comes back from a process (tuples as lists, keys as text)."""
    return orjson.loads(orjson.dumps(value))


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[pk.Engine, Path, Path]:
    db, state = tmp_path / "data.db", tmp_path / "state.db"
    return seed(db, state), db, state


# == round trips ===================================================================================
def test_a_retention_plan_round_trips_with_every_kind_of_entry(
    deployment: tuple[pk.Engine, Path, Path],
) -> None:
    e, _, _ = deployment
    plan = e.plan_retention(now=SWEEP, batch_size=7)
    actions = {x.action for x in plan.entries}
    assert {"delete", "minimize"} <= actions
    assert any(x.commitment is not None for x in plan.entries), "commitment entries"
    assert any(x.held for x in plan.entries)
    assert plan.hold_ids == ("h-dispute",)
    assert any(x.excluded_accounts for x in plan.entries), "an override group"
    assert any(x.recheck for x in plan.entries), "a Related re-check"
    text = plan.to_json()
    loaded = pk.RetentionPlan.from_json(text)
    assert loaded == plan
    assert loaded.id == plan.id
    assert loaded.loaded
    assert not plan.loaded
    assert [x.selection_text() for x in loaded.entries] == [
        x.selection_text() for x in plan.entries
    ]
    assert loaded.summary() == plan.summary()
    assert loaded.to_json() == text  # stable: writing the loaded plan gives the same document
    head = orjson.loads(text)
    assert head["format"] == "privacy_kit.plan"
    assert head["version"] == 1
    assert head["kind"] == "retention"
    assert head["policy_version"] == e.policy.version
    assert head["datamap_digest"] == pk.datamap_digest(e.datamap)
    # Nothing process-local travels.
    assert loaded.holds is None
    assert loaded.resolver is None
    assert loaded.commitments is None


def test_an_erasure_plan_round_trips_with_the_same_id(
    deployment: tuple[pk.Engine, Path, Path],
) -> None:
    e, _, _ = deployment
    for subject in (ANN, OMAR):
        plan = e.plan_erasure(subject, now=T, batch_size=3)
        assert plan.steps
        assert plan.datamap_digest == pk.datamap_digest(e.datamap)
        loaded = pk.ErasurePlan.from_json(plan.to_json())
        assert loaded == plan
        assert loaded.plan_id == plan.plan_id
        assert loaded.commitments == plan.commitments
        assert loaded.notes == plan.notes
        assert [k.selection for k in loaded.kept] == [k.selection for k in plan.kept]
        assert str(loaded) == str(plan)
        assert loaded.to_json() == plan.to_json()


def test_an_export_job_round_trips(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, _, _ = deployment
    job = e.export_job(
        ANN, tmp_path / "ann.zip", now=T, formats=["csv"], compression_level=9, batch_size=2
    )
    assert job.policy_version == e.policy.version
    assert pk.ExportJob.from_json(job.to_json()) == job
    with pytest.raises(pk.ConfigurationError, match="compression_level"):
        e.export_job(ANN, tmp_path / "x.zip", now=T, compression_level=12)
    with pytest.raises(pk.ConfigurationError, match="record format"):
        e.export_job(ANN, tmp_path / "x.zip", now=T, formats=["xml"])


def test_selections_keep_their_values_types_and_zones() -> None:
    _, datamap = policy_and_datamap()
    paris = dt.datetime(2025, 3, 30, 3, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    selection = And(
        (
            In("id", (1, "two", 3.5, None, True, decimal.Decimal("1.10"), uuid.UUID(int=7))),
            Or((Eq("at", dt.date(2025, 1, 2)), Eq("raw", b"\x00\xff"), IsNull("x"))),
            Not(Before("created_at", paris, inclusive=True)),
            After("created_at", dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
            Related("host_id", datamap.record_type("users"), "id", Not(IsNull("closed_at"))),
            All(),
        )
    )
    data = orjson.loads(orjson.dumps(selection_to_json(selection)))
    back = Reader({"s": data}, "x").selection("s")
    assert back == selection
    assert repr(back) == repr(selection)  # the erasure plan's id hashes the repr
    with pytest.raises(pk.ConfigurationError, match=r"selection\.value: a object value"):
        selection_to_json(Eq("f", object()))
    with pytest.raises(pk.ConfigurationError, match="nan"):
        selection_to_json(Eq("f", float("nan")))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(selections)
def test_every_selection_round_trips_through_json(selection: Any) -> None:
    data = orjson.loads(orjson.dumps(selection_to_json(selection)))
    back = Reader({"s": data}, "x").selection("s")
    assert back == selection
    assert repr(back) == repr(selection)


# == the same result in another process ============================================================
def test_a_retention_plan_applied_in_another_process_gives_the_same_result(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, state = deployment
    plan = e.plan_retention(now=SWEEP, batch_size=5)
    document = plan.to_json()
    db2, state2 = copy_deployment(db, state, tmp_path / "copy")
    assert table_rows(db2) == table_rows(db)

    direct = e.apply(plan)
    elsewhere = _in_another_process(db2, state2, document, tmp_path)

    assert elsewhere == _json(summary(direct))
    assert direct.total > 0, "the sweep did something"
    assert direct.fulfilled, "commitments too"
    assert table_rows(db2) == table_rows(db)  # row for row
    # The other process fulfilled the same commitments in its (copied) state store.
    other = engine(db2, state2)
    assert {c.id: c.fulfilled for c in other.commitments} == {
        c.id: c.fulfilled for c in e.commitments
    }
    # ... and journalled the same plan id there: applying the document again resumes, exactly
    # as applying the original plan again here does.
    again = _in_another_process(db2, state2, document, tmp_path)
    assert again["skipped_units"] > 0
    assert again == _json(summary(e.apply(plan)))
    assert table_rows(db2) == table_rows(db)


def test_an_erasure_plan_applied_in_another_process_gives_the_same_result(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, state = deployment
    plan = e.plan_erasure(ANN, now=T)  # pseudonyms: the secret is the state store's
    document = plan.to_json()
    db2, state2 = copy_deployment(db, state, tmp_path / "copy")

    direct = e.apply(plan)
    elsewhere = _in_another_process(db2, state2, document, tmp_path)

    assert elsewhere == _json(summary(direct))
    assert elsewhere["plan_id"] == plan.plan_id
    assert sum(direct.anonymised.values()) > 0
    assert table_rows(db2) == table_rows(db)


def test_an_export_job_run_in_another_process_writes_the_same_bundle(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, state = deployment
    direct = e.export(ANN, tmp_path / "direct.zip", now=T)
    job = e.export_job(ANN, tmp_path / "job.zip", now=T)
    elsewhere = _in_another_process(db, state, job.to_json(), tmp_path)
    assert elsewhere == _json(summary(direct))
    assert (tmp_path / "job.zip").read_bytes() == (tmp_path / "direct.zip").read_bytes()


@pytest.mark.parametrize("fail_after", [1, 4])
def test_a_json_plan_resumes_in_another_process_after_a_crash_half_way(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path], fail_after: int
) -> None:
    e, db, state = deployment
    plan = e.plan_retention(now=SWEEP, batch_size=3)
    document = plan.to_json()
    db2, state2 = copy_deployment(db, state, tmp_path / "copy")
    direct = e.apply(plan)

    crashed = _in_another_process(db2, state2, document, tmp_path, FAIL_AFTER=str(fail_after))
    assert isinstance(crashed, str)
    assert "injected failure" in crashed
    assert table_rows(db2) != table_rows(db)  # half done

    resumed = _in_another_process(db2, state2, document, tmp_path)
    assert resumed["skipped_units"] > 0  # the journal (in the state store) was picked up
    assert resumed["total"] == direct.total
    assert resumed["exact"]
    assert resumed["counts"] == _json(direct.counts())
    assert table_rows(db2) == table_rows(db)


def test_a_json_erasure_plan_resumes_after_a_crash(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, state = deployment
    plan = e.plan_erasure(pk.Subject.of("customer", user_id=4), now=T, batch_size=1)
    assert sum(s.count for s in plan.steps) > 3
    document = plan.to_json()
    db2, state2 = copy_deployment(db, state, tmp_path / "copy")
    direct = e.apply(plan)

    crashed = _in_another_process(db2, state2, document, tmp_path, FAIL_AFTER="5")
    assert isinstance(crashed, str)
    assert "injected failure" in crashed
    assert table_rows(db2) != table_rows(db)  # half done
    resumed = _in_another_process(db2, state2, document, tmp_path)
    assert resumed["plan_id"] == plan.plan_id
    assert resumed["resumed_steps"]  # the state store's journal of that plan id
    assert resumed["deleted"] == _json(direct.deleted)
    assert resumed["anonymised"] == _json(direct.anonymised)
    assert table_rows(db2) == table_rows(db)


def test_a_loaded_retention_plan_gets_the_engines_holds_and_commitments(
    deployment: tuple[pk.Engine, Path, Path],
) -> None:
    e, _, _ = deployment
    plan = e.plan_retention(now=SWEEP)
    loaded = pk.RetentionPlan.from_json(plan.to_json())
    # A hold placed after the plan was written still keeps its records (the engine's registry).
    e.place_hold(
        reason="Late dispute", placed_by="legal", now=SWEEP, record_type="sessions", hold_id="h2"
    )
    report = e.apply(loaded)
    assert sum(n.count for n in report.newly_held) > 0
    assert report.fulfilled  # marked in the engine's commitment registry
    assert all(e.commitments.get(c).fulfilled for c in report.fulfilled)


# == refusals ======================================================================================
def _other_policy(e: pk.Engine) -> pk.Policy:
    return e.policy.model_copy(update={"version": "2099.9"})


def _other_datamap(e: pk.Engine) -> pk.DataMap:
    data = e.datamap.model_dump(mode="json")
    data["record_types"][0]["description"] = "Edited in a later release"
    return pk.DataMap.model_validate(data)


def test_a_plan_made_under_another_policy_version_is_refused(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, _ = deployment
    plans = [
        pk.RetentionPlan.from_json(e.plan_retention(now=SWEEP).to_json()),
        pk.ErasurePlan.from_json(e.plan_erasure(ANN, now=T).to_json()),
        pk.ExportJob.from_json(e.export_job(ANN, tmp_path / "a.zip", now=T).to_json()),
    ]
    before = table_rows(db)
    other = pk.Engine(_other_policy(e), e.datamap, SQLiteAdapter(db), secret=e.secret)
    for plan in plans:
        with pytest.raises(
            pk.PlanError, match=r"policy '2024.1' but the engine has policy '2099.9'"
        ):
            other.apply(plan)
    assert table_rows(db) == before
    assert not (tmp_path / "a.zip").exists()
    # The plain function too, when told the version in force.
    with pytest.raises(pk.PlanError, match=r"2099\.9"):
        apply_retention(plans[0], other.stores, secret=e.secret, policy_version="2099.9")


def test_a_plan_made_under_another_data_map_is_refused(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, _ = deployment
    dm = _other_datamap(e)
    ours, theirs = pk.datamap_digest(e.datamap), pk.datamap_digest(dm)
    assert ours != theirs
    plans = [
        pk.RetentionPlan.from_json(e.plan_retention(now=SWEEP).to_json()),
        e.plan_erasure(ANN, now=T),  # made in this process: checked all the same
        pk.ExportJob.from_json(e.export_job(ANN, tmp_path / "a.zip", now=T).to_json()),
    ]
    before = table_rows(db)
    other = pk.Engine(e.policy, dm, SQLiteAdapter(db), secret=e.secret)
    for plan in plans:
        with pytest.raises(pk.PlanError, match="another version of the data map") as info:
            other.apply(plan)
        assert ours[:12] in str(info.value)
        assert theirs[:12] in str(info.value)
    assert table_rows(db) == before
    with pytest.raises(pk.PlanError, match="data map"):
        apply_retention(plans[0], other.stores, secret=e.secret)


def test_a_plan_of_a_newer_format_version_is_refused(
    deployment: tuple[pk.Engine, Path, Path],
) -> None:
    e, _, _ = deployment
    document = orjson.loads(e.plan_retention(now=SWEEP).to_json())
    document["version"] = 2
    with pytest.raises(pk.PlanFormatError, match=r"version: format version 2 is not one") as info:
        pk.RetentionPlan.from_json(orjson.dumps(document))
    assert info.value.location == "version"
    assert isinstance(info.value, pk.PlanError)
    assert isinstance(info.value, ValueError)


def test_a_truncated_or_corrupt_document_is_refused_with_its_location(
    deployment: tuple[pk.Engine, Path, Path],
) -> None:
    e, _, _ = deployment
    text = e.plan_retention(now=SWEEP).to_json()
    with pytest.raises(pk.PlanFormatError, match="not valid JSON"):
        pk.RetentionPlan.from_json(text[: len(text) // 2])
    with pytest.raises(pk.PlanFormatError, match="expected an object"):
        pk.RetentionPlan.from_json("[]")
    with pytest.raises(pk.PlanFormatError, match="expected JSON text"):
        pk.RetentionPlan.from_json(42)  # type: ignore[arg-type]

    def edited(change: Any) -> bytes:
        document = orjson.loads(text)
        change(document)
        return orjson.dumps(document)

    cases = {
        "plan.entries[1].cutoff": lambda d: d["plan"]["entries"][1].update(cutoff="yesterday"),
        "plan.entries[0].selection.op": lambda d: d["plan"]["entries"][0].update(
            selection={"op": "like"}
        ),
        "plan.entries[0].count": lambda d: d["plan"]["entries"][0].update(count=-1),
        "plan.entries[0].action": lambda d: d["plan"]["entries"][0].update(action="shred"),
        "plan.entries[0].duration": lambda d: d["plan"]["entries"][0].update(duration="soon"),
        "plan.entries": lambda d: d["plan"].pop("entries"),
        "kind": lambda d: d.update(kind="erasure"),
        "format": lambda d: d.update(format="other"),
        "datamap_digest": lambda d: d.update(datamap_digest="abc"),
    }
    for location, change in cases.items():
        with pytest.raises(pk.PlanFormatError) as info:
            pk.RetentionPlan.from_json(edited(change))
        assert info.value.location == location, (location, str(info.value))
        assert str(info.value).startswith(f"plan document: {location}: ")


def test_an_edited_erasure_document_is_refused(deployment: tuple[pk.Engine, Path, Path]) -> None:
    e, _, _ = deployment
    document = orjson.loads(e.plan_erasure(ANN, now=T).to_json())
    document["plan"]["steps"][0]["selection"] = {"op": "all"}  # erase everyone instead
    with pytest.raises(pk.PlanFormatError, match="does not match the plan's content") as info:
        pk.ErasurePlan.from_json(orjson.dumps(document))
    assert info.value.location == "plan.plan_id"
    document = orjson.loads(e.plan_erasure(ANN, now=T).to_json())
    document["plan"]["steps"][0]["fields"][0]["kind"] = "shred"
    with pytest.raises(pk.PlanFormatError, match=r"plan.steps\[0\].fields\[0\].kind"):
        pk.ErasurePlan.from_json(orjson.dumps(document))


def test_an_edited_retention_document_is_refused(deployment: tuple[pk.Engine, Path, Path]) -> None:
    e, db, _ = deployment
    plan = e.plan_retention(now=SWEEP, batch_size=5)
    text = plan.to_json()
    before = table_rows(db)

    def edited(change: Any) -> bytes:
        document = orjson.loads(text)
        change(document["plan"])
        return orjson.dumps(document)

    commitment = next(i for i, x in enumerate(plan.entries) if x.commitment is not None)
    changes = {
        # delete every record of the type instead of the expired ones
        "selection": lambda p: p["entries"][-1].update(selection={"op": "all"}),
        "account selection": lambda p: p["entries"][0]["account_selection"].update({"op": "all"}),
        "cutoff": lambda p: p["entries"][-1].update(cutoff="2040-01-01T00:00:00+00:00"),
        "action": lambda p: p["entries"][commitment].update(action="anonymize"),
        "holds": lambda p: [x.update(hold_ids=[]) for x in p["entries"]],
        "instant": lambda p: p.update(now="2040-01-01T00:00:00+00:00"),
        "batch size": lambda p: p.update(batch_size=50),  # other units under the same journal
        "id": lambda p: p.update(id="ret_" + "0" * 16 + p["id"][-8:]),
    }
    for what, change in changes.items():
        with pytest.raises(pk.PlanFormatError, match="does not match the plan's content") as info:
            pk.RetentionPlan.from_json(edited(change))
        assert info.value.location == "plan.id", what
    assert table_rows(db) == before  # nothing was applied
    # What applying does not depend on (counts, notes) is not part of the id.
    same = edited(lambda p: (p["entries"][0].update(count=99), p.update(notes=["edited"])))
    assert pk.RetentionPlan.from_json(same).id == plan.id


def test_a_plan_without_its_origin_cannot_be_written(
    deployment: tuple[pk.Engine, Path, Path],
) -> None:
    e, _, _ = deployment
    bare = plan_erasure(e.scope(ANN), policy=e.policy, now=T)  # no data map given
    assert bare.datamap_digest is None
    with pytest.raises(pk.ConfigurationError, match="no policy version or data-map digest"):
        bare.to_json()
    e.apply(bare)  # applying it in this process is as before


def test_engine_apply_refuses_what_is_not_a_plan_and_journals_for_jobs(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, _, _ = deployment
    job = e.export_job(ANN, tmp_path / "a.zip", now=T)
    with pytest.raises(pk.ConfigurationError, match="takes no journal"):
        e.apply(job, journal=tmp_path / "j")
    with pytest.raises(pk.ConfigurationError, match="no dry run"):
        e.apply(job, dry_run=True)
    with pytest.raises(pk.ConfigurationError, match="or an ExportJob, not str"):
        e.apply("plan")  # type: ignore[arg-type]


def test_the_plain_apply_function_needs_the_registries_of_a_loaded_plan(
    tmp_path: Path, deployment: tuple[pk.Engine, Path, Path]
) -> None:
    e, db, state = deployment
    document = e.plan_retention(now=SWEEP).to_json()
    db2, state2 = copy_deployment(db, state, tmp_path / "copy")
    bare = pk.RetentionPlan.from_json(document)
    with pytest.raises(pk.PlanError, match=r"without holds= and resolver=.* or commitments="):
        apply_retention(bare, e.stores, secret=e.secret, policy_version=e.policy.version)
    direct = e.apply(pk.RetentionPlan.from_json(document))

    other = engine(db2, state2)
    plan = pk.RetentionPlan.from_json(
        document, holds=other.holds, resolver=other, commitments=other.commitments
    )
    report = apply_retention(plan, other.stores, secret=other.secret, policy_version="2024.1")
    assert summary(report) == summary(direct)
    assert table_rows(db2) == table_rows(db)


def test_a_data_maps_digest_is_computed_once_per_object(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from privacy_kit.model import _digest

    dumps: list[object] = []
    real = _digest.orjson.dumps
    monkeypatch.setattr(
        _digest.orjson, "dumps", lambda *a, **k: (dumps.append(1), real(*a, **k))[1]
    )
    dm = pk.load_datamap(pk.example_path("datamap.yaml"))
    first = pk.datamap_digest(dm)
    assert pk.datamap_digest(dm) == first
    assert len(dumps) == 1
    same = pk.load_datamap(pk.example_path("datamap.yaml"))  # equal content: its own object
    assert pk.datamap_digest(same) == first
    assert len(dumps) == 2
    key = id(dm)
    del dm
    gc.collect()
    assert key not in _digest._KNOWN  # a data map that is gone leaves nothing behind
