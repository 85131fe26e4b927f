"""Every plain ```python block of docs/*.md and README.md runs, so the pages cannot rot.

The ``>>>`` examples are doctested (``nox -s docs`` runs ``--doctest-glob=*.md``); this module runs
the other Python blocks: each page's blocks in order, in one namespace (a page reads as one
session: a later block may use what an earlier one defined), in a fresh temporary directory as
the working directory (a block that writes ``app.db`` writes it there). A block of another
language with a title (```` ```yaml title="policy.yaml" ````, shown as the file's name on the
site) is written to that file at that point, so a page can show a file and then load it. A fence
may say why a block must not run: ```` ```python notest ```` (only for fragments that need an
external service or a framework's project, such as a Django settings module); such blocks are
counted, and a page cannot hide more than three of them.

A page whose blocks need an optional extra the environment lacks (SQLAlchemy in the core test
session) is skipped, naming the extra, unless ``PRIVACY_KIT_DOCS_STRICT=1`` (``nox -s docs`` sets
it): there every page must run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([*ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
TITLE = re.compile(r'\btitle="(?P<name>[^"]+)"')
NOTEST = "notest"
MAX_NOTEST_PER_PAGE = 3
# Optional dependencies a page's blocks may import, and the extra that brings each.
_OPTIONAL = {
    "sqlalchemy": "sqlalchemy",
    "yaml": "yaml",
    "fastapi": "fastapi",
    "celery": "celery",
}


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block to act on: Python code to run, or a file to write (``file`` set)."""

    line: int  # the block's first line in the page
    code: str
    runs: bool = True
    file: str | None = None


def page_blocks(text: str) -> list[Block]:
    """The ```python blocks of ``text`` (``>>>`` blocks are doctests) and its titled files."""
    blocks = []
    for match in FENCE.finditer(text):
        lang, info, body = match.group("lang", "info", "body")
        line = text.count("\n", 0, match.start()) + 2
        if lang != "python":
            title = TITLE.search(info)
            if title is not None:
                blocks.append(Block(line, body, file=title.group("name")))
            continue
        if body.lstrip().startswith(">>>"):
            continue  # a doctest: --doctest-glob runs it
        blocks.append(Block(line, body, runs=NOTEST not in info.split()))
    return blocks


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line, code, runs)`` for each ```python block of ``text`` that is not a doctest."""
    return [(b.line, b.code, b.runs) for b in page_blocks(text) if b.file is None]


def test_the_collector_finds_blocks_and_markers() -> None:
    text = (
        "x\n```python\na = 1\n```\n```pycon\n>>> 1\n```\n```python notest\nb\n```\n"
        '```yaml title="p.yaml"\nk: v\n```\n```yaml\nno: title\n```\n'
    )
    assert page_blocks(text) == [
        Block(3, "a = 1\n"),
        Block(9, "b\n", runs=False),
        Block(12, "k: v\n", file="p.yaml"),
    ]
    # every page with Python blocks is collected (a renamed fence would drop a page silently)
    assert sum(len(python_blocks(p.read_text(encoding="utf-8"))) for p in PAGES) >= 20


def _missing_extra(code: str) -> str | None:
    for module, extra in _OPTIONAL.items():
        uses = re.search(rf"^\s*(import|from) {module}\b", code, re.M) or (
            module == "sqlalchemy" and "SQLAlchemyAdapter" in code
        )
        if uses and importlib.util.find_spec(module) is None:
            return extra
    return None


@pytest.mark.parametrize(
    "page", [p for p in PAGES if python_blocks(p.read_text("utf-8"))], ids=lambda p: p.name
)
def test_page_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = page_blocks(page.read_text(encoding="utf-8"))
    skipped = [b.line for b in blocks if not b.runs]
    assert len(skipped) <= MAX_NOTEST_PER_PAGE, f"{page.name}: too many notest blocks {skipped}"
    missing = _missing_extra("".join(b.code for b in blocks if b.runs and b.file is None))
    if missing is not None:
        if os.environ.get("PRIVACY_KIT_DOCS_STRICT") == "1":
            pytest.fail(f"{page.name} needs the extra {missing!r}, which is not installed")
        pytest.skip(f"{page.name} needs the optional extra {missing!r}")
    monkeypatch.chdir(tmp_path)
    # a real module, as a session's __main__ is: libraries that resolve annotations by module
    # name (SQLAlchemy's declarative mappings, pydantic) find the page's names
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    for block in blocks:
        if block.file is not None:
            (tmp_path / block.file).write_text(block.code, encoding="utf-8")
        elif block.runs:
            # pad so tracebacks give the line number in the Markdown page
            compiled = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
            exec(compiled, namespace)  # running the documentation is the point
