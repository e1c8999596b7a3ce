"""Methods side by side: one site (or the return value) from several inference results in one figure.

:func:`compare` takes the marginal of the same site from each result and draws them on shared
axes: per value for discrete sites (one bar per method), on one grid of round bins for continuous
ones (one line per method), each estimate with its standard-error bar, and the exact answer, when
given, as a line. Beside the plot, a table of the numbers: runs, effective sample size, mean ±
standard error, and the probability of each value.

Standard errors come from the effective sample size (Kish's, of the normalized weights): a
probability ``p`` estimated from ``ESS`` samples has standard error ``sqrt(p (1 - p) / ESS)``, a mean
``sd / sqrt(ESS)``. An enumeration is exact (no error). For an MH chain the ESS ignores
autocorrelation, so its bars are too narrow; the table says so.

In a notebook it is two outputs: the figure, as Vega-Lite (JupyterLab and Notebook 7 draw it with no
kernel, in their light and dark themes) with a PNG and text beside it, then the table, as HTML
whose text takes the theme's colour (Vega-Lite fills text marks black whatever the theme, 1.7:1 on
JupyterLab's dark background; an HTML table inherits the page's text colour, live, reopened and
exported alike).

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import Enumerate, Importance
>>> def coin():
...     return pyro.sample("heads", dist.Bernoulli(0.3))
>>> pyro.set_rng_seed(0)
>>> comparison = compare(Enumerate(coin).run(), Importance(coin, num_samples=400).run(), site="heads")
>>> [row["method"] for row in comparison.rows]
['Enumerate', 'Importance']
>>> round(comparison.rows[0]["P"][1], 6), comparison.rows[0]["se"][1]
(0.3, 0.0)
"""

import base64
import html
import io
import math

import torch

from .histogram_data import format_number
from .histogram_figure import FONT, VEGALITE

COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2", "#9d755d", "#72b7b2", "#ff9da6"]
EXACT = "exact"
MAX_VALUES = 24  # more distinct values than this (or continuous values): binned
BINS = 24
CHAIN_NOTE = "(chain): an MCMC chain's ESS here ignores autocorrelation, so its errors are too small"


def compare(*results, site=None, exact=None, names=None, bins=BINS):
    """Draw ``site`` (None: the return value) of each inference result in one figure, with a table.

    ``results`` are posteriors (what ``Enumerate(...).run()``, ``Importance``, ``MH``... return) or
    ``EmpiricalMarginal`` objects. ``exact`` is the true answer, drawn as a line: a distribution
    (``dist.Beta(3, 9)``), a ``{value: probability}`` dict, an exact posterior, or a number (the
    exact mean). ``names`` label the results (default: the algorithm's name). Returns a
    :class:`Comparison`, which displays itself in a notebook.
    """
    if not results:
        raise ValueError("compare(): give at least one inference result, e.g. compare(Importance(model).run(), site='x').")
    if names is None:
        names = _default_names(results)
    elif len(names) != len(results):
        raise ValueError(f"compare(): {len(results)} results but {len(names)} names; give one name per result.")
    estimates = [_Estimate(name, result, site) for name, result in zip(names, results, strict=True)]
    reference = None if exact is None else _Reference(exact, site)
    return Comparison(estimates, reference, site, bins)


class Comparison:
    """The figure and the numbers of :func:`compare`.

    ``rows`` has one dict per result (and one for the exact answer): ``method``, ``runs``, ``ess``,
    ``mean``, ``mean_se`` and, per value (discrete) or bin (continuous), ``P`` and its ``se``.
    """

    def __init__(self, estimates, reference, site, bins):
        self.site = site
        self.label = "return value" if site is None else site
        self.estimates = estimates
        self.reference = reference
        values = [v for e in estimates for v in e.distinct()]
        if reference is not None:
            values += reference.distinct()
        # Per value: whole numbers and words, and a few numbers with fractional parts when they are a discrete
        # distribution's (an enumeration's paths, or values that samples repeat: a Choice of 0.1, 0.3, ...).
        # Binned: values that hardly repeat, as a continuous site's samples.
        repeated = all(e.exact or e.runs >= 2 * len(e.distinct()) for e in estimates)
        self.discrete = len(set(values)) <= MAX_VALUES and (all(not isinstance(v, float) for v in values) or repeated)
        if self.discrete:
            self.keys = _sorted_values(values)
        else:
            self.edges = _round_edges(estimates, reference, bins)
            self.keys = [f"[{format_number(a)}, {format_number(b)})" for a, b in zip(self.edges[:-1], self.edges[1:], strict=True)]
        self.rows = [self._row(e) for e in estimates]
        if reference is not None:
            self.rows.append(self._reference_row())

    def _row(self, estimate):
        probs = estimate.probabilities(self.keys if self.discrete else None, None if self.discrete else self.edges)
        ess = estimate.ess
        se = {k: 0.0 if estimate.exact else math.sqrt(max(p * (1 - p), 0.0) / ess) for k, p in zip(self.keys, probs, strict=True)}
        mean, sd = estimate.moments()
        return {
            "method": estimate.name, "runs": estimate.runs, "ess": None if estimate.exact else ess,
            "exact": estimate.exact, "chain": estimate.chain,
            "mean": mean, "mean_se": None if mean is None else 0.0 if estimate.exact else sd / math.sqrt(ess),
            "P": dict(zip(self.keys, probs, strict=True)), "se": se,
        }

    def _reference_row(self):
        ref = self.reference
        probs = ref.probabilities(self.keys if self.discrete else None, None if self.discrete else self.edges)
        return {"method": EXACT, "runs": None, "ess": None, "exact": True, "chain": False, "mean": ref.mean,
                "mean_se": 0.0 if ref.mean is not None else None,
                "P": None if probs is None else dict(zip(self.keys, probs, strict=True)),
                "se": None if probs is None else {k: 0.0 for k in self.keys}}

    # ---- pictures ----------------------------------------------------------------------------------
    @property
    def title(self):
        methods = [e.name for e in self.estimates]
        return f"{self.label}: {', '.join(methods)}" + (" and the exact answer" if self.reference is not None else "")

    def vegalite(self):
        """The figure as a Vega-Lite v5 spec (the table of numbers is its own output: :meth:`table_html`)."""
        methods = [e.name for e in self.estimates] + ([EXACT] if self.reference is not None else [])
        colour = {"field": "method", "type": "nominal", "title": None,
                  "scale": {"domain": methods, "range": self._colours(methods)},
                  "legend": {"orient": "top", "labelFontSize": FONT + 1}}
        plot = self._discrete_plot(colour) if self.discrete else self._continuous_plot(colour)
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": {"text": self.title, "subtitle": "error bars: ± 1 standard error (from the effective sample size)",
                      "anchor": "start"},
            **plot,
            "config": {"axis": {"labelFontSize": FONT, "titleFontSize": 12, "grid": False, "tickCount": 6},
                       "title": {"fontSize": 13, "subtitleFontSize": FONT}, "view": {"stroke": None}},
            "usermeta": {"embedOptions": {"renderer": "svg", "actions": False}},
        }

    def _colours(self, methods):
        """One colour per method, the exact answer grey."""
        estimated = [m for m in methods if m != EXACT]
        return COLOURS[: len(estimated)] + (["#888888"] if EXACT in methods else [])

    def _estimate_points(self):
        points = []
        for row in self.rows:
            if row["P"] is None:
                continue
            for i, key in enumerate(self.keys):
                p, se = row["P"][key], row["se"][key]
                height = p if self.discrete else p / (self.edges[i + 1] - self.edges[i])
                scale = 1.0 if self.discrete else 1.0 / (self.edges[i + 1] - self.edges[i])
                points.append({
                    "method": row["method"], "value": key, "order": i, "height": height,
                    "lo": max(height - se * scale, 0.0), "hi": height + se * scale,
                    "x": None if self.discrete else (self.edges[i] + self.edges[i + 1]) / 2,
                    "about": f"{row['method']}: {self.label} {'=' if self.discrete else 'in'} {key}: "
                             f"{format_number(round(p, 4))} ± {se:.2g}",
                })
        return points

    def _discrete_plot(self, colour):
        points = self._estimate_points()
        x = {"field": "value", "type": "ordinal", "sort": self.keys, "title": self.label, "axis": {"labelAngle": 0}}
        offset = {"field": "method", "type": "nominal", "sort": colour["scale"]["domain"]}
        return {
            "width": max(260, 28 * len(self.keys) * len(self.rows)), "height": 220,
            "data": {"values": points},
            "encoding": {"x": x, "xOffset": offset},
            "layer": [
                {"mark": {"type": "bar", "tooltip": True},
                 "encoding": {"y": {"field": "height", "type": "quantitative", "title": "probability"},
                              "color": colour, "description": {"field": "about"}}},
                {"mark": {"type": "rule", "color": "#7f7f7f", "strokeWidth": 2},  # mid grey: seen on bars, light and dark
                 "transform": [{"filter": "datum.hi > datum.lo"}],
                 "encoding": {"y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"}}},
            ],
        }

    def _continuous_plot(self, colour):
        points = [p for p in self._estimate_points() if p["method"] != EXACT]
        layers = [
            {"data": {"values": points}, "mark": {"type": "line", "interpolate": "step-after", "point": True,
                                                   "tooltip": True},
             "encoding": {"x": {"field": "x", "type": "quantitative", "title": self.label,
                                "scale": {"domain": [self.edges[0], self.edges[-1]], "nice": False, "zero": False}},
                          "y": {"field": "height", "type": "quantitative", "title": "density"},
                          "color": colour, "description": {"field": "about"}}},
            {"data": {"values": points}, "mark": {"type": "rule", "strokeWidth": 1.2},
             "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "lo", "type": "quantitative"},
                          "y2": {"field": "hi"}, "color": colour}},
        ]
        ref = self.reference
        if ref is not None and ref.curve(self.edges) is not None:
            curve = [{"method": EXACT, "x": x, "height": d} for x, d in ref.curve(self.edges)]
            layers.append({"data": {"values": curve}, "mark": {"type": "line", "strokeWidth": 2.5, "strokeDash": [6, 3]},
                           "encoding": {"x": {"field": "x", "type": "quantitative"},
                                        "y": {"field": "height", "type": "quantitative"}, "color": colour}})
        elif ref is not None and ref.mean is not None:
            layers.append({"data": {"values": [{"method": EXACT, "x": ref.mean}]},
                           "mark": {"type": "rule", "strokeWidth": 2.5, "strokeDash": [6, 3]},
                           "encoding": {"x": {"field": "x", "type": "quantitative"}, "color": colour}})
        return {"width": 340, "height": 220, "layer": layers}

    def table_html(self):
        """The numbers as an HTML table: text in the theme's colour (inherited, no colour of its own), each
        method's colour as a square before its name (coloured text would fall below WCAG AA contrast for the
        lighter colours on white). Inline styles only: a reopened, untrusted notebook keeps them."""
        columns, cells = self.table()
        colours = dict(zip([r["method"] for r in self.rows], self._colours([r["method"] for r in self.rows]),
                           strict=True))
        cell = "padding: 2px 14px 2px 0; text-align: left"
        head = "".join(f'<th style="{cell}; font-weight: bold">{html.escape(c)}</th>' for c in columns)
        body = []
        for row in cells:
            square = (f'<span style="display: inline-block; width: 0.75em; height: 0.75em; margin-right: 0.4em; '
                      f'background-color: {colours[row[0]]}"></span>')
            tds = [f'<td style="{cell}; white-space: nowrap">{square}{html.escape(row[0])}</td>']
            tds += [f'<td style="{cell}; font-variant-numeric: tabular-nums">{html.escape(c)}</td>' for c in row[1:]]
            body.append(f"<tr>{''.join(tds)}</tr>")
        note = ""
        if any(r["chain"] for r in self.rows):
            note = (f'<div class="ppl-compare-note" style="opacity: 0.78; margin-top: 2px">{html.escape(CHAIN_NOTE)}'
                    "</div>")
        return (f'<div class="ppl-compare-table" style="font-size: 13px; line-height: 1.4">'
                f'<table style="border-collapse: collapse; margin: 0"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>{note}</div>')

    def table(self):
        """``(columns, rows)`` of strings: the numbers the figure shows (what the text view prints)."""
        top = self.keys[:6] if self.discrete else []
        columns = ["method", "runs", "ESS"] + (["mean ± se"] if any(r["mean"] is not None for r in self.rows) else [])
        columns += [f"P({k})" for k in top]
        rows = []
        for row in self.rows:
            cells = [row["method"], "" if row["runs"] is None else str(row["runs"]),
                     "exact" if row["exact"] else f"{format_number(round(row['ess']))}" + (" (chain)" if row["chain"] else "")]
            if "mean ± se" in columns:
                cells.append("" if row["mean"] is None else _with_error(row["mean"], row["mean_se"]))
            for k in top:
                cells.append("" if row["P"] is None else _with_error(row["P"][k], row["se"][k]))
            rows.append(cells)
        return columns, rows

    def text(self):
        columns, rows = self.table()
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
        lines = [self.title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        if any(r["chain"] for r in self.rows):
            lines.append(CHAIN_NOTE)
        return "\n".join(lines)

    def png(self, dpi=100):
        """PNG bytes of the plot (what nbconvert and GitHub show in place of the Vega-Lite figure)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        points = FONT * 72 / dpi + 1
        fig = Figure(figsize=(6, 3.6), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes([0.12, 0.16, 0.84, 0.68])
        colours = dict(zip([e.name for e in self.estimates], COLOURS, strict=False))
        estimates = [r for r in self.rows if r["method"] != EXACT]
        if self.discrete:
            width = 0.8 / max(len(self.rows), 1)
            for j, row in enumerate(r for r in self.rows if r["P"] is not None):
                xs = [i + (j - (len(self.rows) - 1) / 2) * width for i in range(len(self.keys))]
                heights = [row["P"][k] for k in self.keys]
                errors = [row["se"][k] for k in self.keys]
                ax.bar(xs, heights, width=width, color=colours.get(row["method"], "#888888"), label=row["method"],
                       yerr=errors, ecolor="#333333", capsize=2)
            ax.set_xticks(range(len(self.keys)))
            ax.set_xticklabels([str(k) for k in self.keys], fontsize=points)
            ax.set_ylabel("probability", fontsize=points)
        else:
            centres = [(a + b) / 2 for a, b in zip(self.edges[:-1], self.edges[1:], strict=True)]
            widths = [b - a for a, b in zip(self.edges[:-1], self.edges[1:], strict=True)]
            for row in estimates:
                heights = [row["P"][k] / w for k, w in zip(self.keys, widths, strict=True)]
                errors = [row["se"][k] / w for k, w in zip(self.keys, widths, strict=True)]
                ax.errorbar(centres, heights, yerr=errors, color=colours[row["method"]], label=row["method"],
                            drawstyle="steps-mid", marker=".", capsize=2)
            ref = self.reference
            curve = None if ref is None else ref.curve(self.edges)
            if curve:
                ax.plot([x for x, _ in curve], [d for _, d in curve], "--", color="#888888", lw=2, label=EXACT)
            elif ref is not None and ref.mean is not None:
                ax.axvline(ref.mean, ls="--", color="#888888", lw=2, label=EXACT)
            ax.set_xlim(self.edges[0], self.edges[-1])
            ax.set_ylabel("density", fontsize=points)
        ax.set_xlabel(self.label, fontsize=points)
        ax.tick_params(labelsize=points)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=points, frameon=False)
        fig.suptitle(self.title, fontsize=points + 2, x=0.01, ha="left")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    def figure_bundle(self):
        """The figure's output: Vega-Lite, its PNG, and the numbers as text."""
        return {VEGALITE: self.vegalite(), "image/png": base64.b64encode(self.png()).decode("ascii"),
                "text/plain": self.text()}

    def table_bundle(self):
        """The table's output: HTML in the theme's text colour, and the numbers as text."""
        return {"text/html": self.table_html(), "text/plain": self.text()}

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.figure_bundle()

    def _ipython_display_(self):
        # Two outputs: a front end draws one representation of each, and Vega-Lite ranks above HTML.
        from IPython.display import display

        figure = self.figure_bundle()
        figure["text/plain"] = self.title
        display(figure, raw=True)
        display(self.table_bundle(), raw=True)

    def __repr__(self):
        return self.text()


class _Estimate:
    """One inference result's marginal of the site: weighted values and their effective sample size."""

    def __init__(self, name, result, site):
        from ppl_kernel.infer import EmpiricalMarginal

        marginal = result if isinstance(result, EmpiricalMarginal) else EmpiricalMarginal(result, sites=site)
        posterior = marginal.posterior
        self.name = name
        self.runs = len(marginal.values)
        if not self.runs:
            raise ValueError(f"compare(): {name} has no runs of {_what(site)}; run it first (.run()).")
        self.exact = _is_exact(posterior)
        self.chain = type(posterior).__name__ in ("MH", "MCMC", "HMC", "NUTS")
        self.weights = marginal.weights.double().cpu()
        self.ess = float(marginal.effective_sample_size())
        self.values = _scalar_values(marginal, name, site)

    def distinct(self):
        return list(dict.fromkeys(self.values))

    def probabilities(self, keys, edges):
        if keys is not None:
            mass = {}
            for v, w in zip(self.values, self.weights.tolist(), strict=True):
                mass[v] = mass.get(v, 0.0) + w
            return [mass.get(k, 0.0) for k in keys]
        x = torch.tensor(self.values, dtype=torch.float64)
        which = torch.bucketize(x, torch.tensor(edges[1:-1], dtype=torch.float64), right=True)
        return torch.zeros(len(edges) - 1, dtype=torch.float64).index_add_(0, which, self.weights).tolist()

    def moments(self):
        if not all(isinstance(v, (int, float)) for v in self.values):
            return None, None
        x = torch.tensor(self.values, dtype=torch.float64)
        mean = float((self.weights * x).sum())
        sd = math.sqrt(max(float((self.weights * (x - mean) ** 2).sum()), 0.0))
        return mean, sd


class _Reference:
    """The exact answer: a distribution, a {value: probability} dict, an exact posterior, or a mean."""

    def __init__(self, exact, site):
        self.distribution = None
        self.masses = None
        self.mean = None
        if isinstance(exact, torch.distributions.Distribution) and not _is_marginal(exact):
            self.distribution = exact
            if exact.has_enumerate_support:
                support = exact.enumerate_support(expand=False).reshape(-1)
                probs = exact.log_prob(support.reshape((-1,) + (1,) * len(exact.batch_shape))).exp().reshape(-1)
                self.masses = {_plain(v): float(p) for v, p in zip(support.tolist(), probs.tolist(), strict=True)}
            try:
                self.mean = float(exact.mean)
            except (NotImplementedError, TypeError, ValueError):
                self.mean = None
        elif isinstance(exact, dict):
            self.masses = {_plain(k): float(p) for k, p in exact.items()}
        elif isinstance(exact, (int, float)) or (torch.is_tensor(exact) and exact.numel() == 1):
            self.mean = float(exact)
        else:
            estimate = _Estimate(EXACT, exact, site)
            self.masses = {}
            for v, w in zip(estimate.values, estimate.weights.tolist(), strict=True):
                self.masses[v] = self.masses.get(v, 0.0) + w
        if self.masses is not None and self.mean is None and all(isinstance(k, (int, float)) for k in self.masses):
            self.mean = math.fsum(k * p for k, p in self.masses.items())

    def distinct(self):
        return list(self.masses) if self.masses is not None else []

    def probabilities(self, keys, edges):
        if keys is not None and self.masses is not None:
            return [self.masses.get(k, 0.0) for k in keys]
        if edges is not None and self.distribution is not None and self.masses is None:
            try:
                values = self.distribution.cdf(torch.tensor(edges, dtype=torch.get_default_dtype())).tolist()
                return [b - a for a, b in zip(values[:-1], values[1:], strict=True)]
            except (NotImplementedError, TypeError, ValueError):  # no cdf (a Beta): integrate the density
                return [_integral(self.distribution, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        if edges is not None and self.masses is not None:
            return [math.fsum(p for k, p in self.masses.items() if a <= k < b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return None

    def curve(self, edges, points=161):
        """(x, density) pairs of a continuous exact distribution over the plotted range, None otherwise."""
        if self.distribution is None or self.masses is not None:
            return None
        grid = torch.linspace(edges[0], edges[-1], points)
        inside = self.distribution.support.check(grid)
        grid = grid[inside]
        density = self.distribution.log_prob(grid).exp()
        return [(float(x), float(d)) for x, d in zip(grid, density, strict=True) if math.isfinite(float(d))]


def _integral(distribution, a, b, points=65):
    """The probability of [a, b) under a continuous distribution, by Simpson's rule on its density."""
    x = torch.linspace(a, b, points, dtype=torch.float64)
    inside = distribution.support.check(x.to(torch.get_default_dtype()))
    density = torch.zeros_like(x)
    density[inside] = distribution.log_prob(x[inside].to(torch.get_default_dtype())).exp().double()
    density = torch.nan_to_num(density, posinf=0.0)
    weights = torch.ones(points, dtype=torch.float64)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return float((weights * density).sum() * (b - a) / (3 * (points - 1)))


def _is_exact(posterior):
    return type(posterior).__name__ in ("Enumerate", "Search") and not getattr(posterior, "partial", False)


def _is_marginal(value):
    from ppl_kernel.infer import EmpiricalMarginal

    return isinstance(value, EmpiricalMarginal)


def _default_names(results):
    names = []
    for result in results:
        posterior = result.posterior if _is_marginal(result) else result
        names.append(type(posterior).__name__)
    counts = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    seen = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if counts[n] == 1 else f"{n} {seen[n]}")
    return out


def _scalar_values(marginal, name, site):
    """Each run's value as a Python number or string (one-element tensors unwrapped)."""
    values = []
    for v in marginal.values:
        if torch.is_tensor(v):
            if v.numel() != 1:
                raise ValueError(
                    f"compare(): {_what(site)} of {name} has values of shape {tuple(v.shape)}; compare one number: "
                    f"record the element you want with pyro.deterministic('{site or 'value'}_0', value[0]) and compare that site."
                )
            v = v.item()
        values.append(_plain(v))
    return values


def _plain(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v) if abs(v) < 2**53 else v
    return v


def _sorted_values(values):
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct)
    except TypeError:
        return distinct


def _round_edges(estimates, reference, bins):
    """Shared bins of a round width (1, 2 or 5 times a power of ten) over every method's values."""
    xs = [v for e in estimates for v in e.values]
    lo, hi = min(xs), max(xs)
    if reference is not None and reference.distribution is not None and reference.masses is None:
        support = reference.distribution.support
        lo = max(lo, getattr(support, "lower_bound", lo)) if isinstance(getattr(support, "lower_bound", None), (int, float)) else lo
        hi = min(hi, getattr(support, "upper_bound", hi)) if isinstance(getattr(support, "upper_bound", None), (int, float)) else hi
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / bins
    power = 10 ** math.floor(math.log10(raw))
    width = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(lo / width) * width
    count = max(1, math.ceil((hi - start) / width - 1e-9))
    if start + count * width <= hi:
        count += 1
    return [round(start + i * width, 12) for i in range(count + 1)]


def _with_error(value, se):
    if se is None or se == 0:
        return format_number(round(value, 4))
    return f"{format_number(round(value, 4))} ± {se:.2g}"


def _what(site):
    return "the return value" if site is None else f"site '{site}'"
