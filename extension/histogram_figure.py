"""What a notebook keeps of a run: a Vega-Lite figure, a PNG of the same panels and a text summary.

All three are made once, when a run ends, from the same :meth:`HistogramData.state` the live widget
draws, and replace the widget in the output (see :mod:`ppl_kernel_jupyter.static_output`):

- ``application/vnd.vegalite.v5+json``: JupyterLab 4 and Notebook 7 draw it with no kernel and no
  widget state (axes with round ticks, their dark theme); rendered as SVG so the text is real text;
- ``image/png`` (matplotlib, no pyplot state): what nbconvert's HTML and GitHub's viewer show;
- ``text/plain``: a terminal's view, with numbers to 4 significant digits.

Each panel is a real plot: probability (discrete values, as bars) or density (continuous values, on
the panel's fixed grid of round bins) on a labelled y axis, the site's name and distribution family
as title, mean ± standard error underneath. The figure's title says which distribution the panels
show: the prior, or the posterior given the observed sites, with the effective sample size of
weighted runs, flagged in words when it is too small to trust. When the state carries the prior beside the
posterior (live sampling of a conditioned model: the same runs unweighted), each panel draws the
posterior filled and the prior as an outline on the same bars or bins, in two colours with a legend.

>>> state = {"runs": 2, "weighted": False, "groups": [], "dropped": 0, "panels": [
...     {"name": "c", "runs": 2, "kind": "bars", "mean": 0.5, "sd": 0.5, "group": None, "note": "",
...      "dist": "Bernoulli", "is_return": False,
...      "bars": [{"label": "0", "value": 0.0, "count": 1.0}, {"label": "1", "value": 1.0, "count": 1.0}]}]}
>>> print(summary_text(state, "coin", "done"))
coin: 2 runs from the prior (done)
  c        2 runs  mean 0.5 ± 0.35  sd 0.5  0: 0.5, 1: 0.5
>>> spec = vegalite_spec(state, "coin")
>>> spec["concat"][0]["encoding"]["y"]["title"]
'probability'
>>> figure_png(state).startswith(b"\\x89PNG")
True
"""

import base64
import io
import math

from . import running_estimate
from .histogram_data import format_number

VEGALITE = "application/vnd.vegalite.v5+json"
FIGURE_PANELS = 12  # the static picture shows at most this many site panels (groups get one each)
LOW_ESS = 100  # fewer effective samples than this (or than 1% of the runs): flagged as untrustworthy
PANEL_WIDTH, PANEL_HEIGHT = 200, 120
# The posterior filled in Vega's first colour, the prior outlined in a mid grey: each is at least 3:1
# (WCAG's contrast for graphics) against both a white and JupyterLab's dark (#111) background.
POSTERIOR_COLOUR, PRIOR_COLOUR = "#4c78a8", "#8c8c8c"
SHOWS = ["posterior", "prior"]
FONT = 11  # px: the smallest text in a picture (tick labels)


# ---- what the picture shows -----------------------------------------------------------------------
def distribution_title(state):
    """``prior`` or ``posterior given y_0, y_1`` (+ how it was estimated): what every panel shows."""
    observed = state.get("observed") or []
    if state.get("distribution", "prior") == "posterior":
        given = _names(observed)
        text = f"posterior given {given}" if given else "posterior"
        if state.get("weighted"):
            text += f" (importance weighted, {ess_words(state)})"
        return text
    if observed:
        return f"prior (the observations of {_names(observed)} are not used)"
    return "prior"


def figure_title(state, title=None):
    """``weather: 5000 runs from the prior`` / ``coin: 5000 runs, posterior given flip (...)``."""
    heading = f"{title}: " if title else ""
    what = distribution_title(state)
    joint = " from the " if what == "prior" else ", "
    return f"{heading}{state['runs']} runs{joint}{what}"


def ess_words(state):
    """``ESS 812 of 5000``, with advice when it is too small to trust the picture."""
    ess, runs = state.get("ess", state["runs"]), state["runs"]
    words = f"ESS {format_number(round(ess))} of {runs}"
    if ess < min(LOW_ESS, 0.5 * runs) or ess < 0.01 * runs:
        words += ": too few effective samples to trust, use MH or a guide"
    return words


def _names(names, most=4):
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def mean_text(panel, state):
    """``mean 0.3021 ± 0.0065`` (standard error from the effective sample size) and the sd."""
    if panel.get("mean") is None:
        return ""
    n = panel["runs"] if not state.get("weighted") else state.get("ess", panel["runs"]) * _share(panel, state)
    se = panel["sd"] / math.sqrt(n) if n and n > 0 else float("nan")
    se_text = f"{se:.2g}" if math.isfinite(se) and se > 0 else format_number(se)  # 2 digits: an error's own error is large
    return f"mean {format_number(panel['mean'])} ± {se_text}  sd {format_number(panel['sd'])}"


def prior_text(panel):
    """``prior mean 0.5 (sd 0.29)`` when the panel carries the prior beside the posterior, else ``""``."""
    if panel.get("prior_mean") is None:
        return ""
    return f"prior mean {format_number(panel['prior_mean'])}  sd {format_number(panel['prior_sd'])}"


def _share(panel, state):
    share = panel.get("share")
    return share if share is not None else panel["runs"] / max(state["runs"], 1)


def panel_title(panel):
    return f"{panel['name']} ~ {panel['dist']}" if panel.get("dist") else panel["name"]


def panel_runs(panel, state):
    return f"{panel['runs']} runs" if panel["runs"] >= state["runs"] else f"in {panel['runs']} of {state['runs']} runs"


def left_out_returns(state):
    """Return-value panels that say nothing new, with why: {name: reason}."""
    sites = [p for p in state["panels"] if not p.get("is_return")]
    reasons = {}
    for p in state["panels"]:
        if not p.get("is_return") or p["kind"] not in ("bars", "hist"):
            continue
        if p["sd"] is not None and p["sd"] <= 1e-9 * max(1.0, abs(p["mean"])):
            reasons[p["name"]] = f"always {format_number(p['mean'])}"
            continue
        for s in sites:
            if s["kind"] == p["kind"] and s["runs"] == p["runs"] and s["mean"] == p["mean"] and s["sd"] == p["sd"] \
                    and s.get("bars") == p.get("bars"):
                reasons[p["name"]] = f"the same as {s['name']}"
                break
    return reasons


def shown_panels(state):
    """Panels drawn one by one: ungrouped sites and informative return values, at most FIGURE_PANELS."""
    skip = left_out_returns(state)
    chosen = [p for p in state["panels"] if not p.get("group") and p["name"] not in skip
              and p["kind"] in ("bars", "hist")]
    return chosen[:FIGURE_PANELS]


def _rows(panel, counts=None):
    """(x label or bin start, bin end, height, weight) per bar: heights are probability or density.

    ``counts`` replaces the panel's own (the prior's unweighted counts, on the same bars or bins)."""
    if panel["kind"] == "bars":
        counts = [b["count"] for b in panel["bars"]] if counts is None else counts
        total = sum(counts) or 1.0
        return [(b["label"], None, c / total, c) for b, c in zip(panel["bars"], counts, strict=True)]
    edges, counts = panel["edges"], panel["counts"] if counts is None else counts
    total = sum(counts) or 1.0
    return [(a, b, c / total / (b - a), c) for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]


# ---- Vega-Lite ------------------------------------------------------------------------------------
def _panel_spec(panel, state):
    rows = _rows(panel)
    name = panel["name"]
    sub = [panel_runs(panel, state)]
    if panel.get("mean") is not None:
        sub.append(mean_text(panel, state))
    subtitle = "  ·  ".join(sub)
    if prior_text(panel):
        subtitle = [subtitle, prior_text(panel)]  # a second line: one line would not fit the panel
    common = {
        "title": {"text": panel_title(panel), "subtitle": subtitle},
        "width": PANEL_WIDTH, "height": PANEL_HEIGHT,
    }
    shows = [("posterior", rows)]
    if panel.get("prior") is not None:
        shows.append(("prior", _rows(panel, panel["prior"])))
    if panel["kind"] == "bars":
        values = [{"label": x, "p": round(h, 6), "count": w, "shows": what,
                   "about": f"{name} = {x}: {_prefix(what)}probability {format_number(round(h, 4))}, "
                            f"count {format_number(w)}"}
                  for what, rs in shows for x, _, h, w in rs]
        mark = "bar"
        encoding = {
            "x": {"field": "label", "type": "ordinal", "sort": None, "title": name,
                  "axis": {"labelAngle": 0, "labelOverlap": "greedy", "labelLimit": 80}},
            "y": {"field": "p", "type": "quantitative", "title": "probability"},
            "description": {"field": "about"}}
    else:
        values = [{"lo": a, "hi": b, "density": h, "count": w, "shows": what,
                   "about": f"{name} in [{format_number(a)}, {format_number(b)}): {_prefix(what)}density "
                            f"{format_number(h)}, count {format_number(w)}"}
                  for what, rs in shows for a, b, h, w in rs]
        mark = "rect"
        encoding = {
            "x": {"field": "lo", "type": "quantitative", "title": name,
                  "scale": {"zero": False, "domain": [panel["edges"][0], panel["edges"][-1]], "nice": False}},
            "x2": {"field": "hi"},
            "y": {"field": "density", "type": "quantitative", "title": "density"},
            "y2": {"datum": 0},
            "description": {"field": "about"}}
    if len(shows) == 1:
        return {**common, "data": {"values": values}, "mark": {"type": mark, "tooltip": True}, "encoding": encoding}
    # Posterior filled, prior outlined on top of it: one colour each, one legend for the figure.
    colour = {"field": "shows", "type": "nominal", "title": None,
              "scale": {"domain": SHOWS, "range": [POSTERIOR_COLOUR, PRIOR_COLOUR]},
              "legend": {"orient": "top", "labelFontSize": FONT}}  # at the right it would fall off a narrow output
    layers = [
        {"transform": [{"filter": "datum.shows === 'posterior'"}], "mark": {"type": mark, "tooltip": True},
         "encoding": {**encoding, "color": colour}},
        {"transform": [{"filter": "datum.shows === 'prior'"}],
         "mark": {"type": mark, "tooltip": True, "filled": False, "strokeWidth": 2},
         "encoding": {**encoding, "color": colour}},
    ]
    return {**common, "data": {"values": values}, "layer": layers}


def _prefix(what):
    # A mark's description names the distribution only for the prior drawn beside a posterior: the
    # panel's own marks read as they do without it ("x = 1: probability 0.3, count 1500").
    return "prior " if what == "prior" else ""


def _group_spec(group, state):
    """One panel for a family of sites (``x_{i}``): in how many runs each member appeared."""
    values = [{"site": m, "index": i, "share": r / max(state["runs"], 1), "runs": r,
               "about": f"{m}: in {r} of {state['runs']} runs"}
              for i, (m, r) in enumerate(zip(group["members"], group["runs"], strict=True))]
    return {
        "title": {"text": f"{group['pattern']}: {len(values)} sites",
                  "subtitle": "share of runs that made each site"},
        "width": PANEL_WIDTH, "height": PANEL_HEIGHT,
        "data": {"values": values}, "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "site", "type": "ordinal", "sort": None, "title": "site",
                  "axis": {"labelAngle": -45, "labelOverlap": "greedy", "labelLimit": 60}},
            "y": {"field": "share", "type": "quantitative", "title": "share of runs"},
            "description": {"field": "about"}},
    }


def vegalite_spec(state, title=None):
    """The figure as a Vega-Lite v5 spec: one panel per site (a group of sites: one panel), a title."""
    panels = [_panel_spec(p, state) for p in shown_panels(state)]
    panels += [_group_spec(g, state) for g in state["groups"]]
    if running_estimate.has_curve(state.get("estimate")):  # beside the panels: how the estimate settled
        panels.insert(0, running_estimate.vegalite_panel(state["estimate"], PANEL_WIDTH, PANEL_HEIGHT))
    notes = [f"return left out: {why}" for why in left_out_returns(state).values()]
    if state.get("dropped"):
        notes.append(f"{state['dropped']} more sites not shown")
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": {"text": figure_title(state, title),
                  "subtitle": "; ".join(notes) if notes else "", "anchor": "start"},
        "concat": panels or [{"mark": {"type": "text", "style": "guide-label"}, "data": {"values": [{"t": "no sites to draw"}]},
                              "encoding": {"text": {"field": "t"}}}],
        "columns": 3,
        "config": {
            "axis": {"labelFontSize": FONT, "titleFontSize": 12, "grid": False, "tickCount": 5},
            "title": {"fontSize": 13, "subtitleFontSize": FONT, "subtitlePadding": 4},
            "view": {"stroke": None},
            "concat": {"spacing": 24},
        },
        "usermeta": {"embedOptions": {"renderer": "svg", "actions": False}},
    }
    return spec


# ---- PNG (matplotlib) ----------------------------------------------------------------------------
def figure_png(state, title=None, dpi=100):
    """PNG bytes of the same panels (nbconvert and GitHub show this one)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = shown_panels(state)
    groups = state["groups"]
    estimate = state.get("estimate") if running_estimate.has_curve(state.get("estimate")) else None
    first = 1 if estimate else 0  # the running estimate, when there is one, comes first
    count = first + len(panels) + len(groups)
    cols = min(3, max(1, count))
    rows = max(1, -(-count // cols))
    points = FONT * 72 / dpi + 1  # >= 11 px at this dpi
    with_prior = any(p.get("prior") is not None for p in panels)
    fig = Figure(figsize=(3.4 * cols, (3.0 if with_prior else 2.7) * rows + 0.5), dpi=dpi)
    FigureCanvasAgg(fig)
    if not count:
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "no sites to draw", ha="center", va="center", fontsize=points)
    if estimate:
        running_estimate.draw_panel(fig.add_subplot(rows, cols, 1), estimate, points)
    for i, p in enumerate(panels):
        _draw_panel(fig.add_subplot(rows, cols, first + i + 1), p, state, points)
    for j, g in enumerate(groups):
        ax = fig.add_subplot(rows, cols, first + len(panels) + j + 1)
        shares = [r / max(state["runs"], 1) for r in g["runs"]]
        ax.bar(range(len(shares)), shares, color="#4c78a8")
        step = max(1, len(shares) // 8)
        ax.set_xticks(range(0, len(shares), step))
        ax.set_xticklabels(g["members"][::step], rotation=45, ha="right", fontsize=points)
        ax.set_ylabel("share of runs", fontsize=points)
        ax.set_title(f"{g['pattern']}: {len(shares)} sites", fontsize=points + 1)
        ax.tick_params(labelsize=points)
    fig.suptitle(figure_title(state, title), fontsize=points + 2, x=0.01, ha="left")
    if with_prior:
        from matplotlib.patches import Patch

        # Under the title, at its left: a long title leaves no room beside it.
        top = 1 - 0.4 / fig.get_figheight()
        fig.legend(handles=[Patch(color=POSTERIOR_COLOUR, label="posterior"),
                            Patch(fill=False, edgecolor=PRIOR_COLOUR, linewidth=2, label="prior")],
                   loc="upper left", bbox_to_anchor=(0.0, top), fontsize=points, frameon=False, ncols=2)
        fig.tight_layout(rect=(0, 0, 1, top - 0.25 / fig.get_figheight()))
    else:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _draw_panel(ax, p, state, points):
    rows = _rows(p)
    prior = _rows(p, p["prior"]) if p.get("prior") is not None else None
    if p["kind"] == "bars":
        labels = [r[0] for r in rows]
        ax.bar(range(len(rows)), [r[2] for r in rows], color=POSTERIOR_COLOUR)
        if prior is not None:
            ax.bar(range(len(prior)), [r[2] for r in prior], fill=False, edgecolor=PRIOR_COLOUR, linewidth=2)
        step = max(1, -(-len(labels) // 12))
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels([t if len(t) <= 8 else t[:7] + "…" for t in labels[::step]], fontsize=points)
        ax.set_ylabel("probability", fontsize=points)
    else:
        ax.bar([r[0] for r in rows], [r[2] for r in rows], width=[r[1] - r[0] for r in rows], align="edge",
               color=POSTERIOR_COLOUR)
        if prior is not None:
            ax.stairs([r[2] for r in prior], p["edges"], color=PRIOR_COLOUR, linewidth=2)
        ax.set_xlim(p["edges"][0], p["edges"][-1])
        ax.set_ylabel("density", fontsize=points)
    ax.set_xlabel(p["name"], fontsize=points)
    lines = [panel_title(p), f"{panel_runs(p, state)}  {mean_text(p, state)}"] + ([prior_text(p)] if prior_text(p) else [])
    ax.set_title("\n".join(lines), fontsize=points, loc="left")
    ax.tick_params(labelsize=points)
    ax.spines[["top", "right"]].set_visible(False)


# ---- text ------------------------------------------------------------------------------------------
def summary_text(state, title, status):
    """One line per panel: runs, mean ± standard error, sd, the most likely values (discrete) or the range."""
    lines = [f"{figure_title(state, title)} ({status})"]
    width = max([len(p["name"]) for p in state["panels"]] + [8])
    grouped = {g["pattern"]: g for g in state["groups"]}
    skip = left_out_returns(state)
    seen_groups = set()
    for p in state["panels"]:
        g = p.get("group")
        if g is not None:
            if g in seen_groups:
                continue
            seen_groups.add(g)
            info = grouped[g]
            runs = ", ".join(f"{n}: {r}" for n, r in list(zip(info["members"], info["runs"], strict=True))[:8])
            more = ", …" if len(info["members"]) > 8 else ""
            lines.append(f"  {g:<{width}} {len(info['members'])} sites, runs per site: {runs}{more}")
            continue
        if p["name"] in skip:
            lines.append(f"  {p['name']:<{width}} left out: {skip[p['name']]}")
            continue
        parts = [f"  {p['name']:<{width}} {p['runs']} runs"]
        if p["mean"] is not None:
            parts.append(mean_text(p, state))
            if prior_text(p):
                parts.append(f"({prior_text(p)})")
        if p["kind"] == "bars":
            total = sum(b["count"] for b in p["bars"]) or 1.0
            top = sorted(p["bars"], key=lambda b: -b["count"])[:4]
            parts.append(", ".join(f"{b['label']}: {format_number(round(b['count'] / total, 4))}" for b in top))
            if p.get("prior") is not None and p["mean"] is None:  # no prior mean to say: the prior's values
                runs = sum(p["prior"]) or 1
                prior = dict(zip((b["label"] for b in p["bars"]), p["prior"], strict=True))
                parts.append("(prior " + ", ".join(f"{b['label']}: {format_number(round(prior[b['label']] / runs, 4))}"
                                                   for b in top) + ")")
        elif p["kind"] == "hist":
            parts.append(f"range [{format_number(p['edges'][0])}, {format_number(p['edges'][-1])}]")
        elif p["note"]:
            parts.append(p["note"])
        lines.append("  ".join(parts))
    if state.get("dropped"):
        lines.append(f"  ({state['dropped']} more sites not shown)")
    if running_estimate.has_curve(state.get("estimate")):
        lines.append("  " + running_estimate.summary_line(state["estimate"]))
    return "\n".join(lines)


def static_bundle(state, title, status, extra=""):
    """The mimebundle a notebook keeps: Vega-Lite (drawn as SVG: the spec's ``usermeta`` says so), PNG, text."""
    text = summary_text(state, title, status) + (f"\n{extra}" if extra else "")
    return {
        VEGALITE: vegalite_spec(state, title),
        "image/png": base64.b64encode(figure_png(state, title)).decode("ascii"),
        "text/plain": text,
    }
