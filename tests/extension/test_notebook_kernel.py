"""A notebook run in a real kernel (nbclient): the widgets' state while they ran, and static figures that
replace them when their runs end (what a notebook reopened without a kernel can draw)."""

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import GEOMETRIC, WEATHER

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
VEGALITE = "application/vnd.vegalite.v5+json"


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ppl_kernel\nimport torch\nfrom torch.autograd import Variable"),
        nbformat.v4.new_code_cell(WEATHER.format(opts="--samples 500 --seed 0 -o weather_runs")),
        nbformat.v4.new_code_cell(GEOMETRIC.format(opts='--args "torch.tensor([0.5])" --samples 400 --seed 1')),
        nbformat.v4.new_code_cell("print(len(weather_runs), weather_runs.partial)"),
        nbformat.v4.new_code_cell("weather_runs"),
        nbformat.v4.new_code_cell("%trace --seed 0 geometric(torch.tensor([0.5]))"),
        nbformat.v4.new_code_cell("from ppl_kernel import poutine\n"
                                  "poutine.trace(geometric).get_trace(torch.tensor([0.5]))"),
        nbformat.v4.new_code_cell("print('a later cell')"),
    ]
    NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=True).execute()
    return nb


def widget_models(nb):
    return nb.metadata["widgets"][WIDGET_STATE]["state"]


def histogram_states(nb):
    return [m["state"] for m in widget_models(nb).values()
            if m["state"].get("_anywidget_id") == "ppl_kernel_jupyter.histogram_widget.HistogramWidget"]


def test_widget_state_is_saved_with_the_final_counts(executed):
    states = histogram_states(executed)
    weather = next(s for s in states if s["title"] == "weather")
    assert weather["status"] == "done" and weather["runs"] == 500
    cloudy = next(p for p in weather["panels"] if p["name"] == "cloudy")
    assert sum(b["count"] for b in cloudy["bars"]) == 500
    geometric = next(s for s in states if s["title"] == "geometric")
    x0 = next(p for p in geometric["panels"] if p["name"] == "x_0")
    assert x0["runs"] == 400
    assert geometric["groups"][0]["pattern"] == "x_{i}"


def test_each_sampling_cell_keeps_the_static_figure_and_no_widget_view(executed):
    for index, title in ((1, "weather"), (2, "geometric")):
        outputs = executed.cells[index].outputs
        assert not any(WIDGET_VIEW in o.get("data", {}) for o in outputs)
        static = [o for o in outputs if {"image/png", VEGALITE} <= set(o.get("data", {}))]
        assert len(static) == 1, outputs
        assert static[0]["data"]["text/plain"].startswith(f"{title}: ")
        assert "(done)" in static[0]["data"]["text/plain"]


def test_the_runs_are_a_posterior_in_the_kernel(executed):
    assert executed.cells[3].outputs[0]["text"].strip() == "500 False"


def test_a_posterior_displays_itself_as_a_static_figure_titled_with_its_model(executed):
    outputs = executed.cells[4].outputs
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outputs)
    static = [o for o in outputs if {"image/png", VEGALITE} <= set(o.get("data", {}))]
    assert static and static[0]["data"]["text/plain"].startswith("weather: 500 runs from the prior")


def test_a_trace_tree_becomes_static_html_when_the_next_cell_runs(executed):
    outputs = executed.cells[5].outputs
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outputs), outputs
    (tree,) = [o for o in outputs if "text/html" in o.get("data", {})]
    html = tree["data"]["text/html"]
    # The root call folds with <details>, its first site is geometric's first flip.
    assert html.count("<details open") >= 1 and '<span class="ppl-call-sig" style="font-weight: bold">geometric(' in html
    assert '<span class="ppl-site-name" style="font-weight: bold">x_0</span>' in html
    assert tree["data"]["text/plain"].startswith("geometric(")


def test_a_displayed_trace_is_static_html_from_the_start(executed):
    outputs = executed.cells[6].outputs
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outputs), outputs
    assert any("<details open" in o.get("data", {}).get("text/html", "") for o in outputs), outputs
