"""The pytest plugin: fixtures for a host project's tests, and readable conformance failures.

Installed with privacy_kit (entry point ``pytest11``, name ``privacy_kit``), so pytest loads it
whenever both are installed (``-p no:privacy_kit`` turns it off). It gives a host's tests:

- ``privacy_policy`` and ``privacy_datamap``: the host's policy and data map, loaded once per
  session from ``--privacy-policy`` / ``--privacy-datamap`` or the ini options ``privacy_policy``
  / ``privacy_datamap`` (paths relative to the ini file). A test that asks for one when none is
  configured errors, naming the option; there is no silent fallback to an example.
- ``privacy_now``: a fixed, timezone-aware "now" (ini ``privacy_now``; default
  2026-01-01T00:00:00+00:00), to pass as ``now=``.
- ``privacy_adapter``: an empty :class:`~privacy_kit.adapters.InMemoryAdapter` with a table per
  record type of the data map; ``privacy_state``: a fresh
  :class:`~privacy_kit.audit.MemoryStateStore`; ``privacy_engine``: an
  :class:`~privacy_kit.Engine` over both (its secret is the state store's).
- ``privacy_adapter_factory``: what the conformance kit builds stores with. Define it in a
  ``conftest.py`` (parametrise it to run the kit against several adapters) and a bare
  ``class TestMine(AdapterConformance): pass`` runs the whole kit; until then it raises, saying so.

It registers the kit's modules for pytest's assert rewriting, so a failing conformance check
shows the values compared, not a bare ``AssertionError``.

Example (a host's ``conftest.py`` and test module)::

    # conftest.py
    import pytest
    from myapp.privacy import MyAdapter

    @pytest.fixture(params=["sqlite", "postgres"])
    def privacy_adapter_factory(request):
        return lambda datamap, records: MyAdapter.fresh(request.param, datamap, records)

    # test_privacy.py
    from privacy_kit.testing import AdapterConformance

    class TestMyAdapter(AdapterConformance):
        pass

    def test_export_is_empty_for_a_stranger(privacy_engine, privacy_now):
        ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

# Before the kit's modules are imported (privacy_kit.testing re-exports lazily for this reason).
pytest.register_assert_rewrite(
    "privacy_kit.testing._harness", "privacy_kit.testing._suite", "privacy_kit.testing._related"
)

if TYPE_CHECKING:
    from ..adapters import InMemoryAdapter
    from ..audit import MemoryStateStore
    from ..engine import Engine
    from ..model import DataMap, Policy

__all__ = [
    "DEFAULT_NOW",
    "privacy_adapter",
    "privacy_adapter_factory",
    "privacy_datamap",
    "privacy_engine",
    "privacy_now",
    "privacy_policy",
    "privacy_state",
]

_T = TypeVar("_T")

DEFAULT_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""``privacy_now`` unless the ini option ``privacy_now`` says otherwise."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--privacy-policy``, ``--privacy-datamap`` and the ini options of the same names."""
    group = parser.getgroup("privacy_kit", "privacy_kit fixtures")
    group.addoption(
        "--privacy-policy",
        dest="privacy_policy",
        metavar="PATH",
        help="the policy file the privacy_policy fixture loads (overrides the ini option)",
    )
    group.addoption(
        "--privacy-datamap",
        dest="privacy_datamap",
        metavar="PATH",
        help="the data map file the privacy_datamap fixture loads (overrides the ini option)",
    )
    parser.addini("privacy_policy", "privacy_kit: the policy file (relative to the ini file)")
    parser.addini("privacy_datamap", "privacy_kit: the data map file (relative to the ini file)")
    parser.addini(
        "privacy_now",
        "privacy_kit: the privacy_now fixture, an ISO 8601 instant with its offset",
        default=DEFAULT_NOW.isoformat(),
    )


def _configured_path(config: pytest.Config, name: str) -> Path:
    """The path an option names: the command line (from the current folder), else the ini file."""
    given = config.getoption(name)
    if given:
        return Path(given)
    value = config.getini(name)
    if not value:
        option = "--" + name.replace("_", "-")
        raise pytest.UsageError(
            f"the {name} fixture needs a file: pass {option} PATH, or set {name} = PATH in the "
            "[pytest] ini section (pyproject.toml: [tool.pytest.ini_options])"
        )
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / str(value)


def _fail_setup(build: Callable[[], _T]) -> _T:
    """Run ``build``; a configuration problem fails the test's setup with one plain message."""
    from .._errors import PrivacyKitError  # noqa: PLC0415 - the plugin loads before any test

    try:
        return build()
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    except (PrivacyKitError, OSError) as exc:
        pytest.fail(f"privacy_kit: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def privacy_policy(pytestconfig: pytest.Config) -> Policy:
    """The host's policy, loaded once per session (``--privacy-policy`` or ini ``privacy_policy``)."""
    from ..model import load_policy  # noqa: PLC0415

    return _fail_setup(lambda: load_policy(_configured_path(pytestconfig, "privacy_policy")))


@pytest.fixture(scope="session")
def privacy_datamap(pytestconfig: pytest.Config, privacy_policy: Policy) -> DataMap:
    """The host's data map, checked against :func:`privacy_policy`, loaded once per session."""
    from ..model import load_datamap  # noqa: PLC0415

    return _fail_setup(
        lambda: load_datamap(
            _configured_path(pytestconfig, "privacy_datamap"), policy=privacy_policy
        )
    )


@pytest.fixture
def privacy_now(pytestconfig: pytest.Config) -> dt.datetime:
    """A fixed, timezone-aware "now" (ini ``privacy_now``, default 2026-01-01T00:00:00+00:00)."""
    text = str(pytestconfig.getini("privacy_now"))
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        pytest.fail(f"privacy_now = {text!r} is not an ISO 8601 instant", pytrace=False)
    if value.tzinfo is None:
        pytest.fail(
            f"privacy_now = {text!r} has no UTC offset (write e.g. {text}+00:00)", pytrace=False
        )
    return value


@pytest.fixture
def privacy_adapter(privacy_datamap: DataMap) -> InMemoryAdapter:
    """An empty in-memory store with a table for every record type of the data map."""
    from ..adapters import InMemoryAdapter  # noqa: PLC0415

    return InMemoryAdapter({rt.table_name: [] for rt in privacy_datamap.record_types})


@pytest.fixture
def privacy_state() -> MemoryStateStore:
    """A fresh in-memory state store (holds, preferences, journals, the secret)."""
    from ..audit import MemoryStateStore  # noqa: PLC0415

    return MemoryStateStore()


@pytest.fixture
def privacy_engine(
    privacy_policy: Policy,
    privacy_datamap: DataMap,
    privacy_adapter: InMemoryAdapter,
    privacy_state: MemoryStateStore,
) -> Engine:
    """An engine over :func:`privacy_adapter` and :func:`privacy_state`."""
    from ..engine import Engine  # noqa: PLC0415

    return Engine(privacy_policy, privacy_datamap, privacy_adapter, state=privacy_state)


@pytest.fixture
def privacy_adapter_factory(request: pytest.FixtureRequest) -> Any:
    """Define this in your ``conftest.py``: ``factory(datamap, records) -> adapter``.

    The conformance kit's classes build every store through it unless the class overrides
    ``adapter_factory`` itself. This default raises, naming the fix.
    """
    owner = request.cls.__name__ if request.cls is not None else request.node.name
    raise NotImplementedError(
        f"{owner} must override the 'adapter_factory' fixture (or your conftest.py define "
        "'privacy_adapter_factory'): return a callable factory(datamap, records) -> adapter "
        "that builds a fresh store holding exactly those record types and records "
        "(see docs/adapters.md)"
    )
