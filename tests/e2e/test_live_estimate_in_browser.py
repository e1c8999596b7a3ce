"""The running estimate in JupyterLab in a real browser: drawn live beside the panels, kept after the run.

A notebook runs ``Importance(coin, ..., progress=LiveProgress(exact=0.625))`` for a few seconds. While
it runs, the live widget shows ``div.ppl-estimate`` with its curve, its standard-error band and the
exact value's dashed line, and the curve grows from frame to frame; when the run ends the output is
the Vega-Lite figure, whose first panel is the running estimate. Labels are checked for contrast in
the light and the dark theme. Screenshots go to ``test-artifacts/e2e/estimate-*.png``.
"""

import json
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .test_tutorial_in_browser import ERROR_RECORDER, PROBLEMS, check_contrast, switch_theme, until

pytestmark = pytest.mark.e2e

NOTEBOOK = "live_estimate.ipynb"
CELLS = [
    "%load_ext ppl_kernel",
    "import torch\nimport ppl_kernel as pyro\nimport ppl_kernel.distributions as dist\n"
    "from ppl_kernel.infer import Importance\nfrom ppl_kernel_jupyter import LiveProgress\n\n"
    "def coin():\n"
    "    p = pyro.sample('p', dist.Beta(2.0, 2.0))\n"
    "    with pyro.plate('flips', 4):\n"
    "        pyro.sample('flip', dist.Bernoulli(p), obs=torch.tensor([1.0, 1.0, 1.0, 0.0]))\n"
    "    return p",
    "posterior = Importance(coin, num_samples=4000, progress=LiveProgress(exact=0.625)).run()",
]

LIVE_ESTIMATE = """() => {
  const box = document.querySelector('.jp-NotebookPanel div.ppl-hist[data-status="running"] div.ppl-estimate');
  if (!box) return null;
  const value = box.querySelector('span.ppl-estimate-value');
  return {label: box.dataset.label, line: !!box.querySelector('path.ppl-estimate-line'),
          band: !!box.querySelector('path.ppl-estimate-band'), exact: !!box.querySelector('line.ppl-exact'),
          length: box.querySelector('path.ppl-estimate-line')?.getAttribute('d').length ?? 0,
          value: value ? Number(value.dataset.value) : null};
}"""

KEPT_ESTIMATE = """() => {
  for (const v of document.querySelectorAll('.jp-NotebookPanel .jp-RenderedVegaLite')) {
    const texts = [...v.querySelectorAll('svg text')].map(t => t.textContent);
    if (texts.some(t => t.startsWith('running estimate of'))) return texts;
  }
  return null;
}"""


def write_notebook(path):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
             for s in CELLS]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def run_all_cells(page):
    """Run > Run All Cells, again if the first cell has not started within 20 s (a click that came
    while the page was still settling)."""
    for _attempt in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            page.wait_for_function("() => /\\[(\\*|\\d+)\\]/.test(document.querySelector("
                                   "'.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')?.textContent ?? '')",
                                   timeout=20_000)
            return
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
    pytest.fail("Run All Cells did not start the notebook's cells")


def test_running_estimate_draws_live_and_stays_in_the_kept_figure(browser, lab, artifacts):
    write_notebook(lab.root / NOTEBOOK)
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_init_script(ERROR_RECORDER)
    page = context.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}")
        until(page, "n => document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell').length === n", len(CELLS))
        until(page, "() => document.querySelector(\".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']\")")
        run_all_cells(page)
        first = until(page, LIVE_ESTIMATE)
        assert first["label"] == "mean of the return value" and first["line"] and first["exact"]
        later = until(page, f"() => {{ const s = ({LIVE_ESTIMATE})(); return s && s.length > {first['length']} && s; }}")
        assert later["band"]  # more runs: the curve grew, with its standard-error band
        page.screenshot(path=str(artifacts / "estimate-live-light.png"))
        texts = until(page, KEPT_ESTIMATE)
        assert any("dashed: exact 0.625" in t for t in texts), texts  # a subtitle line (tspans of one text)
        assert page.locator("div.ppl-hist").count() == 0, "the live widget outlived its run"
        figure = page.locator(".jp-NotebookPanel .jp-RenderedVegaLite").first
        figure.screenshot(path=str(artifacts / "estimate-kept-light.png"))
        switch_theme(page, "JupyterLab Dark")
        figure.screenshot(path=str(artifacts / "estimate-kept-dark.png"))
        check_contrast(page, "running estimate, kept figure, dark theme")
        assert page.evaluate(PROBLEMS) == []
    finally:
        page.screenshot(path=str(artifacts / "estimate-last.png"))
        context.close()
