"""What ships: the licence, the published extras (only users'), the pytest entry point."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_licence_file_is_mit_and_shipped() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the privacy_kit authors" in text
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert "LICENSE" in PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_only_users_extras_are_published() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert extras == {
        "yaml",
        "sqlalchemy",
        "postgres",
        "mysql",
        "cli",
        "fastapi",
        "django",
        "celery",
        "testing",
    }


def test_the_suite_and_docs_needs_are_dependency_groups() -> None:
    groups = PYPROJECT["dependency-groups"]
    assert {"pytest>=8", "hypothesis>=6.100", "jsonschema>=4"} <= set(groups["tests"])
    assert "pytest>=8" in groups["docs"]
    noxfile = (ROOT / "noxfile.py").read_text()
    assert '_group("tests")' in noxfile
    assert '_group("docs")' in noxfile
    assert "[tests" not in noxfile  # no session installs an extra that is no longer published
    assert "[docs" not in noxfile
