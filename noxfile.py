"""Sessions: tests (over optional extras, against the built wheel), lint, typecheck, docs, bench."""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.error_on_external_run = True
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = os.path.dirname(os.path.abspath(__file__))
PYPROJECT = nox.project.load_toml(os.path.join(ROOT, "pyproject.toml"))


def _group(name: str) -> list[str]:
    """A dependency group of pyproject.toml (what the suite or docs need; never a user extra)."""
    return list(nox.project.dependency_groups(PYPROJECT, name))


def _wheel(session: nox.Session) -> str:
    """Build the wheel once per session, so tests prove what ships (package data, testing kit)."""
    dist = os.path.join(session.create_tmp(), "dist")
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT)
    (wheel,) = glob.glob(os.path.join(dist, "privacy_kit-*.whl"))
    return wheel


@nox.session
@nox.parametrize(
    "extras", ["", "sqlalchemy,postgres,mysql,cli,fastapi,django,celery"], ids=["core", "full"]
)
def tests(session: nox.Session, extras: str) -> None:
    """Run the suite against the installed wheel: once with the core only, once with every extra."""
    wheel = _wheel(session)
    session.install(f"{wheel}[{extras}]" if extras else wheel, *_group("tests"))
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src, plus the typing smoke file over the public API."""
    session.install(
        "-e",
        ".[sqlalchemy,yaml,fastapi,django,celery]",
        *_group("tests"),
        "mypy>=1.10",
        "types-PyYAML",
        "types-python-dateutil",
    )
    session.run("mypy", "--strict", "src/privacy_kit")
    session.run("mypy", "--strict", "tests/typing")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site (mkdocs --strict) and run every code block of the pages and README.

    docs/notebook.ipynb is executed from top to bottom in a fresh kernel (nbclient); any cell
    error fails the session.

    The ``>>>`` examples run as doctests; the plain ``python`` blocks run page by page
    (tests/test_docs_code.py), strictly: a page that would be skipped for a missing extra fails.
    """
    session.install(".[yaml,sqlalchemy,fastapi,celery]", *_group("docs"))
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        os.path.join(ROOT, "build", "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--doctest-glob=*.md",
        "-o",
        "doctest_optionflags=NORMALIZE_WHITESPACE ELLIPSIS",
        "docs",
        "README.md",
        "tests/test_docs_code.py",
        "tests/test_docs_site.py",
        "tests/test_docs_notebook.py",  # docs/notebook.ipynb, run by nbclient in a temp folder
        *session.posargs,
        env={"PRIVACY_KIT_DOCS_STRICT": "1"},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against hand-written baselines (pass --quick for the small CI sizes)."""
    session.install(".[sqlalchemy,postgres,yaml,celery]")
    # fideslang (scenario 5's comparison) pins an older pydantic: it gets a venv of its own,
    # never privacy_kit's. If it cannot be installed, the table says so.
    fides = os.path.join(session.create_tmp(), "fideslang-venv")
    fides_python = os.path.join(fides, "bin", "python")
    env = {}
    try:
        if not os.path.exists(fides_python):
            session.run("python", "-m", "venv", fides, silent=True)
        session.run(fides_python, "-m", "pip", "install", "-q", "fideslang", external=True)
        env["PRIVACY_KIT_BENCH_FIDESLANG_PYTHON"] = fides_python
    except nox.command.CommandFailed as exc:
        env["PRIVACY_KIT_BENCH_FIDESLANG_ERROR"] = f"pip install fideslang failed ({exc.reason})"
    session.run("python", "-m", "benchmarks", *session.posargs, env=env)


@nox.session
def notices(session: nox.Session) -> None:
    """Render the example notice (en, ar) to HTML and check it in headless chromium (PNG screenshots)."""
    if shutil.which("chromium") is None:
        if shutil.which("apt-get") is None:
            session.skip("chromium is not installed and apt-get is unavailable to install it")
        session.run("apt-get", "update", "-q", external=True)
        session.run("apt-get", "install", "-y", "-q", "chromium", external=True)
    session.install(".[yaml]", *_group("tests"))
    out = os.path.join(ROOT, "build", "notices")
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_notices_browser.py",
        *session.posargs,
        env={"PRIVACY_KIT_NOTICE_OUT": out},
    )
    session.log(f"screenshots and pages in {out}")
