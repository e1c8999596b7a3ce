"""Every tutorial in notebooks/ runs top to bottom in a fresh kernel without an error output.

New notebooks are picked up by the glob; nothing here names them.
"""

import pathlib
import time

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_tutorials_to_run():
    assert NOTEBOOKS, "notebooks/ holds no tutorial"


def error_outputs(nb):
    """(cell index, text) of every error output, and of stderr output that carries a traceback."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append((index, f"{output.ename}: {output.evalue}"))
            elif output.output_type == "stream" and output.name == "stderr" and "Traceback" in output.text:
                found.append((index, output.text[-500:]))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name"), f"{path.name} does not name its kernel"
    client = NotebookClient(nb, timeout=300, kernel_name=nb.metadata.kernelspec.name,
                            resources={"metadata": {"path": str(path.parent)}}, store_widget_state=True)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, tmp_path / path.name)  # the executed notebook, for a look after a failure
    assert error_outputs(nb) == []
    print(f"{path.name}: {elapsed:.1f} s")
