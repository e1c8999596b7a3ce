"""In a real kernel, an error raised by a %%model cell's body names that cell and shows its failing line."""

import re

import nbformat
import pytest
from nbclient import NotebookClient

FAULTY = """\
%%model faulty --samples 10
x = pyro.sample('x', dist.Normal(0.0, 1.0))
y = 1 / 0
return x
"""

FAULTY_IN_BACKGROUND = FAULTY.replace("faulty --samples 10", "faulty_bg --samples 10 --background")


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ppl_kernel"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(FAULTY),
        nbformat.v4.new_code_cell(FAULTY_IN_BACKGROUND),
        nbformat.v4.new_code_cell("import time\n"
                                  "magics = get_ipython().magics_manager.registry['ModelMagics']\n"
                                  "magics.runs[-1].wait(60)"),
    ]
    NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True).execute()
    return nb


def _plain(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_a_runtime_error_in_a_model_cell_names_that_cell_and_its_failing_line(executed):
    error = next(o for o in executed.cells[2].outputs if o.output_type == "error")
    shown = _plain("\n".join(error.traceback))
    assert executed.cells[2].execution_count == 3
    assert "Cell In[3], line 3, in faulty()" in shown
    assert re.search(r"----> 3\s+y = 1 / 0", shown)
    assert "return x" in shown  # the lines around it, not only the magic line


def test_a_background_runs_error_text_names_its_cell_and_line(executed):
    texts = [_plain(o.get("data", {}).get("text/plain", "")) for o in executed.cells[3].outputs]
    text = next(t for t in texts if "ZeroDivisionError" in t)
    assert "Cell In[4], line 3" in text
    assert re.search(r"----> 3\s+y = 1 / 0", text)
