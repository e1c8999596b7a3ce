"""Tutorial 07's sliders in JupyterLab in a real browser: moving one re-samples and redraws the panels.

Runs ``07_exploring_by_hand.ipynb`` from the Run menu, presses the right-arrow key on the first
slider (``interact(heads_in_ten, p=(0, 1, 0.05))``, as a keyboard user would move it one step) and
waits until the figure under it is the one for the new value: titled ``heads_in_ten(p=0.55)``,
with other counts than before. Screenshots go to ``test-artifacts/e2e/sliders-*.png``.
"""

import json
import re

import pytest

from .conftest import NOTEBOOKS
from .test_tutorial_in_browser import ERROR_RECORDER, PROBLEMS, until

pytestmark = pytest.mark.e2e

NOTEBOOK = "07_exploring_by_hand.ipynb"

# The figure whose title starts with the given text: its marks' descriptions (each bar's count), or null.
FIGURE_MARKS = """(title) => {
  for (const v of document.querySelectorAll('.jp-NotebookPanel .jp-RenderedVegaLite')) {
    const texts = [...v.querySelectorAll('svg text')].map(t => t.textContent);
    if (texts.some(t => t.startsWith(title))) {
      return [...v.querySelectorAll('svg [aria-label]')].map(m => m.getAttribute('aria-label'))
        .filter(label => label.startsWith('heads ='));
    }
  }
  return null;
}"""


def code_cell_count():
    nb = json.loads((NOTEBOOKS / NOTEBOOK).read_text())
    return sum(c["cell_type"] == "code" for c in nb["cells"])


def test_moving_a_slider_redraws_the_panels_for_the_new_value(browser, lab, artifacts):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(ERROR_RECORDER)
    page = context.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}")
        cells = code_cell_count()
        until(page, "n => document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell').length === n", cells)
        until(page, "() => document.querySelector(\".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']\")")
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        until(page, """n => { const p = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
                              return p.length === n && p.every(e => /^\\[\\d+\\]:$/.test(e.textContent.trim())); }""",
              cells)
        before = until(page, FIGURE_MARKS, "heads_in_ten(p=0.5):")
        slider = page.locator(".jp-NotebookPanel .widget-slider").first
        slider.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "sliders-before.png"))
        slider.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")  # one step: p = 0.55
        after = until(page, FIGURE_MARKS, "heads_in_ten(p=0.55):")
        page.screenshot(path=str(artifacts / "sliders-after.png"))
        assert after and after != before, (before, after)
        assert page.evaluate(PROBLEMS) == []
    finally:
        context.close()
