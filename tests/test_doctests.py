"""Every module of privacy_kit: its docstring examples run (so documentation cannot rot)."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import privacy_kit

# Modules that need an optional extra: skipped, with the reason, when it is not installed.
_OPTIONAL = {
    "sqlalchemy": "sqlalchemy",
    "postgres": "psycopg",
    "mysql": "pymysql",
    "rich": "rich",
    "fastapi": "fastapi",
    "celery": "celery",
}


def _needs_django_apps(name: str) -> bool:
    """Modules that Django's app registry loads (models, migrations): they can only be imported
    in a configured project, so the test project is set up first."""
    return name.startswith("privacy_kit.contrib.django.") and (
        name.endswith(".models") or ".migrations" in name
    )


def _modules() -> list[str]:
    found = pkgutil.walk_packages(privacy_kit.__path__, prefix="privacy_kit.")
    return sorted(["privacy_kit", *(info.name for info in found)])


def _missing_dependency(name: str) -> str | None:
    for marker, dependency in _OPTIONAL.items():
        if marker in name.rsplit(".", 1)[-1] and importlib.util.find_spec(dependency) is None:
            return dependency
    return None


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    missing = _missing_dependency(name)
    if missing is not None:
        pytest.skip(f"{name} needs the optional dependency {missing!r}")
    if _needs_django_apps(name):
        pytest.importorskip("django", reason=f"{name} needs the optional dependency 'django'")
        import django_setup

        django_setup.setup()
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != "privacy_kit":
            pytest.skip(f"{name} needs the optional dependency {exc.name!r}")
        raise
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    for test in finder.find(module, name, globs={**vars(module)}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


def test_the_public_api_has_examples() -> None:
    # the package docstring and the main entry points each carry a runnable example
    for obj in (privacy_kit, privacy_kit.load_policy, privacy_kit.check, privacy_kit.Duration):
        assert obj.__doc__ is not None
        assert ">>>" in obj.__doc__, obj
