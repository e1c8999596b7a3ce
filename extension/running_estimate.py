"""The running estimate beside the live histograms: the posterior mean against the number of runs.

Watching an estimate settle is how one sees an inference converge. :class:`RunningEstimate` follows one
quantity of a run -- the mean of the return value, or of a site (for a 0/1 site, the probability that it
is 1) -- as the runs come in, weighted as the panels are, and keeps a point on a geometric grid of run
counts (``GRID`` apart), so that the curve has its early wobble and its late calm at any run length:

- the weighted mean ``sum w x / sum w`` over the runs so far that made the quantity;
- its standard error ``sd / sqrt(ESS)``, the effective sample size ``(sum w)^2 / sum w^2`` taking the
  place of the count for weighted runs (no band for an enumeration: its weights are exact probabilities);
- an exact value, when one is known (``exact=`` from the user, or the result of a complete enumeration),
  drawn as a line the curve should reach.

The sums are kept incrementally (a frame costs the runs that came since the last frame, never all of
them) and relative to the largest log-weight seen so far, so no weight overflows.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import Importance
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> pyro.set_rng_seed(0)
>>> posterior = Importance(coin, num_samples=400).run()
>>> estimate = RunningEstimate("c", exact=0.5)
>>> estimate.add_runs(posterior.store, 0, 400, posterior.log_weights)
>>> state = estimate.state()
>>> state["label"], state["points"][-1][0], abs(state["points"][-1][1] - 0.5) < 5 * state["points"][-1][2]
('P(c = 1)', 400, True)
"""

import math

import numpy as np
import torch

from .histogram_data import format_number

GRID = 1.1  # a point each time the run count grows by this factor (about 24 points per decade of runs)
MAX_POINTS = 400  # beyond this (ten decades of runs) every other point is dropped
RETURN = "_RETURN"


class RunningEstimate:
    """The weighted mean of one quantity over the runs so far, with its standard error, as a curve.

    ``site``: the site whose mean to follow; ``None`` picks the return value when it is a number (or a
    one-element tensor, or a bool), else the first latent site that is one. ``exact``: the true value,
    drawn as a line. ``sampled=False`` (an enumeration) draws no standard-error band.
    """

    def __init__(self, site=None, exact=None, sampled=True, correlated=False):
        self.site = site
        self.exact = None if exact is None else float(exact)
        self.exact_label = "exact" if exact is not None else ""
        self.sampled = sampled
        self.correlated = correlated  # the runs are the draws of a Markov chain: the band is too narrow
        self.label = ""
        self.points = []  # [runs, mean, standard error or None]
        self._column = None  # the store column followed, once chosen
        self._reference = None  # weights are exp(log-weight - reference), reference the largest seen
        self._shift = None  # sums are of (x - shift): no cancellation for values far from 0
        self._sw = self._sw2 = self._swx = self._swx2 = 0.0
        self._next_point = 1
        self._unusable = set()  # columns looked at and found not to be numbers

    # ---- adding runs -----------------------------------------------------------------------------------
    def add_runs(self, store, start, stop, log_weights):
        """Take runs ``start .. stop - 1`` of ``store`` (a :class:`~ppl_kernel.infer.store.RunStore`), whose
        log-weights are ``log_weights`` (one per run, in order: a list, an array or a tensor)."""
        if stop <= start:
            return
        column = self._choose(store)
        if column is None:
            return
        runs, x = _slice_numbers(column, start, stop)
        if x is None:  # a later run made something else (a string, a bigger tensor): stop following it
            self._unusable.add(self._column)
            self._column, self.points, self.label = None, [], ""
            self._sw = self._sw2 = self._swx = self._swx2 = 0.0
            self._shift, self._next_point = None, 1
            return
        if not len(runs):
            return
        if torch.is_tensor(log_weights):
            log_weights = log_weights.detach().to("cpu", torch.float64).numpy()
        lw = np.asarray(log_weights, dtype=float)[runs - start]
        finite = np.isfinite(lw)
        if finite.any():
            top = float(lw[finite].max())
            if self._reference is None:
                self._reference = top
            elif top > self._reference:  # rescale the sums to the new largest weight
                scale = math.exp(self._reference - top)
                self._sw, self._swx, self._swx2 = self._sw * scale, self._swx * scale, self._swx2 * scale
                self._sw2 *= scale * scale
                self._reference = top
        w = np.exp(np.where(finite, lw - (self._reference or 0.0), -np.inf))
        if self._shift is None:
            self._shift = float(x[0])
        x = x - self._shift
        # Cumulative sums over this chunk, offset by the sums so far: the estimate after every run in it.
        sw = self._sw + np.cumsum(w)
        sw2 = self._sw2 + np.cumsum(w * w)
        swx = self._swx + np.cumsum(w * x)
        swx2 = self._swx2 + np.cumsum(w * x * x)
        self._sw, self._sw2, self._swx, self._swx2 = float(sw[-1]), float(sw2[-1]), float(swx[-1]), float(swx2[-1])
        done = runs + 1  # runs done when each value came in
        for k in self._grid_picks(done):
            self._point(int(done[k]), sw[k], sw2[k], swx[k], swx2[k])

    def _grid_picks(self, runs):
        """Indices in this chunk where the run count reaches the next grid point, and its last index."""
        picks = []
        k = 0
        while k < len(runs):
            k = int(np.searchsorted(runs, self._next_point, side="left"))
            if k >= len(runs):
                break
            picks.append(k)
            self._next_point = max(self._next_point + 1, math.ceil(runs[k] * GRID))
            k += 1
        if not picks or picks[-1] != len(runs) - 1:
            picks.append(len(runs) - 1)
        return picks

    def _point(self, runs, sw, sw2, swx, swx2):
        if sw <= 0:
            return
        mean = swx / sw
        var = max(swx2 / sw - mean * mean, 0.0)
        # (sum w / sqrt(sum w^2))^2: the squares of tiny weights (runs far below the best so far) underflow first.
        ess = (sw / math.sqrt(sw2)) ** 2 if sw2 > 0 else 0.0
        se = math.sqrt(var / ess) if self.sampled and ess > 1 else None
        point = [int(runs), float(mean + self._shift), None if se is None else float(se)]
        if self.points and self.points[-1][0] == runs:
            self.points[-1] = point
        else:
            self.points.append(point)
        if len(self.points) > MAX_POINTS:
            self.points = self.points[:-1:2] + [self.points[-1]]

    def _choose(self, store):
        """The column followed: the one named, else the return value or the first latent number site."""
        if self._column is not None:
            return store.columns.get(self._column)
        names = [self.site] if self.site is not None else [RETURN] + [
            n for n, c in store.columns.items() if n != RETURN and c.kind == "latent"]
        for name in names:
            column = store.columns.get(name)
            if column is None or name in self._unusable or not len(column):
                continue
            first = column.value_at(column.rows[0] if len(column.rows) else column.blocks[0][0])
            if _numbers([first]) is None:
                self._unusable.add(name)
                continue
            self._column = name
            self.label = _label(name, column, first)
            return column
        return None

    # ---- reading ---------------------------------------------------------------------------------------
    def finish(self, exact=None):
        """The run has ended; ``exact`` (a complete enumeration's own result) becomes the exact line."""
        if exact is not None and self.exact is None:
            self.exact, self.exact_label = float(exact), "exact (enumerated)"

    @property
    def value(self):
        """The latest estimate, or None before any run made the quantity."""
        return self.points[-1][1] if self.points else None

    def state(self):
        """What the widget and the static picture draw (plain JSON-able data)."""
        return {
            "label": self.label,
            "site": self._column,
            "points": [list(p) for p in self.points],
            "exact": self.exact,
            "exact_label": self.exact_label,
            "band": self.sampled,
            "correlated": self.correlated,
        }


def _slice_numbers(column, start, stop):
    """``(runs, values)`` of the runs ``start <= run < stop`` that made ``column``, as numpy arrays, when
    each value is one number; ``(runs, None)`` when one is not. Numbers come out of the store as stored
    (:meth:`~ppl_kernel.infer.store.Column.numbers_between`), anything else one value at a time."""
    block = column.numbers_between(start, stop)
    if block is not None:
        runs, values = block
        if values.shape[1] != 1:
            return runs.numpy(), None
        return runs.numpy(), values[:, 0].numpy()
    runs, values = column.slice(start, stop)
    return np.asarray(runs, dtype=np.int64), _numbers(values)


def _numbers(values):
    """The values as a float array when each is one number (a Python number, a bool, a one-element tensor)."""
    if not values:
        return np.empty(0)
    first = values[0]
    if isinstance(first, torch.Tensor):
        if not all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in values):
            return None
        return torch.stack([v.reshape(()) for v in values]).detach().to("cpu", torch.float64).numpy()
    if all(isinstance(v, (bool, int, float)) for v in values):
        return np.asarray(values, dtype=float)
    return None


def _label(name, column, first):
    """``P(c = 1)`` for a 0/1 quantity (a Bernoulli or a bool), else ``mean of x`` (``mean of the return value``)."""
    what = "the return value" if name == RETURN else name
    fn = getattr(column.site, "fn", None) if column.site is not None else None
    binary = type(fn).__name__ == "Bernoulli" or (isinstance(first, torch.Tensor) and first.dtype == torch.bool) \
        or isinstance(first, bool)
    if binary:
        return f"P({what} is true)" if name == RETURN else f"P({name} = 1)"
    return f"mean of {what}"


# ---- the static picture ---------------------------------------------------------------------------------
def has_curve(estimate):
    return bool(estimate and estimate.get("points"))


def band_words(estimate):
    """What the shaded band is, in words (empty when there is none)."""
    if not estimate.get("band"):
        return ""
    words = "band: ± 1 standard error (from the effective sample size)"
    if estimate.get("correlated"):
        words += "; a chain's draws are correlated, so the true error is larger"
    return words


def summary_line(estimate):
    """``running estimate of P(c = 1): 0.4975 ± 0.025 after 400 runs (exact 0.5)``."""
    runs, mean, se = estimate["points"][-1]
    text = f"running estimate of {estimate['label']}: {format_number(mean)}"
    if se is not None:
        text += f" ± {se:.2g}"
    text += f" after {runs} runs"
    if estimate.get("exact") is not None:
        text += f" ({estimate['exact_label'] or 'exact'} {format_number(estimate['exact'])})"
    return text


def vegalite_panel(estimate, width, height):
    """A Vega-Lite layer: the estimate against the runs (log scale), its band, the exact value as a rule."""
    rows = [{"runs": n, "mean": m, "lo": m - se if se is not None else m, "hi": m + se if se is not None else m,
             "about": f"after {n} runs: {format_number(m)}" + (f" ± {se:.2g}" if se is not None else "")}
            for n, m, se in estimate["points"]]
    x = {"field": "runs", "type": "quantitative", "title": "runs (log scale)",
         "scale": {"type": "log"}, "axis": {"tickCount": 4}}
    layers = []
    if estimate.get("band"):
        layers.append({"mark": {"type": "area", "opacity": 0.3},
                       "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"}}})
    layers.append({"mark": {"type": "line", "tooltip": True},
                   "encoding": {"x": x, "y": {"field": "mean", "type": "quantitative", "title": estimate["label"],
                                              "scale": {"zero": False}},
                                "description": {"field": "about"}}})
    if estimate.get("exact") is not None:
        layers.append({"data": {"values": [{"exact": estimate["exact"]}]},
                       "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#e45756"},
                       "encoding": {"y": {"field": "exact", "type": "quantitative"}}})
    sub = [band_words(estimate)]
    if estimate.get("exact") is not None:
        sub.append(f"dashed: {estimate['exact_label'] or 'exact'} {format_number(estimate['exact'])}")
    return {"title": {"text": f"running estimate of {estimate['label']}", "subtitle": [s for s in sub if s] or ""},
            "width": width, "height": height, "data": {"values": rows}, "layer": layers}


def draw_panel(ax, estimate, points):
    """The same picture on a matplotlib axis (the PNG a notebook keeps)."""
    n = [p[0] for p in estimate["points"]]
    m = [p[1] for p in estimate["points"]]
    ax.plot(n, m, color="#4c78a8", linewidth=1.5)
    if estimate.get("band"):
        lo = [p[1] - (p[2] or 0.0) for p in estimate["points"]]
        hi = [p[1] + (p[2] or 0.0) for p in estimate["points"]]
        ax.fill_between(n, lo, hi, color="#4c78a8", alpha=0.3, linewidth=0)
    if estimate.get("exact") is not None:
        ax.axhline(estimate["exact"], color="#e45756", linestyle="--", linewidth=1.2,
                   label=f"{estimate['exact_label'] or 'exact'} {format_number(estimate['exact'])}")
        ax.legend(fontsize=points, frameon=False)
    if n and n[-1] > n[0]:
        ax.set_xscale("log")
    ax.set_xlabel("runs (log scale)", fontsize=points)
    ax.set_ylabel(estimate["label"], fontsize=points)
    ax.set_title(f"running estimate of {estimate['label']}", fontsize=points, loc="left")
    ax.tick_params(labelsize=points)
    ax.spines[["top", "right"]].set_visible(False)
