"""What a saved notebook keeps of a run: a PNG of the final histograms and a text summary.

Both are made once, when a run ends, from the same :meth:`HistogramData.state` the widget draws,
so a notebook opened without a kernel, its nbconvert HTML and a terminal IPython all show the
result. Matplotlib is used through ``Figure`` + the Agg canvas directly: no pyplot state, no
interference with the user's backend.

>>> state = {"runs": 2, "weighted": False, "groups": [], "dropped": 0, "panels": [
...     {"name": "c", "runs": 2, "kind": "bars", "mean": 0.5, "sd": 0.5, "group": None, "note": "",
...      "bars": [{"label": "0", "value": 0.0, "count": 1.0}, {"label": "1", "value": 1.0, "count": 1.0}]}]}
>>> print(summary_text(state, "coin", "done"))
coin: 2 runs (done)
  c        2 runs  mean 0.5  sd 0.5  0: 0.5, 1: 0.5
>>> figure_png(state).startswith(b"\\x89PNG")
True
"""

import io

from .histogram_data import format_number

FIGURE_PANELS = 12  # the static picture shows at most this many panels (groups: their first members)


def _shown_panels(state):
    panels = state["panels"]
    chosen = [p for p in panels if not p.get("group")]
    for g in state["groups"]:
        members = [p for p in panels if p.get("group") == g["pattern"]]
        chosen.extend(members[:4])
    return [p for p in chosen if p["kind"] in ("bars", "hist")][:FIGURE_PANELS]


def figure_png(state, title=None, dpi=80):
    """PNG bytes of the final histograms (bars: frequencies; continuous: density-shaped bins)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _shown_panels(state)
    cols = min(4, max(1, len(panels)))
    rows = max(1, -(-len(panels) // cols))
    fig = Figure(figsize=(3.0 * cols, 2.3 * rows + (0.3 if title else 0)), dpi=dpi)
    FigureCanvasAgg(fig)
    if not panels:
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "no sites to draw", ha="center", va="center")
    for i, p in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        _draw_panel(ax, p, state["runs"])
    if title:
        fig.suptitle(f"{title}: {state['runs']} runs", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _draw_panel(ax, p, total_runs):
    if p["kind"] == "bars":
        counts = [b["count"] for b in p["bars"]]
        total = sum(counts) or 1.0
        labels = [b["label"] for b in p["bars"]]
        ax.bar(range(len(counts)), [c / total for c in counts], color="#4c78a8")
        if len(labels) <= 12:
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels([t if len(t) <= 8 else t[:7] + "…" for t in labels], fontsize=7)
        ax.set_ylabel("frequency", fontsize=7)
    else:
        edges, counts = p["edges"], p["counts"]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color="#72b7b2")
    head = p["name"] if p["runs"] >= total_runs else f"{p['name']} ({p['runs']} of {total_runs} runs)"
    ax.set_title(head, fontsize=9, family="monospace")
    ax.tick_params(labelsize=7)
    if p["mean"] is not None:
        ax.text(0.98, 0.95, f"mean {format_number(p['mean'])}\nsd {format_number(p['sd'])}",
                transform=ax.transAxes, ha="right", va="top", fontsize=7)


def summary_text(state, title, status):
    """One line per panel: runs, mean, sd and the most frequent values (discrete) or the range."""
    lines = [f"{title}: {state['runs']} runs ({status})"]
    width = max([len(p["name"]) for p in state["panels"]] + [8])
    grouped = {g["pattern"]: g for g in state["groups"]}
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
        parts = [f"  {p['name']:<{width}} {p['runs']} runs"]
        if p["mean"] is not None:
            parts.append(f"mean {format_number(p['mean'])}  sd {format_number(p['sd'])}")
        if p["kind"] == "bars":
            total = sum(b["count"] for b in p["bars"]) or 1.0
            top = sorted(p["bars"], key=lambda b: -b["count"])[:4]
            parts.append(", ".join(f"{b['label']}: {format_number(round(b['count'] / total, 4))}" for b in top))
        elif p["kind"] == "hist":
            parts.append(f"range [{format_number(p['edges'][0])}, {format_number(p['edges'][-1])}]")
        elif p["note"]:
            parts.append(p["note"])
        lines.append("  ".join(parts))
    if state.get("dropped"):
        lines.append(f"  ({state['dropped']} more sites not shown)")
    return "\n".join(lines)


def static_bundle(state, title, status, extra=""):
    """The mimebundle kept in the notebook: PNG plus the text summary (also the terminal's view)."""
    import base64

    text = summary_text(state, title, status) + (f"\n{extra}" if extra else "")
    return {"image/png": base64.b64encode(figure_png(state, title)).decode("ascii"), "text/plain": text}
