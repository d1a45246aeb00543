"""The notebooks are committed clean and self-contained (``dev.py test`` executes them with nbmake:
``pytest --nbmake notebooks``)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WRITES = re.compile(r"\.(to_csv|to_parquet|write_text|write_bytes|write|save|savefig)\(|"
                    r"write_release|release\(|cli\.main")


def test_there_is_a_notebook_per_audience():
    assert len(NOTEBOOKS) == 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_and_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"{path.name}: a cell has outputs (clear them before committing)"
        assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_writes_only_to_a_temporary_folder(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if WRITES.search(source):
        assert "tempfile.TemporaryDirectory()" in source, f"{path.name} writes files outside a " \
                                                          "temporary folder"
        assert ".cleanup()" in source
    assert "/work/" not in source and "C:\\" not in source, "no absolute paths"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_listed_in_the_docs(path):
    assert f"`{path.name}`" in (ROOT / "docs" / "notebooks.md").read_text("utf-8")
