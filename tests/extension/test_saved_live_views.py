"""A notebook saved through a Jupyter server keeps the static picture of a marked live view, not the widget.

The save hook is installed by the package (a server extension enabled in ``etc/jupyter``); these tests
start the real servers a user runs (JupyterLab, Notebook 7) and save through their contents API, which is
what both front ends call on Ctrl-S.
"""

import json
import urllib.request

import ipywidgets
import nbformat
import pytest

from ppl_kernel_jupyter.static_output import WIDGET_VIEW, live_with_static

from ..e2e.conftest import LabServer


def notebook_with_two_widgets():
    """One live view marked to be saved as its static note, one plain widget (someone else's)."""
    data, metadata = live_with_static(ipywidgets.FloatSlider(), {"text/html": "<b>Sliders for coin</b>"})
    marked = nbformat.v4.new_output("display_data", data=data, metadata=metadata)
    plain = nbformat.v4.new_output("display_data", data=ipywidgets.IntSlider()._repr_mimebundle_())
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("interact(coin)", outputs=[marked, plain])])


@pytest.mark.parametrize("app", ["jupyterlab", "notebook"])
def test_saving_drops_the_widget_view_of_a_marked_output_and_keeps_its_picture(tmp_path, app):
    # Notebook 7 is not a test dependency: installed into a virtual environment that borrows JupyterLab from
    # the system's site-packages, its share/jupyter/lab folder hides JupyterLab's own page.
    pytest.importorskip(app, reason=f"{app} is not installed (python -m pip install {app})")
    (tmp_path / "empty").mkdir()
    server = LabServer(tmp_path, notebooks=tmp_path / "empty", app=app)
    try:
        server.start()
        # As a front end does: the _xsrf cookie echoed in a header (Tornado compares the two).
        xsrf = "5f1d2c3b4a596877"
        body = json.dumps({"type": "notebook", "format": "json", "content": notebook_with_two_widgets()}).encode()
        request = urllib.request.Request(f"{server.url}/api/contents/saved.ipynb", data=body, method="PUT",
                                         headers={"Content-Type": "application/json", "X-XSRFToken": xsrf,
                                                  "Cookie": f"_xsrf={xsrf}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in (200, 201)
    finally:
        server.stop()
    marked, plain = json.loads((server.root / "saved.ipynb").read_text())["cells"][0]["outputs"]
    assert WIDGET_VIEW not in marked["data"], f"{app} saved the live view: is the server extension enabled?"
    assert "".join(marked["data"]["text/html"]) == "<b>Sliders for coin</b>"
    assert WIDGET_VIEW in plain["data"]  # a widget without our mark is saved as it is
