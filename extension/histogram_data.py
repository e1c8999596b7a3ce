"""Counts behind the histogram panels: one panel per named site, one for the return value.

:class:`HistogramData` takes traces (with a weight each, 1 while sampling live) and keeps, per
panel, the values seen so far; :meth:`HistogramData.state` turns them into what the widget draws
(bars of frequencies for discrete values, equal-width bins for continuous ones, count, mean, sd)
and what the static picture and the text summary are made from. It never holds images: an
update is a few hundred numbers, whatever the number of samples.

A value becomes panel data as follows: a one-element tensor or a Python number, bool or short
string is one value; a tensor of up to ``SMALL_TENSOR`` elements (and a short tuple, such as
weather's ``('sunny', 71.3)``) is split into one panel per element (``temp[0]``, ``return[1]``);
anything bigger is counted but not drawn. Observed sites (the data) and ``param`` sites are left out.

Continuous panels are binned on a fixed grid of round numbers (``k * width``, ``width`` 1, 2 or 5
times a power of ten) chosen from the first values: later frames only add bins at the ends as the
range grows, or merge neighbouring pairs when there are too many, so bars never jump between frames.
The grid stays inside the distribution's support (a Beta's bins end at 0 and 1).

Prior beside posterior: when the caller knows that the runs were drawn from the prior and weighted by
the evidence (``HistogramData(unweighted_is_prior=True)``, as live sampling of a conditioned model
does), each panel of a weighted state also carries ``prior``: the same runs counted without their
weights, on the same bars or bins (and ``prior_mean``, ``prior_sd``), so the figure overlays the
two and the effect of the data shows at a glance.

Sites that appear only in some runs (``x_0, x_1, ...`` of a recursion) carry ``runs``, the number
of runs that made them; names that differ only in their numbers form a group (``x_{i}``) once
there are ``GROUP_MIN`` of them, which the widget pages through.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel import poutine
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> data = HistogramData()
>>> for _ in range(10):
...     data.add(poutine.trace(coin).get_trace())
>>> panel = data.state()["panels"][0]
>>> panel["name"], panel["runs"], sum(b["count"] for b in panel["bars"])
('c', 10, 10.0)
"""

import math
import re

import numpy as np
import torch
from ppl_kernel.number_format import format_number  # the core's one rule for how a number reads

SMALL_TENSOR = 8
SHORT_STRING = 40
MAX_BARS = 40  # more distinct numbers than this: drawn as a histogram
MAX_CATEGORIES = 24  # more distinct strings than this: the rest go into "other"
BINS = 30
GROUP_MIN = 4
MAX_PANELS = 150  # sites beyond this are counted in their group but get no panel of their own
RETURN_PANEL = "return"

_DIGITS = re.compile(r"\d+")


def name_pattern(name):
    """``x_12`` -> ``x_{i}``: the name with its numbers replaced, or None if it has none."""
    if not _DIGITS.search(name):
        return None
    return _DIGITS.sub("{i}", name)


class Panel:
    """The values one site (or one element of one) took, with their weights."""

    __slots__ = ("name", "discrete_hint", "new_values", "new_weights", "array", "weights", "bars",
                 "strings", "runs", "weight_total", "integral", "note", "is_return", "is_bool", "dist",
                 "support", "width", "bins", "binned", "lo", "hi", "prior_bars", "prior_strings")

    def __init__(self, name, discrete_hint=None, is_return=False, dist="", support=(None, None)):
        self.name = name
        self.discrete_hint = discrete_hint  # True / False from the distribution's support; None: decide from data
        self.dist = dist  # the distribution's family ("Normal"), "" when not known
        self.support = support  # (low, high) bounds of the support, None where unbounded or unknown
        self.width = None  # bin width of a continuous panel, fixed at its first frame (may double later)
        # Summed weight per grid bin k ([k * width, (k + 1) * width)), of the first ``binned`` values: each
        # frame bins only the values that came since the last one.
        self.bins = {}
        self.binned = 0
        self.lo, self.hi = math.inf, -math.inf  # the finite values' range
        self.new_values = []
        self.new_weights = []
        self.array = np.empty(0)
        self.weights = np.empty(0)
        self.bars = {}  # value -> summed weight while the values still look discrete
        self.prior_bars = {}  # value -> number of runs (the weights left out), beside bars
        self.strings = None  # value -> summed weight for non-numeric values
        self.prior_strings = None  # value -> number of runs
        self.runs = 0
        self.weight_total = 0.0
        self.integral = True
        self.note = ""
        self.is_return = is_return
        self.is_bool = False

    def add_numbers(self, values, weights, is_bool=False):
        """Add numbers (a float array, or a list of Python numbers) with their weights."""
        self.runs += len(values)
        self.weight_total += float(sum(weights)) if not isinstance(weights, np.ndarray) else float(weights.sum())
        self.is_bool = self.is_bool or is_bool
        self.new_values.append(np.asarray(values, dtype=float))
        self.new_weights.append(np.asarray(weights, dtype=float))

    def add_strings(self, values, weights):
        self.runs += len(values)
        if self.strings is None:
            self.strings, self.prior_strings = {}, {}
        strings, prior = self.strings, self.prior_strings
        for v, w in zip(values, weights, strict=True):
            strings[v] = strings.get(v, 0.0) + w
            prior[v] = prior.get(v, 0) + 1
        self.weight_total += float(sum(weights))

    def mark(self, count, weight, note):
        """Counted but not drawn (a big tensor, an object)."""
        self.runs += count
        self.weight_total += weight
        self.note = note

    def _absorb(self):
        # Move the values added since the last update into the arrays (and the bar counts).
        if not self.new_values:
            return
        chunk = np.concatenate(self.new_values)
        wchunk = np.concatenate(self.new_weights)
        self.new_values, self.new_weights = [], []
        self.array = np.concatenate([self.array, chunk])
        self.weights = np.concatenate([self.weights, wchunk])
        if self.discrete_hint is False:
            self.integral = False
            return
        if self.integral and not np.all(np.isfinite(chunk) & (chunk == np.round(chunk))) and not self.discrete_hint:
            self.integral = False
        if self.bars is not None and (self.integral or self.discrete_hint):
            keys, inverse = np.unique(chunk, return_inverse=True)
            sums = np.bincount(inverse, weights=wchunk, minlength=len(keys))
            runs = np.bincount(inverse, minlength=len(keys))
            for k, s, r in zip(keys.tolist(), sums.tolist(), runs.tolist(), strict=True):
                self.bars[k] = self.bars.get(k, 0.0) + s
                self.prior_bars[k] = self.prior_bars.get(k, 0) + r
            if len(self.bars) > MAX_BARS:
                self.bars = self.prior_bars = None
        else:
            self.bars = self.prior_bars = None

    def state(self, total_runs, total_weight, with_prior=False):
        """The panel as the widget draws it; ``with_prior``: with the unweighted counts beside (``prior``)."""
        self._absorb()
        out = {
            "name": self.name,
            "runs": self.runs,
            "of_runs": total_runs,
            "weight": self.weight_total,
            "share": self.weight_total / total_weight if total_weight > 0 else 0.0,
            "group": None,
            "note": self.note,
            "mean": None,
            "sd": None,
            "dist": self.dist,
            "kind": "none",
            "bars": [],
            "edges": [],
            "counts": [],
            "prior": None,
            "prior_mean": None,
            "prior_sd": None,
        }
        if self.strings is not None:
            out["kind"] = "bars"
            out["bars"] = _string_bars(self.strings, self.array, self.weights)
            if with_prior:  # on the posterior's bars; "(other)" holds the runs of every label not shown
                counts = dict(self.prior_strings)
                for v in self.array.tolist():
                    counts[format_number(v)] = counts.get(format_number(v), 0) + 1
                shown = [counts.get(bar["label"], 0) if bar["label"] != "(other)" else None for bar in out["bars"]]
                rest = self.runs - sum(c for c in shown if c is not None)
                out["prior"] = [rest if c is None else c for c in shown]
            return out
        n = len(self.array)
        if n == 0:
            return out
        w = self.weights
        wsum = float(w.sum())
        if wsum > 0:
            out["mean"], out["sd"] = _mean_sd(self.array, w)
        if with_prior:
            out["prior_mean"], out["prior_sd"] = _mean_sd(self.array, np.ones(n))
        if self.bars is not None and (self.integral or self.discrete_hint):
            out["kind"] = "bars"
            labels = (lambda k: str(bool(k))) if self.is_bool else format_number
            keys = sorted(self.bars)
            out["bars"] = [{"label": labels(k), "value": k, "count": self.bars[k]} for k in keys]
            if with_prior:
                out["prior"] = [self.prior_bars[k] for k in keys]
            return out
        edges, counts = self._histogram()
        out["kind"] = "hist"
        out["edges"] = edges.tolist()
        out["counts"] = counts
        if with_prior:  # the same bins, each run counted once
            ok = np.isfinite(self.array)
            out["prior"] = np.histogram(self.array[ok], bins=np.asarray(edges))[0].tolist()
        return out

    def _histogram(self):
        """Bin edges on the panel's fixed grid ``k * width``, covering every value, inside the support, and
        the summed weight in each bin. Only the values added since the last frame are binned."""
        new, weights = self.array[self.binned:], self.weights[self.binned:]
        self.binned = len(self.array)
        ok = np.isfinite(new)
        new, weights = new[ok], weights[ok]
        if len(new):
            self.lo, self.hi = min(self.lo, float(new.min())), max(self.hi, float(new.max()))
        lo, hi = (self.lo, self.hi) if self.lo <= self.hi else (0.0, 1.0)
        if self.width is None:
            self.width = nice_step((hi - lo) / BINS if hi > lo else max(abs(lo), 1.0) / 10)
        while (math.floor(hi / self.width) - math.floor(lo / self.width) + 1) > 2 * BINS:
            self.width *= 2  # merge neighbouring pairs: every old edge on the even grid stays an edge
            merged = {}
            for k, c in self.bins.items():
                merged[k // 2] = merged.get(k // 2, 0.0) + c
            self.bins = merged
        if len(new):
            keys, inverse = np.unique(np.floor(new / self.width).astype(np.int64), return_inverse=True)
            sums = np.bincount(inverse, weights=weights, minlength=len(keys))
            for k, c in zip(keys.tolist(), sums.tolist(), strict=True):
                self.bins[k] = self.bins.get(k, 0.0) + c
        first, last = math.floor(lo / self.width), math.floor(hi / self.width) + 1
        counts = [self.bins.get(k, 0.0) for k in range(first, last)]
        edges = np.array([float(f"{k * self.width:.12g}") for k in range(first, last + 1)])
        # The support's bounds (taken from the first run) cut the outer bins, unless a later run's
        # parameters moved them and values lie beyond (then the grid is kept whole).
        low, high = self.support
        if low is not None and low <= lo and edges[0] < low < edges[1]:
            edges[0] = low
        if high is not None and high >= hi and edges[-2] < high < edges[-1]:
            edges[-1] = high
        return edges, counts


def _mean_sd(values, weights):
    wsum = float(weights.sum())
    mean = float((weights * values).sum() / wsum)
    var = float((weights * (values - mean) ** 2).sum() / wsum)
    return mean, math.sqrt(max(var, 0.0))


def _string_bars(strings, numbers, weights):
    items = dict(strings)
    for v, w in zip(numbers.tolist(), weights.tolist(), strict=True):  # a panel mixing strings and numbers
        key = format_number(v)
        items[key] = items.get(key, 0.0) + w
    ordered = sorted(items.items(), key=lambda kv: -kv[1])
    if len(ordered) > MAX_CATEGORIES:
        rest = sum(c for _, c in ordered[MAX_CATEGORIES - 1:])
        ordered = ordered[: MAX_CATEGORIES - 1] + [("(other)", rest)]
    return [{"label": k, "value": None, "count": c} for k, c in ordered]


def _drop_none(values, weights):
    if any(v is None for v in values):
        pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None]
        return [v for v, _ in pairs], [w for _, w in pairs]
    return values, weights


def nice_step(raw):
    """The smallest round width (1, 2 or 5 times a power of ten) at least ``raw``.

    >>> nice_step(0.037), nice_step(3.2), nice_step(10.0)
    (0.05, 5.0, 10.0)
    """
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= raw * (1 - 1e-9):
            return float(f"{m * power:.12g}")
    return 10.0 * power


def _support_bounds(fn):
    """(low, high) of a distribution's support, None for an unbounded or unknown side."""
    try:
        support = fn.support
    except Exception:  # a distribution whose support depends on parameters that fail to build
        return None, None
    bounds = []
    for attr in ("lower_bound", "upper_bound"):
        b = getattr(support, attr, None)
        bounds.append(float(b) if isinstance(b, (int, float)) or (torch.is_tensor(b) and b.numel() == 1) else None)
    if getattr(support, "is_discrete", False):
        return None, None  # discrete sites are drawn as bars; their bounds are not bin edges
    return bounds[0], bounds[1]


def _support_is_discrete(fn):
    """True/False from a distribution's support, None when it cannot be told."""
    try:
        support = fn.support
        return bool(getattr(support, "is_discrete", False))
    except Exception:  # a distribution whose support depends on parameters that fail to build
        return None


class HistogramData:
    """Per-site and return-value panels, filled from traces.

    ``add(trace, weight=1.0)`` takes one run and only files its raw values (a few list appends:
    it runs once per sample); ``state()`` converts what came in since the last call in batches
    (tensors stacked, strings counted) and returns the dict the widget and the static picture are
    drawn from: ``runs`` (runs added), ``panels`` (in order of first appearance, the return value
    last) and ``groups`` (name patterns with their members and how often each appeared).
    """

    def __init__(self, show_return=True, distribution=None, unweighted_is_prior=False):
        self.panels = {}
        self.return_panels = {}
        self.show_return = show_return
        # "prior" or "posterior" when the caller knows (an MH chain is a posterior with equal weights);
        # None: a posterior if the runs are weighted, else the model's own (prior) distribution.
        self.distribution = distribution
        # True when the runs were drawn from the prior and weighted by the evidence: counted without
        # their weights they show the prior, which a weighted state then carries beside the posterior.
        self.unweighted_is_prior = unweighted_is_prior
        self.observed = {}  # names of the observed sites, in order of first appearance
        self.runs = 0
        self.weight_total = 0.0
        self.weight_squares = 0.0  # for the effective sample size (sum w)^2 / sum w^2
        self.weighted = False
        self.dropped = set()  # site names beyond MAX_PANELS
        self.dropped_runs = {}
        self._raw = {}  # site name -> [values, weights, first site] since the last state()
        self._skip = set()  # names of observed and param sites

    def add(self, trace, weight=1.0):
        self._count([weight])
        for name, site in trace.nodes.items():
            entry = self._raw.get(name) or self._entry(name, site.kind, site)
            if entry is not None:
                entry[0].append(site.value)
                entry[1].append(weight)

    def add_runs(self, store, start, stop, weights=None):
        """Add runs ``start .. stop - 1`` of a posterior's store (:class:`ppl_kernel.infer.store.RunStore`),
        read from its columns; ``weights`` lists one weight per run (default 1)."""
        if stop <= start:
            return
        self._count([1.0] * (stop - start) if weights is None else weights)
        weight_array = None if weights is None else np.asarray(weights, dtype=float)
        for name, column in list(store.columns.items()):
            entry = self._raw.get(name) or self._entry(name, column.kind, column.site)
            if entry is None:
                continue
            # Numbers go to their panels as one array (a live view reads a few times a second: no tensor per
            # value); behind values still waiting in the raw entry, they wait too, so that order is kept.
            block = column.numbers_between(start, stop) if not entry[0] else None
            if block is not None:
                runs, numbers = block
                if len(runs):
                    w = np.ones(len(runs)) if weight_array is None else weight_array[runs.numpy() - start]
                    if name == "_RETURN":
                        self._tensor_column(RETURN_PANEL, numbers, w, None, self.return_panels)
                    else:
                        self._tensor_column(name, numbers, w, column.site, self.panels)
            else:
                runs, values = column.slice(start, stop)
                entry[0].extend(values)
                entry[1].extend([1.0] * len(runs) if weights is None else [weights[r - start] for r in runs])

    def _count(self, weights):
        w = np.asarray(weights, dtype=float)  # one array operation per batch of runs, not one per run
        self.runs += len(w)
        self.weight_total += float(w.sum())
        self.weight_squares += float((w * w).sum())
        if (w != 1.0).any():
            self.weighted = True

    def _entry(self, name, kind, site):
        """The raw entry a site name's values go to, created on first sight; None for names not drawn
        (observed sites -- remembered as the data the figure's title names --, params, a hidden return)."""
        if name in self._skip:
            return None
        if name == "_RETURN":
            if not self.show_return:
                return None
        elif kind not in ("latent", "auxiliary", "deterministic"):
            self._skip.add(name)
            if kind == "observed":
                self.observed[name] = None
            return None
        entry = self._raw[name] = ([], [], site)
        return entry

    def add_value(self, name, value, weight=1.0):
        """Add one value outside a trace (a marginal's value); short tuples split per element."""
        self.runs += 1
        self.weight_total += weight
        self.weight_squares += weight * weight
        entry = self._raw.get(("value", name))
        if entry is None:
            entry = self._raw[("value", name)] = ([], [], None)
        entry[0].append(value)
        entry[1].append(weight)

    # ---- batch conversion ---------------------------------------------------------------------------
    def _absorb(self):
        raw, self._raw = self._raw, {}
        for key, (values, weights, site) in raw.items():
            if key == "_RETURN":
                values, weights = _drop_none(values, weights)
                self._column(RETURN_PANEL, values, weights, None, self.return_panels, split_tuples=True)
            elif isinstance(key, tuple):
                self._column(key[1], values, weights, None, self.return_panels, split_tuples=True)
            else:
                self._column(key, values, weights, site, self.panels)

    def _column(self, name, values, weights, site, table, split_tuples=False):
        if not values:
            return
        first = values[0]
        if isinstance(first, torch.Tensor):
            if first.numel() == 1:
                try:  # one number per run (the common case): .item() is cheaper than stacking
                    numbers = [v.item() for v in values]
                except (RuntimeError, ValueError):  # some run made a bigger tensor
                    numbers = None
                if numbers is not None:
                    panel = self._panel(name, site, table, len(values))
                    if panel is not None:
                        panel.add_numbers(numbers, weights, is_bool=first.dtype == torch.bool)
                    return
            try:
                stacked = torch.stack(values).detach()
            except (RuntimeError, TypeError):  # shapes differ from run to run: one value at a time
                stacked = None
            if stacked is not None:
                self._tensor_column(name, stacked, weights, site, table)
                return
        elif type(first) is str and all(type(v) is str for v in values):
            panel = self._panel(name, site, table, len(values))
            if panel is not None:
                short = [v if len(v) <= SHORT_STRING else v[: SHORT_STRING - 1] + "…" for v in values]
                panel.add_strings(short, weights)
            return
        elif isinstance(first, (bool, int, float)) and all(isinstance(v, (bool, int, float)) for v in values):
            panel = self._panel(name, site, table, len(values))
            if panel is not None:
                panel.add_numbers(values, weights, is_bool=type(first) is bool)
            return
        elif split_tuples and isinstance(first, tuple) and 0 < len(first) <= 4 and all(
                isinstance(v, tuple) and len(v) == len(first) for v in values):
            for i, column in enumerate(zip(*values, strict=True)):
                self._column(f"{name}[{i}]", list(column), weights, site, table)
            return
        if len(values) > 1:  # mixed kinds: one value at a time
            for v, w in zip(values, weights, strict=True):
                self._column(name, [v], [w], site, table, split_tuples)
            return
        panel = self._panel(name, site, table)
        if panel is not None:
            panel.mark(1, weights[0], f"{type(first).__name__} values: not drawn")

    def _tensor_column(self, name, stacked, weights, site, table):
        n = stacked.shape[0]
        flat = stacked.reshape(n, -1)
        k = flat.shape[1]
        is_bool = flat.dtype == torch.bool
        numbers = flat.to(device="cpu", dtype=torch.float64).numpy()
        if k == 1:
            panel = self._panel(name, site, table, n)
            if panel is not None:
                panel.add_numbers(numbers[:, 0], weights, is_bool)
        elif 1 < k <= SMALL_TENSOR:
            for i in range(k):
                panel = self._panel(f"{name}[{i}]", site, table, n)
                if panel is not None:
                    panel.add_numbers(numbers[:, i], weights, is_bool)
        else:
            panel = self._panel(name, site, table, n)
            if panel is not None:
                panel.mark(n, float(sum(weights)), f"tensor of shape {tuple(stacked.shape[1:])}: not drawn")

    def _panel(self, name, site, table, count=1):
        panel = table.get(name)
        if panel is None:
            if len(self.panels) + len(self.return_panels) >= MAX_PANELS:
                self.dropped.add(name)
                self.dropped_runs[name] = self.dropped_runs.get(name, 0) + count
                return None
            fn = site.fn if site is not None else None
            hint = _support_is_discrete(fn) if fn is not None else None
            support = _support_bounds(fn) if fn is not None else (None, None)
            family = type(fn).__name__ if fn is not None and not name.endswith("]") else ""
            panel = table[name] = Panel(name, hint, table is self.return_panels, family, support)
        return panel

    def state(self):
        """Everything the widget, the picture and the summary need, as plain JSON-able data."""
        self._absorb()
        with_prior = self.unweighted_is_prior and self.weighted
        panels = [p.state(self.runs, self.weight_total, with_prior) for p in self.panels.values()]
        panels += [p.state(self.runs, self.weight_total, with_prior) for p in self.return_panels.values()]
        for p in panels:
            p["is_return"] = p["name"] in self.return_panels
        groups = self._groups(panels)
        return {
            "runs": self.runs,
            "weighted": self.weighted,
            "prior_beside": with_prior,
            "ess": self.ess(),
            "distribution": self.distribution or ("posterior" if self.weighted else "prior"),
            "observed": list(self.observed),
            "panels": panels,
            "groups": groups,
            "dropped": len(self.dropped),
        }

    def ess(self):
        """Effective sample size of the weighted runs, (sum w)^2 / sum w^2 (the run count when unweighted)."""
        if self.weight_squares <= 0:
            return 0.0
        return self.weight_total ** 2 / self.weight_squares

    def _groups(self, panels):
        members = {}
        for p in panels:
            if p["is_return"]:
                continue
            pattern = name_pattern(p["name"])
            if pattern is not None:
                members.setdefault(pattern, []).append(p)
        for name, runs in self.dropped_runs.items():
            pattern = name_pattern(name)
            if pattern is not None:
                members.setdefault(pattern, []).append({"name": name, "runs": runs})
        groups = []
        for pattern, ps in members.items():
            if len(ps) < GROUP_MIN:
                continue
            ps.sort(key=lambda p: [int(d) for d in _DIGITS.findall(p["name"])])
            for p in ps:
                p["group"] = pattern
            groups.append({
                "pattern": pattern,
                "members": [p["name"] for p in ps],
                "runs": [p["runs"] for p in ps],
            })
        return groups
