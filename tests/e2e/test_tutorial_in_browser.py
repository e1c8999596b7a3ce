"""The tutorials, run in JupyterLab in a real browser: what a user sees, not what the kernel sends.

Kernel-side tests pass even when a widget shows nothing in the page (a missing front-end package,
a JavaScript error, a message the browser rejects). This opens ``01_models.ipynb`` in headless
Chromium, runs all cells from the Run menu and reads the page: the live histograms change while
``%sample`` runs and end with the requested number of runs, the call tree of ``geometric`` nests
and folds on click, and no cell shows an error. Screenshots of each stage go to
``test-artifacts/e2e/`` (look at them after a failure).

The DOM markers read here are documented in ``extension/histogram_widget.py`` and
``extension/trace_tree.py``.

Then every tutorial in ``notebooks/`` is run from the Run menu and saved, and the saved notebooks are
opened in a fresh JupyterLab (a new server, a new kernel that knows none of the widgets): every figure
and call tree must show, and no output may say "Error displaying widget" or "model not found". In
JupyterLab's dark theme, live and reopened, every label of a figure and of a call tree must keep the
WCAG AA contrast (4.5:1) against the background it is drawn on (compare()'s tables of numbers too).

A notebook whose last cell run is ``%trace`` is saved with the call tree as static HTML, no widget view.
"""

import json
import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import NOTEBOOKS, LabServer

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
    const bar = h.querySelector('progress.ppl-progress');
    const state = {status: h.dataset.status, runs: Number(h.querySelector('span.ppl-hist-runs').dataset.runs),
                   cloudy: Number(count.dataset.runs), bar: bar && bar.style.display !== 'none' ? [bar.value, bar.max] : null};
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
  for (const o of document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')) {
    if (/model not found/i.test(o.textContent)) found.push(`widget model missing: ${o.textContent.slice(0, 500)}`);
  }
  for (const e of document.querySelectorAll('div.ppl-tree-error')) {
    if (e.textContent) found.push(`trace tree error: ${e.textContent}`);
  }
  return found;
}"""

# The kernel is connected and idle, so that Run All runs the cells. The toolbar's execution indicator says idle
# while the kernel is still connecting; a Run All then opens the "Select Kernel" dialog and runs nothing (seen on
# a loaded machine). The status bar says "<kernel> | Idle" only once the kernel has answered.
KERNEL_READY = """() => document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']")
  && [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle$/.test(e.textContent.trim()))"""

# The whole output area of the cell holding an element (the widget and the static picture under it).
OUTPUT_AREA = "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' jp-OutputArea ')][1]"


def code_cells(notebook=NOTEBOOK):
    nb = json.loads((NOTEBOOKS / notebook).read_text())
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


# The WCAG contrast ratio of every label of a figure (SVG text) and of a call tree (HTML text) against
# what is behind it: the nearest background drawn (a Vega background rect, else an element's
# background colour), with the text's own alpha and its ancestors' opacity blended in.
CONTRAST = """() => {
  const rgba = c => { const m = /rgba?\\(([^)]*)\\)/.exec(c || ''); if (!m) return null;
                      const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
                      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const blend = (fg, a, bg) => [0, 1, 2].map(i => fg[i] * a + bg[i] * (1 - a));
  const behind = el => {
    let layers = [];
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      if (e.tagName.toLowerCase() === 'svg') {
        const rect = e.querySelector('rect.background, path.background');
        const fill = rect && rgba(getComputedStyle(rect).fill);
        if (fill && fill[3] > 0) { layers.push(fill); if (fill[3] >= 1) break; }
      }
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255];
    for (const l of layers.reverse()) bg = blend(l, l[3], bg);
    return bg;
  };
  const opacity = el => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const out = [];
  const labels = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedVegaLite svg text')]
    .concat([...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) :is(.ppl-tree-static, .ppl-compare-table) *')]
            .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())));
  for (const e of labels) {
    if (!e.textContent.trim()) continue;
    const style = getComputedStyle(e);
    const svg = e instanceof SVGElement;
    const fg = rgba(svg ? style.fill : style.color);
    if (!fg) continue;
    const a = fg[3] * opacity(e) * (svg ? Number(style.fillOpacity || 1) : 1);
    if (a === 0 || style.visibility === 'hidden' || style.display === 'none') continue;  // not drawn (e.g. a tick
    // label that Vega hid because it would overlap its neighbour)
    const bg = behind(e.parentElement);
    const text = blend(fg, a, bg);
    const [l1, l2] = [lum(text), lum(bg)].sort((x, y) => y - x);
    out.push({text: e.textContent.trim().slice(0, 60), ratio: (l1 + 0.05) / (l2 + 0.05),
              fg: text.map(Math.round), bg: bg.map(Math.round)});
  }
  return out;
}"""
AA = 4.5  # WCAG 2.1 AA, normal text


def check_contrast(page, where):
    """Every label on the page reads at WCAG AA contrast; fails listing the worst ones."""
    labels = page.evaluate(CONTRAST)
    assert labels, f"{where}: no figure or tree labels on the page to check"
    poor = sorted((label for label in labels if label["ratio"] < AA), key=lambda label: label["ratio"])
    assert poor == [], f"{where}: {len(poor)} of {len(labels)} labels below {AA}:1, worst first: {poor[:8]}"


def switch_theme(page, name):
    """Settings > Theme > ``name``, as a user would; waits until the page has taken it."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(name)}$")).click()
    light = "false" if "Dark" in name else "true"
    page.wait_for_function("light => document.body.dataset.jpThemeLight === light", arg=light, timeout=30_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def save_notebook(page, path):
    """File > Save Notebook; returns the notebook as written, once the file has changed and is whole."""
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before:
            try:  # the server may still be writing it
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass
        time.sleep(0.2)
    pytest.fail(f"{path.name} was not saved within 30 s")


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
        check_contrast(page, "live, light theme")
        # Dark theme, switched while the notebook is open: what was drawn in the light theme stays legible.
        switch_theme(page, "JupyterLab Dark")
        stages.shot("live-dark")
        check_contrast(page, "live, switched to the dark theme")
        switch_theme(page, "JupyterLab Light")
        saved = save_notebook(page, lab.root / NOTEBOOK)
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
    until(page, KERNEL_READY)
    stages.shot("opened")

    page.evaluate(RECORDER)
    # Run -> Run All Cells, as a user would.
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    # --- the weather histograms change while sampling runs ---------------------------------------
    first = until(page, WEATHER_STATE, None)
    weather = page.locator("div.ppl-hist").filter(
        has=page.locator(".ppl-hist-title", has_text=re.compile(r"^weather$")))
    # The page as the user sees it mid-run (scrolled to the widget; the notebook lays out cells above it
    # lazily, so let two frames pass before the picture).
    weather.scroll_into_view_if_needed()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    stages.shot("weather-sampling")
    assert first["status"] == "running" and 0 < first["cloudy"] < WEATHER_RUNS, first
    assert first["bar"] == [first["runs"], WEATHER_RUNS], first  # the progress bar: runs drawn of runs asked

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
    running = [s for s in states if s["status"] == "running" and s["cloudy"]]
    ended = [s["t"] for s in states if s["status"] not in ("running", None)]
    assert running and ended, states
    # Live means frames while it runs (issue 18). The rate itself (first frame at once, then one per throttle
    # interval) is checked against the throttle's own schedule in tests/extension/test_frame_rate.py; wall-clock
    # frames per second seen by a browser on a shared machine measure the machine's load, not us. Here: the
    # picture changed while the run went on, whenever the run lasted long enough for a second frame.
    seconds = (ended[0] - running[0]["t"]) / 1000
    assert len({s["cloudy"] for s in running}) >= (2 if seconds > 1 else 1), (seconds, states)

    # --- the call trees: by now each is the static picture it leaves in the notebook -----------------
    trees = page.locator(".jp-NotebookPanel div.ppl-tree-static")
    # one per %trace, and one per %%model --trace (beside its histograms)
    assert trees.count() == sum(c.startswith("%trace") or (c.startswith("%%model") and "--trace" in c.split("\n")[0])
                                for c in cells)
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
    """The tutorial's ``%trace --seed 11 geometric(...)`` flips heads twice: three calls, nested; a click
    on a call's summary folds it and a second click unfolds it (plain ``<details>``, no kernel needed)."""
    tree = page.locator(".jp-NotebookPanel div.ppl-tree-static").filter(
        has=page.locator(".ppl-tree-title", has_text=re.compile(r"^geometric$")))
    assert tree.count() == 1
    tree.scroll_into_view_if_needed()
    root = tree.locator(":scope > details.ppl-call")
    nested = root.locator(":scope > details.ppl-call")
    innermost = nested.locator(":scope > details.ppl-call")
    assert root.count() == 1 and nested.count() == 1 and innermost.count() == 1
    assert [s.text_content() for s in root.locator(":scope > div.ppl-site .ppl-site-name").all()] == ["x_0"]
    assert [s.text_content() for s in nested.locator(":scope > div.ppl-site .ppl-site-name").all()] == ["x_1"]
    assert re.fullmatch(r"geometric\(p=.*, t=1\)", nested.locator(":scope > summary .ppl-call-sig").text_content())
    assert innermost.is_visible()
    stages.shot("geometric-tree-nested", tree)

    summary = root.locator(":scope > summary")
    summary.click()
    page.wait_for_function("el => !el.open", arg=root.element_handle(), timeout=10_000)
    assert not nested.is_visible() and summary.is_visible()
    stages.shot("geometric-tree-collapsed", tree)
    summary.click()
    page.wait_for_function("el => el.open", arg=root.element_handle(), timeout=10_000)
    assert innermost.is_visible()
    stages.shot("geometric-tree-expanded", tree)


OTHER_TUTORIALS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.name != NOTEBOOK)
VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def open_notebook(context, server, name):
    """A new page showing only ``name`` (``?reset``: no tabs restored from an earlier visit)."""
    page = context.new_page()
    page.goto(f"{server.url}/lab/tree/{name}?reset")
    wait_for_cells(page, name)
    return page


def wait_for_cells(page, name):
    """Until the notebook shows all its code cells (JupyterLab attaches them a few at a time)."""
    n = len(code_cells(name))
    until(page, f"n => document.querySelectorAll('{VISIBLE} .jp-CodeCell').length === n", n)


def saved_pictures(path):
    """How many Vega-Lite figures and static call trees the notebook file holds."""
    outputs = [o for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    figures = sum("application/vnd.vegalite.v5+json" in o.get("data", {}) for o in outputs)
    trees = sum("ppl-tree-static" in "".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    widgets = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    return figures, trees, widgets


@pytest.mark.parametrize("name", OTHER_TUTORIALS)
def test_tutorial_runs_in_jupyterlab_and_saves(browser, lab, artifacts, name):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(ERROR_RECORDER)
    page = None
    try:
        page = open_notebook(context, lab, name)
        until(page, KERNEL_READY)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        n = len(code_cells(name))
        until(page, f"""n => {{ const p = [...document.querySelectorAll('{VISIBLE} .jp-CodeCell .jp-InputPrompt')];
                                return p.length === n && p.every(e => /^\\[\\d+\\]:$/.test(e.textContent.trim())); }}""", n)
        until(page, f"() => document.querySelector(\"{VISIBLE} .jp-Notebook-ExecutionIndicator[data-status='idle']\")")
        assert page.evaluate(PROBLEMS) == []
        page.screenshot(path=str(artifacts / f"live-light-{name}.png"), full_page=True)
        save_notebook(page, lab.root / name)
    except BaseException:
        if page is not None:
            page.screenshot(path=str(artifacts / f"failed-{name}.png"), full_page=True)  # what the page showed
        raise
    finally:
        context.close()


LAST_CELL_TRACE = "last_cell_trace.ipynb"


def test_a_trace_run_last_is_saved_as_its_static_tree(browser, lab):
    """The call tree of the last cell run before saving is in the saved file as HTML, with no widget view a
    reopened notebook could not draw (the tree used to become static only when a next cell ran)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import ppl_kernel as pyro\nimport ppl_kernel.distributions as dist\n"
                                  "%load_ext ppl_kernel"),
        nbformat.v4.new_code_cell("def geometric(p, t=0):\n    x = pyro.sample(f'x_{t}', dist.Bernoulli(p))\n"
                                  "    return 0 if x.item() == 0 else 1 + geometric(p, t + 1)"),
        nbformat.v4.new_code_cell("%trace --seed 11 geometric(0.5)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = lab.root / LAST_CELL_TRACE
    nbformat.write(nb, path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(ERROR_RECORDER)
    try:
        page = context.new_page()
        page.goto(f"{lab.url}/lab/tree/{LAST_CELL_TRACE}?reset")
        until(page, f"n => document.querySelectorAll('{VISIBLE} .jp-CodeCell').length === n", 3)
        until(page, KERNEL_READY)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        until(page, f"() => document.querySelector('{VISIBLE} div.ppl-tree-static details.ppl-call')")
        saved = save_notebook(page, path)
    finally:
        context.close()
    outputs = saved["cells"][-1]["outputs"]
    assert [sorted(o.get("data", {})) for o in outputs] == [["text/html", "text/plain"]], outputs
    assert "ppl-tree-static" in "".join(outputs[0]["data"]["text/html"])


# Known failures, named so that a fix is noticed (strict xfail): a tutorial whose reopened pictures a person
# cannot yet read or see.
KNOWN_WIDGETS = {
}


@pytest.fixture(scope="module")
def reopened(lab, tmp_path_factory):
    """A fresh JupyterLab (new server, new kernels that know none of the old widgets) serving the notebooks
    as the tests above saved them."""
    names = [NOTEBOOK] + OTHER_TUTORIALS
    unsaved = [n for n in names if (lab.root / n).read_bytes() == (NOTEBOOKS / n).read_bytes()]
    if unsaved:
        pytest.skip(f"not run and saved by the tests above: {unsaved}")
    server = LabServer(tmp_path_factory.mktemp("reopened"), notebooks=lab.root)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_WIDGETS[n]))
                                  if n in KNOWN_WIDGETS else n for n in [NOTEBOOK] + OTHER_TUTORIALS])
def test_saved_tutorial_reopens_in_a_fresh_jupyterlab(browser, reopened, artifacts, name):
    expected = saved_pictures(reopened.root / name)
    assert expected[2] == 0, f"{name} was saved with {expected[2]} widget views, which a reopened notebook cannot draw"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(ERROR_RECORDER)
    try:
        page = open_notebook(context, reopened, name)
        switch_theme(page, "JupyterLab Light")  # the theme is a server setting: the test before may have left dark
        check_reopened(page, name, expected, "JupyterLab Light", artifacts)
        switch_theme(page, "JupyterLab Dark")
        page.reload()  # drawn afresh in the dark theme, as a notebook opened in it is
        wait_for_cells(page, name)
        check_reopened(page, name, expected, "JupyterLab Dark", artifacts)
        switch_theme(page, "JupyterLab Light")
    finally:
        context.close()


def test_a_trace_saved_last_reopens_as_its_tree(browser, reopened, artifacts):
    path = reopened.root / LAST_CELL_TRACE
    if not path.exists():
        pytest.skip(f"{LAST_CELL_TRACE} was not saved by test_a_trace_run_last_is_saved_as_its_static_tree")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(ERROR_RECORDER)
    try:
        page = context.new_page()
        page.goto(f"{reopened.url}/lab/tree/{LAST_CELL_TRACE}?reset")
        until(page, f"n => document.querySelectorAll('{VISIBLE} .jp-CodeCell').length === n", 3)
        check_reopened(page, LAST_CELL_TRACE, saved_pictures(path), "JupyterLab Light", artifacts)
        tree = page.locator(f"{VISIBLE} div.ppl-tree-static")
        assert tree.locator("details.ppl-call").count() >= 2  # geometric recursed (seed 11: two heads)
    finally:
        context.close()


def check_reopened(page, name, expected, theme, artifacts):
    figures, trees, _ = expected
    cells = page.locator(f"{VISIBLE} .jp-Cell")
    for i in range(cells.count()):  # a reader scrolls through: each output is drawn as it comes into view
        cells.nth(i).scroll_into_view_if_needed()
    until(page, f"n => document.querySelectorAll('{VISIBLE} .jp-RenderedVegaLite svg').length === n", figures)
    until(page, f"n => document.querySelectorAll('{VISIBLE} div.ppl-tree-static').length === n", trees)
    calls = page.locator(f"{VISIBLE} div.ppl-tree-static").evaluate_all("ts => ts.map(t => t.querySelectorAll('details.ppl-call').length)")
    assert all(calls), f"{name}: a call tree without calls: {calls}"
    assert page.evaluate(PROBLEMS) == [], name
    tag = "dark" if "Dark" in theme else "light"
    page.screenshot(path=str(artifacts / f"reopened-{tag}-{name}.png"), full_page=True)
    if figures or trees:
        check_contrast(page, f"{name} reopened, {theme}")
