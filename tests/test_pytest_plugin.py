"""The pytest plugin, as a host project sees it: a small downstream test suite run by pytester.

Each run is a fresh ``pytest`` process (``runpytest_subprocess``), so the plugin loads the way it
does for a host (by its entry point when privacy_kit is installed; with ``-p`` from a source
checkout) and assert rewriting happens on a clean import of the kit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import privacy_kit as pk
import privacy_kit.testing as pk_testing
from conftest import PLUGIN, PLUGIN_INSTALLED

pytest_plugins = ["pytester"]

SRC = str(Path(pk.__file__).resolve().parents[1])

CONFTEST = """
import pytest
from privacy_kit.adapters import InMemoryAdapter


class Broken(InMemoryAdapter):
    '''Miscounts one record and reads one record short: a host's bugs, for the kit to find.'''

    def count(self, record_type, selection):
        return super().count(record_type, selection) + 1

    def iter_records(self, record_type, selection, *, fields=None, batch_size=1000):
        rows = [r for batch in super().iter_records(record_type, selection, fields=fields) for r in batch]
        if rows:
            yield rows[:-1]


@pytest.fixture(params=["memory", "memory-again"])
def privacy_adapter_factory(request):
    kind = Broken if request.config.getoption("--broken", default=False) else InMemoryAdapter

    def factory(datamap, records):
        tables = {rt.table_name: records.get(rt.name, []) for rt in datamap.record_types}
        return kind(tables, name=request.param)

    return factory


def pytest_addoption(parser):
    parser.addoption("--broken", action="store_true")
"""


@pytest.fixture
def host(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A host project: this checkout importable, the plugin loaded as it would be for a host."""
    monkeypatch.setenv("PYTHONPATH", SRC)
    pytester.makeconftest(CONFTEST)
    return pytester


def _tests_of(*kits: type) -> int:
    """How many checks the conformance classes ``kits`` collect together."""
    return len({name for kit in kits for name in dir(kit) if name.startswith("test_")})


def _collected(host: pytest.Pytester) -> int:
    """How many tests the host's test module collects."""
    listing = _run(host, "--collect-only", "-q").stdout.str()
    return sum(1 for line in listing.splitlines() if "::" in line)


def _run(host: pytest.Pytester, *args: str) -> pytest.RunResult:
    plugin = () if PLUGIN_INSTALLED else ("-p", PLUGIN)
    return host.runpytest_subprocess(*plugin, "-p", "no:cacheprovider", *args)


def test_a_bare_subclass_runs_the_kit_over_a_parametrised_conftest_fixture(
    host: pytest.Pytester,
) -> None:
    host.makepyfile(
        test_adapter="""
        from privacy_kit.testing import CountConformance, ReadConformance

        class TestHostAdapter(CountConformance, ReadConformance):
            pass
        """
    )
    collected = _collected(host)
    assert collected >= 2 * _tests_of(pk_testing.CountConformance, pk_testing.ReadConformance)
    result = _run(host, "-q")
    result.assert_outcomes(passed=collected)  # every check of the kit, for each adapter
    result.stdout.fnmatch_lines([f"*{collected} passed*"])
    listed = _run(host, "--collect-only", "-q").stdout.str()
    assert "test_count_everything[memory]" in listed
    assert "test_count_everything[memory-again]" in listed


def test_a_failing_conformance_check_shows_the_values_compared(host: pytest.Pytester) -> None:
    host.makepyfile(
        test_adapter="""
        from privacy_kit.testing import CountConformance, ReadConformance

        class TestHostAdapter(CountConformance, ReadConformance):
            pass
        """
    )
    result = _run(host, "--broken", "-k", "count_everything or reads_every_record")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    # the kit's own asserts are rewritten: the values, not a bare AssertionError
    assert "assert 13 == 12" in out
    assert "Right contains one more item: 12" in out  # assert_records: a person missing
    assert "FAILED test_adapter.py::TestHostAdapter::test_count_everything[memory]" in out


def test_forgetting_the_factory_names_both_fixes(host: pytest.Pytester) -> None:
    host.makeconftest("")  # no privacy_adapter_factory
    host.makepyfile(
        test_adapter="""
        from privacy_kit.testing import CountConformance

        class TestForgot(CountConformance):
            pass
        """
    )
    collected = _collected(host)
    assert collected >= _tests_of(pk_testing.CountConformance)
    result = _run(host, "-q")
    result.assert_outcomes(errors=collected)
    out = result.stdout.str()
    assert "TestForgot must override the 'adapter_factory' fixture" in out
    assert "define 'privacy_adapter_factory'" in out


ENGINE_TESTS = """
import datetime as dt

SEEN = []


def test_the_policy_and_data_map(privacy_policy, privacy_datamap):
    SEEN.append(id(privacy_policy))
    assert privacy_datamap.record_type("users").table_name == "users"
    assert privacy_policy.retention


def test_loaded_once_per_session(privacy_policy):
    assert SEEN == [id(privacy_policy)]


def test_the_engine(privacy_engine, privacy_adapter, privacy_state, privacy_policy, privacy_now):
    assert privacy_engine.policy is privacy_policy
    assert privacy_engine.state is privacy_state
    assert privacy_engine.secret == privacy_state.secret()
    assert privacy_engine.adapter_for("users") is privacy_adapter
    assert privacy_adapter.rows("users") == []
    assert privacy_now.utcoffset() == dt.timedelta(0)


def test_now(privacy_now):
    assert privacy_now.isoformat() == "{now}"
"""


def test_fixtures_from_the_command_line(host: pytest.Pytester) -> None:
    host.makepyfile(test_engine=ENGINE_TESTS.replace("{now}", "2026-01-01T00:00:00+00:00"))
    result = _run(
        host,
        "-q",
        "-W",
        "error",  # no warning: the engine's secret is the state store's
        "--privacy-policy",
        str(pk.example_path("policy.yaml")),
        "--privacy-datamap",
        str(pk.example_path("datamap.yaml")),
    )
    result.assert_outcomes(passed=4)


def test_fixtures_from_the_ini_file_relative_to_it(
    host: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("yaml", reason="the example policy is YAML (PyYAML not installed)")
    config = host.mkdir("config")
    shutil.copy(pk.example_path("policy.yaml"), config / "policy.yaml")
    shutil.copy(pk.example_path("datamap.yaml"), config / "datamap.yaml")
    host.makeini(
        """
        [pytest]
        privacy_policy = config/policy.yaml
        privacy_datamap = config/datamap.yaml
        privacy_now = 2025-06-30T12:00:00+00:00
        """
    )
    host.makepyfile(test_engine=ENGINE_TESTS.replace("{now}", "2025-06-30T12:00:00+00:00"))
    monkeypatch.chdir(host.mkdir("elsewhere"))  # the paths are the ini file's, not the cwd's
    result = _run(host, "-q", str(host.path))
    result.assert_outcomes(passed=4)


def test_no_policy_configured_is_an_error_naming_the_option(host: pytest.Pytester) -> None:
    host.makepyfile(test_engine="def test_it(privacy_engine):\n    pass\n")
    result = _run(host, "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the privacy_policy fixture needs a file: pass --privacy-policy PATH*"]
    )


@pytest.mark.parametrize(
    ("now", "message"),
    [
        ("yesterday", "privacy_now = 'yesterday' is not an ISO 8601 instant"),
        ("2026-01-01T00:00:00", "has no UTC offset"),
    ],
)
def test_a_bad_now_is_an_error(host: pytest.Pytester, now: str, message: str) -> None:
    host.makeini(f"[pytest]\nprivacy_now = {now}\n")
    host.makepyfile(test_now="def test_it(privacy_now):\n    pass\n")
    result = _run(host, "-q")
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


def test_an_unreadable_policy_fails_setup_with_its_problems(host: pytest.Pytester) -> None:
    bad = host.path / "policy.json"
    bad.write_text('{"version": 1}')
    host.makepyfile(test_engine="def test_it(privacy_policy):\n    pass\n")
    result = _run(host, "-q", "--privacy-policy", str(bad))
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "privacy_kit: " in out
    assert "Traceback" not in out


def test_the_entry_point_is_declared() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"] == {"privacy_kit": PLUGIN}


def test_the_kit_is_imported_lazily_so_it_can_be_rewritten() -> None:
    code = "import sys, privacy_kit.testing; print('privacy_kit.testing._suite' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert result.stdout == "False\n"
