"""The tutorials cannot rot: every notebook runs top to bottom in fast mode, and its stored copy is a full run.

Fast mode (``SNNTORCH_TSSL_FAST=1``) shrinks data, sizes and epochs so each
notebook finishes in seconds; the stored notebooks (what the documentation
shows) must come from a full run, with every code cell executed, no error,
and their plots.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb"))
EXPECTED = ["01", "02", "03", "04", "05"]
CELL_TIMEOUT_S = 600


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_tutorials_are_numbered_and_listed():
    numbers = [path.name[:2] for path in NOTEBOOKS]
    assert numbers == sorted(set(numbers)), f"tutorial numbers must be unique: {numbers}"
    assert set(numbers) <= set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_stored_notebook_is_a_full_run_with_plots(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    cells = code_cells(notebook)
    assert all(cell.execution_count is not None for cell in cells), "every code cell must be executed"
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), f"cells must be run once, top to bottom: {counts}"
    outputs = [output for cell in cells for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"], "stored outputs contain an error"
    texts = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "full run" in texts and "fast mode" not in texts, "store the notebook from a full run, not fast mode"
    assert any("image/png" in output.get("data", {}) for output in outputs), "stored outputs must include plots"
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# Tutorial"), "start with the title"
    assert "you will" in first.source, "the introduction says what you will learn"
    headings = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert any(h.startswith("## 1.") for h in headings), "numbered sections"
    assert headings[-1].startswith("## Conclusion"), "end with a conclusion"


@pytest.fixture(scope="module")
def fast_runs(tmp_path_factory) -> dict[str, nbformat.NotebookNode | BaseException]:
    """Execute every notebook in fast mode, two kernels at a time (their start-up and imports overlap), each
    with one compute thread so that the two share the CPU without oversubscribing it.

    The per-cell timeout only catches a hang: a fast-mode cell takes seconds, but a shared machine can
    be slow, and speed is not what this test checks.
    """
    results: dict[str, nbformat.NotebookNode | BaseException] = {}

    async def run(path: Path, slots: asyncio.Semaphore) -> None:
        notebook = nbformat.read(path, as_version=4)
        folder = tmp_path_factory.mktemp(path.stem)
        client = NotebookClient(
            notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        async with slots:
            try:
                await client.async_execute()
                results[path.stem] = notebook
            except Exception as error:  # reported by the test of that notebook
                results[path.stem] = error

    async def run_all() -> None:
        slots = asyncio.Semaphore(2)
        await asyncio.gather(*(run(path, slots) for path in NOTEBOOKS))

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNNTORCH_TSSL_FAST", "1")
        patch.setenv("OMP_NUM_THREADS", "1")
        patch.delenv("NMNIST_ROOT", raising=False)
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmp")))  # what notebooks write to a temporary folder
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        asyncio.run(run_all())
    return results


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(path, fast_runs):
    result = fast_runs[path.stem]
    if isinstance(result, BaseException):
        raise result
    texts = "".join(output.get("text", "") for cell in code_cells(result) for output in cell.outputs)
    assert "fast mode" in texts
