"""The documentation site's configuration covers every page and every public name.

``mkdocs build --strict`` (``nox -s docs``) fails on broken links and docstrings; this checks
what a build cannot see: a page left out of the navigation, a layer without its API page, a
public name of ``privacy_kit`` that no API page renders.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

import privacy_kit

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (extra [yaml])")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LAYERS = [
    "model",
    "adapters",
    "audit",
    "lifecycle",
    "retention",
    "rights",
    "notices",
    "interop",
    "engine",
    "testing",
]


def _nav_pages(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def _config() -> dict[str, Any]:
    # mkdocs.yml uses no custom tags, so the safe loader reads it
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def test_every_page_is_in_the_navigation() -> None:
    nav = _nav_pages(_config()["nav"])
    pages = sorted(
        str(p.relative_to(DOCS))
        for pattern in ("*.md", "*.ipynb")  # notebooks are pages too (mkdocs-jupyter)
        for p in DOCS.rglob(pattern)
        if "_ext" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )
    assert sorted(nav) == pages
    assert len(nav) == len(set(nav)), "a page is listed twice"


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_has_an_api_page(layer: str) -> None:
    page = (DOCS / "api" / f"{layer}.md").read_text(encoding="utf-8")
    assert re.search(rf"^::: privacy_kit\.{layer}$", page, re.M), page


def test_every_public_name_is_on_an_api_page() -> None:
    documented = {
        name for layer in LAYERS for name in importlib.import_module(f"privacy_kit.{layer}").__all__
    }
    top = (DOCS / "api" / "privacy_kit.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^ {8}- (\w+)$", top, re.M))
    missing = [n for n in privacy_kit.__all__ if not n.startswith("__") and n not in documented]
    assert sorted(set(missing) - listed) == [], "public names no API page renders"
    # and the top-level page lists only names that exist
    assert listed <= set(privacy_kit.__all__)
