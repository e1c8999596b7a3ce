"""The first tutorial, run in JupyterLab in a real browser: what a user sees, not what the kernel sends.

Kernel-side tests pass even when a widget shows nothing in the page (a missing front-end package,
a JavaScript error, a message the browser rejects). This opens ``01_models.ipynb`` in headless
Chromium, runs all cells from the Run menu and reads the page: the live histograms change while
``%sample`` runs and end with the requested number of runs, the call tree of ``geometric`` nests
and folds on click, and no cell shows an error. Screenshots of each stage go to
``test-artifacts/e2e/`` (look at them after a failure).

The DOM markers read here are documented in ``extension/histogram_widget.py`` and
``extension/trace_tree.py``.
"""

import json
import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import NOTEBOOKS

pytestmark = pytest.mark.e2e

NOTEBOOK = "01_models.ipynb"
WEATHER_RUNS = 5000  # the tutorial's `%sample --seed 0 weather 5000`
LONG = 180_000  # ms: the whole notebook on a slow 2-core CI machine (it takes ~30 s here)

# Records every distinct state the histogram widgets go through, from before Run All to the end:
# a MutationObserver sees each redraw, so the sequence cannot miss an update the page showed.
RECORDER = """() => {
  window.__pplStates = [];
  const last = new Map();
  const read = () => {
    document.querySelectorAll('div.ppl-hist').forEach((h, i) => {
      const cloudy = h.querySelector('div.ppl-panel[data-site="cloudy"] span.ppl-panel-count');
      const state = {
        widget: i,
        title: h.querySelector('.ppl-hist-title')?.textContent ?? null,
        status: h.dataset.status ?? null,
        runs: Number(h.querySelector('span.ppl-hist-runs')?.dataset.runs ?? NaN),
        cloudy: cloudy ? Number(cloudy.dataset.runs) : null,
        t: performance.now(),
      };
      const key = `${state.title}|${state.status}|${state.runs}|${state.cloudy}`;
      if (last.get(i) !== key) { last.set(i, key); window.__pplStates.push(state); }
    });
  };
  new MutationObserver(read).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                      attributeFilter: ['data-runs', 'data-status']});
}"""

# The weather widget's state, once it is running with some runs drawn (null until then).
WEATHER_STATE = """(previous) => {
  for (const h of document.querySelectorAll('div.ppl-hist')) {
    if (h.querySelector('.ppl-hist-title')?.textContent !== 'weather') continue;
    const count = h.querySelector('div.ppl-panel[data-site="cloudy"] span.ppl-panel-count');
    if (!count) return null;
    const state = {status: h.dataset.status, runs: Number(h.querySelector('span.ppl-hist-runs').dataset.runs),
                   cloudy: Number(count.dataset.runs)};
    if (state.cloudy > 0 && state.cloudy !== previous) return state;
  }
  return null;
}"""


# Uncaught errors, rejected promises and console errors, recorded from the first script on: a widget
# whose JavaScript fails leaves a blank or frozen output and says so only here (the widget manager
# catches an exception in a view's update and logs "Error setting state: ..." to the console).
ERROR_RECORDER = """
window.__pplErrors = [];
window.addEventListener('error', e => window.__pplErrors.push(`JavaScript error: ${e.message}`));
window.addEventListener('unhandledrejection', e => window.__pplErrors.push(`unhandled rejection: ${e.reason}`));
const consoleError = console.error.bind(console);
console.error = (...args) => { window.__pplErrors.push(`console error: ${args.map(a => a?.stack ?? String(a)).join(' ')}`);
                               consoleError(...args); };
"""

# What a user would see as something gone wrong: JavaScript errors, error outputs (JupyterLab draws
# tracebacks and usage errors as stderr), widgets that failed to show, a sampler that ended in error.
PROBLEMS = """() => {
  const found = [...(window.__pplErrors || [])];
  for (const o of document.querySelectorAll(
      '.jp-NotebookPanel .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
    if (/Traceback|Error|Exception/.test(o.textContent)) found.push(`error output: ${o.textContent.slice(0, 2000)}`);
  }
  for (const o of document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')) {
    if (o.textContent.includes('Error displaying widget')) found.push(`widget failed: ${o.textContent.slice(0, 500)}`);
  }
  for (const h of document.querySelectorAll('div.ppl-hist[data-status="error"], div.ppl-hist[data-status="interrupted"]')) {
    found.push(`histograms ${h.dataset.status}: ${h.querySelector('.ppl-hist-message')?.textContent}`);
  }
  for (const e of document.querySelectorAll('div.ppl-tree-error')) {
    if (e.textContent) found.push(`trace tree error: ${e.textContent}`);
  }
  return found;
}"""

# The whole output area of the cell holding an element (the widget and the static picture under it).
OUTPUT_AREA = "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' jp-OutputArea ')][1]"


def code_cells():
    nb = json.loads((NOTEBOOKS / NOTEBOOK).read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


class Stages:
    """Numbered screenshots of the page (and of single widgets) under test-artifacts/e2e/."""

    def __init__(self, page, folder):
        self.page, self.folder, self.n = page, folder, 0
        for old in folder.glob("*.png"):
            old.unlink()

    def shot(self, name, element=None):
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        (element or self.page).screenshot(path=str(path))
        return path


def panel_sums(widget):
    """Per panel of a histogram widget: its site, the runs it says it drew and the sum of its bars/bins."""
    return widget.evaluate("""h => [...h.querySelectorAll('div.ppl-panel')].map(p => ({
        site: p.dataset.site,
        runs: Number(p.querySelector('span.ppl-panel-count').dataset.runs),
        drawn: [...p.querySelectorAll('rect.ppl-bar, rect.ppl-bin')].reduce((s, r) => s + Number(r.dataset.count), 0),
        shapes: p.querySelectorAll('rect.ppl-bar, rect.ppl-bin').length,
        bars: Object.fromEntries([...p.querySelectorAll('rect.ppl-bar')].map(r => [r.dataset.label, Number(r.dataset.count)])),
    }))""")


# Every Vega-Lite figure in the notebook: its title, its text, and each mark's description (aria-label).
FIGURES = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-RenderedVegaLite')].map(v => ({
  svg: !!v.querySelector('svg'), canvas: !!v.querySelector('canvas'),
  texts: [...v.querySelectorAll('svg text')].map(t => t.textContent),
  marks: [...v.querySelectorAll('svg [aria-label]')].map(m => m.getAttribute('aria-label')),
}))"""

MARK = re.compile(r"^(?P<site>\S+) (?:= (?P<label>.+?)|in \[.*\)): (?:probability|density) \S+, count (?P<count>\S+)$")


def read_figures(page):
    until(page, "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-RenderedVegaLite')]"
                ".every(v => v.querySelector('svg'))")
    return page.evaluate(FIGURES)


def mark_counts(marks):
    """site -> {"total": runs drawn, "bars": {label: count}} from the marks' descriptions."""
    out = {}
    for m in marks:
        found = MARK.match(m)
        if not found:
            continue
        site = out.setdefault(found["site"], {"total": 0.0, "bars": {}})
        site["total"] += float(found["count"])
        if found["label"] is not None:
            site["bars"][found["label"]] = float(found["count"])
    return out


def test_tutorial_runs_in_jupyterlab(browser, lab, artifacts):
    console = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(ERROR_RECORDER)
    page = context.new_page()
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    # Everything the page loads comes from the test server: no CDN, no news feed, no update check.
    elsewhere = []
    page.on("request", lambda r: None if r.url.startswith((lab.url + "/", "data:", "blob:")) else elsewhere.append(r.url))
    stages = Stages(page, artifacts)
    try:
        run_tutorial(page, lab, stages)
        # Save as a user would (File > Save Notebook) and wait until the file on disk holds the figures.
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "application/vnd.vegalite.v5+json" not in (lab.root / NOTEBOOK).read_text():
            time.sleep(0.2)
        saved = json.loads((lab.root / NOTEBOOK).read_text())
        kept = {"".join(c["source"]).split("\n")[0]: [set(o.get("data", {})) for o in c["outputs"]]
                for c in saved["cells"] if c["cell_type"] == "code"}
        for source, outputs in kept.items():
            if source.startswith(("%sample", "%%model")):
                # What a reopened notebook draws without a kernel: the figure, never a widget view.
                assert any("application/vnd.vegalite.v5+json" in o for o in outputs), (source, outputs)
                assert not any("application/vnd.jupyter.widget-view+json" in o for o in outputs), (source, outputs)
    finally:
        (artifacts / "console.log").write_text("\n".join(console) + "\n")
        context.close()
    assert elsewhere == [], f"the page made requests outside the test server: {elsewhere}"


def until(page, condition, arg=None, timeout=LONG):
    """Wait until ``condition(arg)`` (a JS function) returns a truthy value and return it; fail at once
    with what the page shows if a JavaScript error, an error output or a failed widget appears first."""
    try:
        value = page.wait_for_function(
            f"([arg]) => {{ const problems = ({PROBLEMS})(); if (problems.length) return {{problems}}; "
            f"return ({condition})(arg); }}", arg=[arg], polling=50, timeout=timeout).json_value()
    except PlaywrightTimeoutError:
        pytest.fail(f"waited {timeout / 1000:.0f} s in vain for {condition} (arg {arg!r}); "
                    f"problems in the page: {page.evaluate(PROBLEMS)}")
    if isinstance(value, dict) and "problems" in value:
        pytest.fail("the page shows a problem:\n" + "\n".join(value["problems"]))
    return value


def run_tutorial(page, lab, stages):
    cells = code_cells()
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}")
    # The notebook attaches its cells a few at a time; the kernel is up when the toolbar's indicator says idle.
    until(page, "n => document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell').length === n", len(cells))
    until(page, "() => document.querySelector(\".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']\")")
    stages.shot("opened")

    page.evaluate(RECORDER)
    # Run -> Run All Cells, as a user would.
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    # --- the weather histograms change while sampling runs ---------------------------------------
    first = until(page, WEATHER_STATE, None)
    second = until(page, WEATHER_STATE, first["cloudy"])
    weather = page.locator("div.ppl-hist").filter(
        has=page.locator(".ppl-hist-title", has_text=re.compile(r"^weather$")))
    # The page as the user sees it mid-run (scrolled to the widget; the notebook lays out cells above it
    # lazily, so let two frames pass before the picture).
    weather.scroll_into_view_if_needed()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    stages.shot("weather-sampling")
    assert first["status"] == "running" and 0 < first["cloudy"] < WEATHER_RUNS, first
    assert second["cloudy"] != first["cloudy"], (first, second)
    assert second["status"] == "running" and second["cloudy"] < WEATHER_RUNS, (
        f"the panel changed only once sampling had finished: {first} then {second}")

    # When the run ends its widget gives way to the static figure (titled "weather: 5000 runs ...").
    until(page, "() => ![...document.querySelectorAll('div.ppl-hist')].some(h => "
                "h.querySelector('.ppl-hist-title')?.textContent === 'weather' && h.dataset.status === 'running')")

    # --- every cell ran ---------------------------------------------------------------------------
    until(page, """n => { const p = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
                          return p.length === n && p.every(e => /^\\[\\d+\\]:$/.test(e.textContent.trim())); }""",
          len(cells))
    until(page, "() => document.querySelector(\".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']\")")
    # Widget views render asynchronously after their output arrives: wait until none is loading.
    until(page, "() => ![...document.querySelectorAll('.jp-OutputArea-output')]"
                ".some(o => o.textContent.includes('Loading widget'))")
    stages.shot("all-cells-ran")

    # --- each run's output ended as its static figure: no widget left that a reopened notebook would miss
    assert page.locator("div.ppl-hist").count() == 0, "a histogram widget outlived its run"
    figures = read_figures(page)
    sampling = [c for c in cells if c.startswith(("%sample", "%%model"))]
    assert len(figures) >= len(sampling), figures
    for i, f in enumerate(figures):
        page.locator(".jp-NotebookPanel .jp-RenderedVegaLite").nth(i).scroll_into_view_if_needed()
        stages.shot(f"figure-{i}", page.locator(".jp-NotebookPanel .jp-RenderedVegaLite").nth(i))
        assert f["svg"] and not f["canvas"], f  # real text: readable, and checkable below
    weather = next(f for f in figures if any(t.startswith("weather: ") for t in f["texts"]))
    assert f"weather: {WEATHER_RUNS} runs from the prior" in weather["texts"], weather["texts"]
    counts = mark_counts(weather["marks"])
    # Every panel's bars hold exactly the runs drawn; the return value that repeats temp is left out.
    assert counts["cloudy"]["total"] == WEATHER_RUNS and counts["temp"]["total"] == WEATHER_RUNS, counts.keys()
    # cloudy ~ Bernoulli(0.3) over 5000 runs: count of 1s has mean 1500 and sd sqrt(5000*0.3*0.7) = 32.4;
    # 5 sd = 162. A swapped or mislabelled bar (1s at 3500) is far outside.
    ones = counts["cloudy"]["bars"].get("1")
    assert ones is not None and abs(ones - 1500) < 162, counts["cloudy"]
    for name in ("probability", "density"):
        assert name in weather["texts"], weather["texts"]  # labelled y axes

    # The recorder saw the live widget change while it ran.
    states = [s for s in page.evaluate("() => window.__pplStates") if s["title"] == "weather"]
    (stages.folder / "weather-states.json").write_text(json.dumps(states, indent=1))
    running = {s["cloudy"] for s in states if s["status"] == "running" and s["cloudy"]}
    assert len(running) >= 2, states

    # --- the call trees ---------------------------------------------------------------------------
    trees = page.locator("div.ppl-tree")
    assert trees.count() == sum(c.startswith("%trace") for c in cells)
    for i in range(trees.count()):
        t = trees.nth(i)
        title = t.locator(".ppl-tree-title").text_content()
        t.scroll_into_view_if_needed()
        stages.shot(f"tree-{i}-{title}", t)
        assert t.locator("details.ppl-call").count() >= 1 and t.locator("div.ppl-site").count() >= 1, title
    check_trace_tree(page, stages)

    # --- nothing went wrong in any cell, every output shows something -----------------------------
    assert page.evaluate(PROBLEMS) == []
    outputs = page.locator(".jp-NotebookPanel .jp-OutputArea-output")
    blank = outputs.evaluate_all("os => os.filter(o => !o.textContent.trim() && !o.querySelector('img, svg'))"
                                 ".map(o => o.closest('.jp-Cell')?.querySelector('.jp-InputArea-editor')?.textContent)")
    assert blank == [], f"cells with a blank output (a widget that did not render?): {blank}"


def check_trace_tree(page, stages):
    tree = page.locator("div.ppl-tree").filter(
        has=page.locator(".ppl-tree-title", has_text=re.compile(r"^geometric$")))
    assert tree.count() == 1
    tree.scroll_into_view_if_needed()
    root = tree.locator("details.ppl-call[data-call='geometric'][data-depth='0']")
    nested = root.locator("details.ppl-call[data-call='geometric'][data-depth='1']")
    root.wait_for(state="visible", timeout=LONG)
    stages.shot("geometric-tree-first-run", tree)
    # One run stops at the first flip with probability 1/2: resample (the widget's own button) until
    # the recursion shows. 40 tries fail to nest with probability 2**-40.
    for _ in range(40):
        if nested.count():
            break
        run = int(tree.get_attribute("data-run"))
        tree.locator("button.ppl-resample").click()
        page.wait_for_function("([el, n]) => Number(el.dataset.run) > n", arg=[tree.element_handle(), run],
                               timeout=30_000)
    assert nested.count() >= 1, "40 runs of geometric(0.5) never recursed"
    assert root.locator(":scope > div.ppl-site[data-site='x_0']").count() == 1
    assert nested.first.locator(":scope > div.ppl-site[data-site='x_1']").count() == 1
    assert re.fullmatch(r"geometric\(p=0\.5, t=1\)", nested.first.locator(":scope > summary .ppl-call-sig")
                        .text_content()), nested.first.locator(":scope > summary").text_content()
    assert nested.first.is_visible()
    stages.shot("geometric-tree-nested", tree)

    # Click the outer call: it folds (details closed, nested call hidden), click again: it unfolds.
    summary = root.locator(":scope > summary")
    summary.click()
    page.wait_for_function("el => !el.open", arg=root.element_handle(), timeout=10_000)
    assert not nested.first.is_visible()
    assert root.locator(":scope > summary .ppl-call-sig").is_visible()
    stages.shot("geometric-tree-collapsed", tree)
    summary.click()
    page.wait_for_function("el => el.open", arg=root.element_handle(), timeout=10_000)
    assert nested.first.is_visible()
    stages.shot("geometric-tree-expanded", tree)
