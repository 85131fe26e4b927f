"""docs/notebook.ipynb runs from top to bottom in a fresh kernel (nbclient), in a temporary folder.

Skipped when nbclient/ipykernel are not installed (the docs dependency group), unless
``PRIVACY_KIT_DOCS_STRICT=1`` (``nox -s docs`` sets it): there it must run. Any cell error fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import privacy_kit as pk

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"


def _need(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("PRIVACY_KIT_DOCS_STRICT") == "1":
            pytest.fail(f"{module} is not installed (docs dependency group)")
        pytest.skip(f"{module} is not installed (docs dependency group)")


def test_the_notebook_runs_without_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("nbformat", "nbclient", "ipykernel"):
        _need(module)
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
        "commit the notebook without outputs (CI runs it)"
    )
    # the kernel imports the privacy_kit under test, wherever it comes from
    src = str(Path(pk.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the cell on any error
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    for title in ("Retention plan", "Policy 2024.1 → 2025.1", "Breach assessment"):
        assert any(title in page for page in html), title
    assert list(tmp_path.iterdir()) == []  # the notebook writes nothing
