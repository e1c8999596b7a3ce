"""Weighted traces and the marginals read from them.

Every inference algorithm here (``Importance``, ``Enumerate``, ``MH``, ``Rejection``) is a
:class:`TracePosterior`: ``.run(*args)`` collects traces of the model with a log-weight each, and
:class:`EmpiricalMarginal` turns them into a distribution over the return value or over named sites.
The notebook layer builds one from runs it made itself::

    posterior = TracePosterior(model)
    posterior.add(trace)                  # weight 1 (log-weight 0)
    EmpiricalMarginal(posterior, "x").mean

Progress: an inference object takes ``progress=callback``; it is called as
``callback(posterior, done, total)`` at the start (``done == 0``), at most about four times a
second while running (:class:`~ppl_kernel.infer.throttle.Throttle`: the first call at once, slower when
the callback itself is slow), and once at the end. ``done`` counts model runs (MH steps including warmup,
importance samples, rejection tries, enumerated paths); ``total`` is how many are planned, or
``None`` when that is not known in advance (enumeration, rejection); ``posterior.running`` is False
only in the final call. The callback may stop the run
by raising ``KeyboardInterrupt`` or by calling ``posterior.stop()``: the run ends, keeps what it
collected, and sets ``posterior.partial = True``. When the model raises, the final call still comes,
with ``posterior.error`` set to the exception, before it propagates.

A ``KeyboardInterrupt`` that lands inside a weakref callback or a ``__del__`` (Python can only print
those, as "Exception ignored") is caught by :mod:`~ppl_kernel.infer.interrupts` and raised at the run's
next step, so that a kernel interrupt always stops the run.
"""

import gc
import math
from collections.abc import Sequence
from typing import ClassVar

import torch

from .. import poutine
from ..runtime import Site, isolated_run
from ..trace import RETURN, Trace
from .interrupts import raise_caught_interrupt, watching_interrupts
from .store import LogJoints, RunStore
from .throttle import Throttle

_GC_EVERY = 2000  # progress reports (model runs, or batched steps) between collections of the young generations


class TracePosterior:
    """The runs of a model with a log-weight each; the base of the inference algorithms.

    The runs are kept in :attr:`store`, a :class:`~ppl_kernel.infer.store.RunStore` of columns (site
    values, log-weights, chain ids): that is what marginals and live views read, and it costs tens of
    bytes per scalar site, not a trace object per run. ``traces`` still gives each run as a
    :class:`~ppl_kernel.trace.Trace`: the first ``keep_traces`` runs as they were recorded, later ones
    rebuilt on demand by replaying the model with the stored values. ``log_weights`` and ``chain_ids``
    (which chain made each run; 0 except for multi-chain MH) are lists parallel to ``traces``.
    ``partial`` is True when the last run was stopped early (``KeyboardInterrupt`` or :meth:`stop`).

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> from ppl_kernel.infer import TracePosterior, EmpiricalMarginal
    >>> def coin():
    ...     return pyro.sample("c", dist.Bernoulli(0.5))
    >>> post = TracePosterior(coin)
    >>> for value in (1.0, 1.0, 0.0):
    ...     post.add(poutine.trace(poutine.condition(coin, data={"c": value})).get_trace())
    >>> round(EmpiricalMarginal(post).mean.item(), 4)
    0.6667
    """

    keep_traces = 100  # runs kept as full traces; the rest live in the store's columns only
    _reports = 0  # progress reports since the last garbage collection of the young generations (see run)

    def __init__(self, model=None, progress=None, num_chains=1):
        if model is not None or "model" not in self.__dict__:  # Pyro's subclasses set self.model first
            self.model = model
        self.num_chains = num_chains
        self.progress = progress
        self._args, self._kwargs = (), {}
        self._reset()

    def _reset(self):
        self.store = RunStore()
        self._kept = {}  # run index -> Trace, for the first keep_traces runs
        self._log_joints = LogJoints()  # run index -> log p(x, data), where the algorithm knew it
        self.batched_trace = None
        self.partial = False
        self.error = None
        self._stop_requested = False

    # ---- the runs ----------------------------------------------------------------------------------
    def __len__(self):
        return self.store.num_runs

    @property
    def traces(self):
        """The runs as :class:`~ppl_kernel.trace.Trace` objects (a sequence; see the class docstring)."""
        return _Traces(self)

    # Pyro's name for the traces.
    @property
    def exec_traces(self):
        return self.traces

    @property
    def log_weights(self):
        """The log-weights as a list of Python floats, parallel to ``traces``."""
        return self.store.log_weight_list()

    @property
    def chain_ids(self):
        return self.store.chain_id_list()

    def add(self, trace, log_weight=0.0, chain_id=0, log_joint=None):
        """Add one run from its trace, with its log-weight (0.0 means weight 1): one atomic step."""
        values, sites = {}, {}
        for name, site in trace.nodes.items():
            if site.type == "sample" or name == RETURN:
                values[name] = site.value
                sites[name] = site
        keep = self.store.num_runs < self.keep_traces or self.model is None  # nothing to replay without a model
        self.add_values(values, sites, log_weight, chain_id, log_joint, trace if keep else None)

    def add_values(self, values, sites, log_weight=0.0, chain_id=0, log_joint=None, trace=None):
        """:meth:`add` for a run already read into ``values`` and ``sites`` (name -> value, name -> site; the
        sample sites and the return value), with its ``trace`` where it is to be kept (see ``keep_traces``).

        A chain that stays in its state adds that state's run again: it reads the run once, not once per step."""
        run = self.store.num_runs
        self.store.add(values, float(log_weight), chain_id, sites)
        if trace is not None:
            self._kept[run] = trace
        if log_joint is not None:
            self._log_joints[run] = float(log_joint)

    def add_last_again(self, trace=None, times=1):
        """Add the last run again, ``times`` times (an MCMC chain that stayed in its state), with its ``trace``
        for the runs among the first ``keep_traces`` (see ``keep_traces``)."""
        run = self.store.num_runs
        self.store.add_last_again(times)
        if trace is not None:
            for r in range(run, min(run + times, self.keep_traces)):
                self._kept[r] = trace
        self._log_joints.repeat(run, times)

    def add_batched(self, trace, log_weights, chain_ids=0):
        """Add the runs of one batched execution (a :class:`~ppl_kernel.vectorize.BatchedTrace`), with one chain id
        for all or a tensor of one per run."""
        values = {name: site.value for name, site in trace.nodes.items()
                  if (site.type == "sample" or name == RETURN) and isinstance(site.value, torch.Tensor)}
        self.batched_trace, self._batched_first = trace, self.store.num_runs
        self.store.add_block(values, log_weights, chain_ids, sites=dict(trace.nodes))

    def add_runs(self, store, chain_offset=0, log_joints=None):
        """Add the runs of a :class:`~ppl_kernel.infer.store.RunStore` made elsewhere (a chunk of this run, in a
        worker), after the runs held; chain ids shift by ``chain_offset``, ``log_joints`` maps the store's run
        indices to log p(x, data) where known. The runs' traces are rebuilt by replay when read."""
        first = self.store.num_runs
        self.store.extend(store, chain_offset)
        for run, log_joint in (log_joints or {}).items():
            self._log_joints[first + run] = log_joint

    def clear_runs(self):
        """Forget the runs held (before runs made elsewhere are added again, in another order)."""
        self.store = RunStore()
        self._kept, self._log_joints = {}, LogJoints()
        self.batched_trace = None

    def stop(self):
        """Ask a running ``.run`` to stop after the current model run (safe from another thread)."""
        self._stop_requested = True

    def trace_of_run(self, index, calls=False):
        """Run ``index`` as a Trace: as recorded when it was kept, else the model replayed with its values."""
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"run {index} out of range: this posterior holds {n} runs")
        if not calls and i in self._kept:
            return self._kept[i]
        if not calls and self.batched_trace is not None and i >= self._batched_first:
            return self.batched_trace.run(i - self._batched_first)
        if self.model is None:
            raise TypeError("trace_of_run needs the model: build the posterior as TracePosterior(model).")
        stored = Trace()
        for name, value in self.store.values_of_run(i).items():
            if name != RETURN:
                first = self.store.column(name).site
                stored.nodes[name] = Site("sample", name, None, (), {}, value, infer=dict(first.infer) if first else None)
        return poutine.trace(poutine.replay(self.model, trace=stored), calls=calls).get_trace(*self._args, **self._kwargs)

    # ---- running ---------------------------------------------------------------------------------
    def run(self, *args, **kwargs):
        """Collect weighted runs of ``model(*args, **kwargs)``; returns self.

        A ``KeyboardInterrupt`` (Ctrl-C, the notebook's stop button, or raised by the progress
        callback) ends the run early: what was collected so far is kept and ``partial`` is True.
        """
        if self.model is None:
            raise TypeError(
                "TracePosterior.run: this posterior has no model to run. Build it with a model "
                "(TracePosterior(model)) and add traces with .add(trace), or use an algorithm that runs "
                "the model itself: Importance(model, num_samples=N).run(), Enumerate(model).run(), "
                "MH(model, num_samples=N).run()."
            )
        self._reset()
        self.running = True  # False again before the final progress call, so a display can finish
        self._args, self._kwargs = args, kwargs
        self.progress_throttle = Throttle()  # the one rule for how often a live view redraws
        self._done = self._reports = 0
        self._total = self._planned_runs()
        # The store keeps few objects, but each run still makes short-lived cycles (frames, traces);
        # collecting the young generations every _GC_EVERY reports is cheaper than the collector's own pace.
        # Reports, not runs: a batched step of 1000 chains reports 1000 runs but makes one run's garbage.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with watching_interrupts():
                self._report(0, force=True)
                with isolated_run():  # inference inside a model is invisible to the outer one
                    done = self._run(args, kwargs)
        except KeyboardInterrupt:
            self.partial = True
            done = self._done
        except Exception as e:  # the model failed: the runs so far are kept, and a live view says why
            self.partial, self.error = True, e
            done = self._done
        finally:
            if gc_was_enabled:
                gc.enable()
        self.running = False
        try:
            self._report(done, force=True)  # the final call, so that a progress bar ends full
        except KeyboardInterrupt:
            pass  # the run is over; a stop asked for now has nothing left to stop
        if self.error is not None:
            raise self.error
        return self

    def _run(self, args, kwargs):
        if type(self)._traces is not TracePosterior._traces:
            return self._run_traces(args, kwargs)
        raise TypeError(
            f"{type(self).__name__} collects traces you add with .add(trace); it has no algorithm to run. "
            "Use Importance, Enumerate, MH or Rejection to run a model."
        )

    def _traces(self, *args, **kwargs):
        """Pyro's hook for a subclass: yield ``(trace, log_weight)`` for each run of ``self.model``; ``run``
        collects them. Pyro's RSA tutorials write their ``Search`` this way.

        >>> import queue, ppl_kernel as pyro, ppl_kernel.distributions as dist
        >>> from ppl_kernel import poutine
        >>> from ppl_kernel.infer import EmpiricalMarginal, TracePosterior
        >>> class Search(TracePosterior):
        ...     def __init__(self, model):
        ...         self.model = model
        ...         super().__init__()
        ...     def _traces(self, *args):
        ...         q = queue.Queue()
        ...         q.put(poutine.Trace())
        ...         run = poutine.trace(poutine.queue(self.model, queue=q))
        ...         while not q.empty():
        ...             tr = run.get_trace(*args)
        ...             yield tr, tr.log_prob_sum()
        >>> def coin(p):
        ...     return pyro.sample("c", dist.Bernoulli(p))
        >>> round(EmpiricalMarginal(Search(coin).run(0.3)).mean.item(), 4)
        0.3
        """
        raise NotImplementedError

    def _run_traces(self, args, kwargs):
        done = 0
        for trace, log_weight in self._traces(*args, **kwargs):
            self.add(trace, float(log_weight))
            self._kept[done] = trace  # the runs came from the subclass's own handlers: keep them as made
            done += 1
            self._report(done)
        return done

    _done = 0
    _total = None
    running = False

    def _planned_runs(self):
        """How many model runs ``run`` will make, for the progress callback (None: not known ahead)."""
        return None

    def _report(self, done, force=False):
        """Tell the progress callback how far the run is (throttled); honour stop()."""
        self._done = done
        self._reports += 1
        if self._reports >= _GC_EVERY:
            self._reports = 0
            gc.collect(1)
        if self._stop_requested:
            self._stop_requested = False
            raise KeyboardInterrupt
        raise_caught_interrupt()
        if self.progress is None:
            return
        if force or self.progress_throttle.ready():
            self.progress_throttle.call(self.progress, self, done, self._total, scheduled=not force)

    # ---- reading ---------------------------------------------------------------------------------
    def marginal(self, sites=None):
        """The :class:`EmpiricalMarginal` of the return value (``sites=None``) or of the named site(s)."""
        return EmpiricalMarginal(self, sites)

    def log_weights_tensor(self):
        return self.store.log_weight_tensor()

    def get_normalized_weights(self, log_scale=False):
        """The weights of the runs, normalized to sum to 1 (Pyro's name)."""
        weights = NormalizedWeights(self.store.log_weight_tensor(), "the runs of this posterior")
        return weights.log_weights if log_scale else weights.weights

    def get_ESS(self):
        """Effective sample size of the weights: (sum w)^2 / sum w^2 (Pyro's name)."""
        return _ess(self.get_normalized_weights())

    def sample_trace(self):
        """One run, drawn in proportion to the weights, as a Trace."""
        w = self.get_normalized_weights()
        return self.trace_of_run(int(torch.multinomial(w.float(), 1).item()))

    def trace_with_calls(self, index):
        """Run ``index`` replayed with the call tree recorded (inference records sites only, for speed)."""
        return self.trace_of_run(index, calls=True)

    def most_probable_index(self):
        """Index of the run with the highest joint log-probability log p(x, data)."""
        n = len(self)
        if not n:
            raise ValueError("most_probable: the posterior holds no runs yet; run it first (.run(...)).")
        log_weights = self.log_weights
        best, best_lp = 0, -math.inf
        for i in range(n):
            if log_weights[i] == -math.inf:
                continue
            lp = self._log_joints.get(i)
            if lp is None:
                lp = float(self.trace_of_run(i).log_prob_sum())
            if lp > best_lp:
                best, best_lp = i, lp
        return best

    def most_probable(self, calls=True):
        """The most probable run (highest joint log-probability), with its call tree."""
        i = self.most_probable_index()
        return self.trace_with_calls(i) if calls and self.model is not None else self.trace_of_run(i)


class _Traces(Sequence):
    """A posterior's runs as Traces, built when read (see :meth:`TracePosterior.trace_of_run`)."""

    def __init__(self, posterior):
        self.posterior = posterior

    def __len__(self):
        return len(self.posterior)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.posterior.trace_of_run(index)


class NormalizedWeights:
    """Log-weights normalized to sum to 1: ``weights`` and ``log_weights``, float64 tensors, stable for any
    finite values.

    Float64, because a million weights spread over a wide range must still sum to 1 to many digits. The
    weights are one ``torch.softmax``: it subtracts the largest log-weight before anything is exponentiated
    (weights of 1e20, from a large factor, keep their ratios instead of all rounding to 1), and takes the
    max, the exp, the sum and the division in one fused pass, faster than an exp alone (or than
    ``logsumexp``, which is a second exp pass), and in place when converting to float64 made a copy of our
    own (a batch of a million particles then needs no second tensor of its size). The log-weights, which
    few readers need, are made when first read.

    >>> import torch
    >>> w = NormalizedWeights(torch.tensor([0.0, 1000.0, 1000.0]), "three runs")
    >>> w.weights.tolist(), w.log_weights.exp().tolist()
    ([0.0, 0.5, 0.5], [0.0, 0.5, 0.5])
    """

    def __init__(self, log_weights, what):
        logw = torch.as_tensor(log_weights, dtype=torch.float64)  # not copied when float64 already
        if logw.numel() == 0:
            raise ValueError(f"no traces in {what}: run the inference first (.run(...)) or add traces (.add(trace)).")
        if logw is log_weights:  # the caller's tensor: left as it is
            weights = torch.softmax(logw, 0)
        else:
            weights = torch.softmax(logw, 0, out=logw)
        total = weights.sum().item()
        if total != total:  # NaN: a NaN log-weight, or none finite (all -inf, or a +inf)
            raise _unnormalizable(torch.as_tensor(log_weights, dtype=torch.float64), what)
        self.weights, self._given, self._log_weights = weights, log_weights, None

    @property
    def log_weights(self):
        if self._log_weights is None:
            self._log_weights = torch.log_softmax(torch.as_tensor(self._given, dtype=torch.float64), 0)
        return self._log_weights


def normalized_log_weights(log_weights, what):
    """Log-weights normalized to sum to 1 (in log space), as float64 (see :class:`NormalizedWeights`)."""
    return NormalizedWeights(log_weights, what).log_weights


def _unnormalizable(logw, what):
    """The error for log-weights that cannot be normalized, naming ``what`` they are of and why."""
    bad = int(torch.isnan(logw).sum())
    if bad:
        return ValueError(
            f"{bad} of the {logw.numel()} log-weights of {what} are NaN: a site or factor scored NaN (a NaN "
            "parameter or observation). Find it with poutine.trace(model).get_trace() and check each site's log_prob."
        )
    if bool((logw == math.inf).any()):
        return ValueError(f"a log-weight of {what} is +inf; check the model's factors (a factor of +inf).")
    return ValueError(
        f"every one of the {logw.numel()} runs in {what} has weight zero (log-weight -inf): the "
        "conditions rejected every run. Check that the observations are possible under the model, "
        "or draw more samples."
    )


def _ess(weights):
    return float(1.0 / (weights * weights).sum())


# ---- values -----------------------------------------------------------------------------------------
def value_key(value):
    """A hashable, comparable stand-in for a value: tensors become numbers or nested tuples."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1 and value.dim() == 0:
            return value.item()
        return _tupled(value.tolist())
    if isinstance(value, (tuple, list)):
        return tuple(value_key(v) for v in value)
    if isinstance(value, dict):
        # Equal dicts are one value whatever order their keys were inserted in.
        items = [(value_key(k), value_key(v)) for k, v in value.items()]
        try:
            items.sort(key=lambda kv: kv[0])
        except TypeError:  # keys of mixed kinds (1 and "a"): a total order all the same
            items.sort(key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
        return tuple(items)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _tupled(x):
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Missing:
    """Stands for a site that a run did not make (universal models make different sites per run)."""

    def __repr__(self):
        return "<absent>"


ABSENT = _Missing()


class EmpiricalMarginal(torch.distributions.Distribution):
    """The weighted traces of a posterior as a distribution over the return value or named sites.

    ``sites=None`` takes the return value; ``sites="x"`` one site's value; a list of names the
    sites together (stacked into one tensor when every run has them all with one shape, else a
    tuple per run). Numeric values (tensors, numbers) give ``mean``, ``variance``, ``quantiles``;
    any value (strings, tuples such as weather's ``('sunny', 62.1)``) is treated as a categorical
    over its distinct values: ``support``, ``probs``, ``log_prob``, ``probability(predicate)``.

    A universal model may skip a site in some runs. ``missing="drop"`` (default) leaves those runs
    out and renormalizes (the marginal is conditional on the site existing; ``missing_mass`` says
    how much posterior mass that was); ``missing="keep"`` keeps them with the value ``ABSENT``.

    ``samples`` is a tensor of the values (for non-numeric values: indices into ``support``),
    ``log_weights`` and ``weights`` (normalized) are float64 tensors.

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import Enumerate, EmpiricalMarginal
    >>> def two_coins():
    ...     a = pyro.sample("a", dist.Bernoulli(0.5))
    ...     b = pyro.sample("b", dist.Bernoulli(0.5))
    ...     return "both" if a + b == 2 else "not both"
    >>> m = EmpiricalMarginal(Enumerate(two_coins).run())
    >>> m.support, round(m.probability(lambda v: v == "both"), 4)
    (['both', 'not both'], 0.25)
    """

    arg_constraints: ClassVar[dict] = {}
    has_rsample = False

    def __init__(self, posterior, sites=None, missing="drop", validate_args=None):
        if missing not in ("drop", "keep"):
            raise ValueError(f"EmpiricalMarginal: missing must be 'drop' or 'keep', got {missing!r}")
        self.posterior = posterior
        self.sites = sites
        values, samples, logw, absent_logw = _collect(posterior.store, sites, missing, self._what())
        self.values = values
        self.missing_mass = _missing_mass(logw, absent_logw)
        self._normalized = NormalizedWeights(logw, self._what())
        self.weights = self._normalized.weights
        if samples is None and _all_numeric(values):
            samples = _stack(values)
        self.is_numeric = samples is not None
        self.samples = samples
        event_shape = samples.shape[1:] if samples is not None else torch.Size()
        self._masses = None
        super().__init__(torch.Size(), event_shape, validate_args=False)
        if not self.is_numeric:
            self.samples = torch.tensor([self._index[value_key(v)] for v in values], dtype=torch.long)

    @property
    def log_weights(self):
        return self._normalized.log_weights

    def _what(self):
        if self.sites is None:
            return "the return values"
        return f"site {self.sites!r}" if isinstance(self.sites, str) else f"sites {list(self.sites)!r}"

    # ---- distinct values ---------------------------------------------------------------------------
    def _group(self):
        if self._masses is None:
            masses = {}
            first = {}
            for v, w in zip(self.values, self.weights.tolist(), strict=True):
                if w == 0.0:
                    continue  # a run of probability zero (a rejected run) puts no value in the support
                k = value_key(v)
                masses[k] = masses.get(k, 0.0) + w
                first.setdefault(k, v)
            keys = list(masses)
            try:
                keys.sort()
            except TypeError:  # mixed kinds (None and str, say): keep the order of first appearance
                pass
            self._masses = {k: masses[k] for k in keys}
            self._first = first
            self._index_cache = {k: i for i, k in enumerate(keys)}
        return self._masses

    @property
    def _index(self):
        self._group()
        return self._index_cache

    @property
    def support(self):
        """The distinct values, sorted where they can be (an empirical distribution's support is finite)."""
        return [self._first[k] for k in self._group()]

    @property
    def probs(self):
        """The probability of each value in ``support``, as a float64 tensor."""
        return torch.tensor(list(self._group().values()), dtype=torch.float64)

    def enumerate_support(self, expand=True):
        """The support as a tensor (numeric values) or a list, so that Enumerate can sum over it."""
        support = self.support
        return torch.stack([torch.as_tensor(v) for v in support]) if self.is_numeric else support

    @property
    def has_enumerate_support(self):
        return True

    @property
    def object_valued(self):
        """True when the values are not numbers (strings, tuples): ``obs=`` then takes any value."""
        return not self.is_numeric

    def log_prob(self, value):
        """Log of the total weight of the runs whose value equals ``value`` (-inf if none)."""
        mass = self._group().get(value_key(value), 0.0)
        return torch.tensor(math.log(mass) if mass > 0 else -math.inf, dtype=torch.float64)

    def probability(self, event):
        """P(event): ``event`` is a predicate on values (``lambda v: v[0] == "cloudy"``) or a value."""
        if not callable(event):
            return self._group().get(value_key(event), 0.0)
        return math.fsum(w for v, w in zip(self.values, self.weights.tolist(), strict=True) if event(v))

    # ---- sampling ----------------------------------------------------------------------------------
    def sample(self, sample_shape=()):
        """Draw values in proportion to the weights (numeric: a tensor; otherwise a value or a list)."""
        shape = torch.Size(sample_shape)
        n = shape.numel()
        idx = torch.multinomial(self.weights.float(), max(n, 1), replacement=True)
        if self.is_numeric:
            out = self.samples[idx]
            return out[0] if not shape else out.reshape(shape + self.event_shape)
        picked = [self.values[i] for i in idx.tolist()]
        return picked[0] if not shape else picked

    # ---- moments -----------------------------------------------------------------------------------
    def _numeric(self, what):
        if not self.is_numeric:
            example = _short(self.values[0]) if self.values else "?"
            raise TypeError(
                f"EmpiricalMarginal.{what}: the values of {self._what()} are not numbers or tensors of one "
                f"shape (e.g. {example}); use .probability(lambda v: ...), .support and .probs, or take "
                "the marginal of a numeric site (EmpiricalMarginal(posterior, sites='name'))."
            )

    def _float_samples(self):
        s = self.samples
        return s if s.dtype == torch.float64 else s.to(torch.float64)

    def _out_dtype(self):
        return self.samples.dtype if self.samples.is_floating_point() else torch.get_default_dtype()

    def _weighted_sum(self, s):
        """sum_i w_i s_i over the runs (the first dimension of ``s``, float64): one matrix-vector product, a
        single pass over the values without a product tensor of their size."""
        flat = s if s.dim() == 1 else s.flatten(1)
        return (self.weights.to(s.device) @ flat).reshape(s.shape[1:])

    @property
    def mean(self):
        self._numeric("mean")
        return self._weighted_sum(self._float_samples()).to(self._out_dtype())

    @property
    def variance(self):
        self._numeric("variance")
        s = self._float_samples()
        deviations = s - self._weighted_sum(s)
        return self._weighted_sum(deviations * deviations).to(self._out_dtype())

    @property
    def stddev(self):
        return self.variance.sqrt()

    def quantiles(self, qs):
        """Weighted quantiles of numeric values, elementwise: one row per q in ``qs``.

        The q-quantile is the smallest sample value whose cumulative weight reaches q.
        """
        self._numeric("quantiles")
        qs_t = torch.as_tensor(qs, dtype=torch.float64)
        q_list = qs_t.reshape(-1)
        s = self._float_samples()
        sorted_s, order = s.sort(0)
        n = len(s)
        # One column per element: weights follow each element's own sort order.
        flat_s = sorted_s.reshape(n, -1)
        flat_w = self.weights.to(s.device)[order.reshape(n, -1)]
        cum = flat_w.cumsum(0)
        cum = (cum / cum[-1:]).T.contiguous()
        q = q_list.to(s.device).reshape(1, -1).expand(cum.shape[0], -1).contiguous()
        # Tolerance for the rounding in the cumulative sum, so that q = 0.5 picks the value reaching 0.5.
        idx = torch.searchsorted(cum, q - 1e-12).clamp(max=n - 1)
        out = torch.gather(flat_s.T, 1, idx).T.reshape((len(q_list),) + tuple(s.shape[1:]))
        out = out.to(self._out_dtype())
        return out if qs_t.dim() else out[0]

    @property
    def is_discrete(self):
        """True when the values are best shown per value: non-numeric, or few distinct numbers."""
        if not self.is_numeric:
            return True
        if self.samples.is_floating_point():
            distinct = len(self._group())
            return distinct <= 32 and distinct < max(2, len(self.values) // 2)
        return True

    def histogram(self, bins=None):
        """``(labels, probs)``: per value when discrete (labels = support), else ``bins`` equal-width bins
        (default 30) over scalar numeric values (labels = the bins+1 edges)."""
        if bins is None and self.is_discrete:
            return self.support, self.probs
        self._numeric("histogram")
        if self.samples.dim() != 1:
            raise TypeError(
                f"EmpiricalMarginal.histogram: the values of {self._what()} have shape "
                f"{tuple(self.samples.shape[1:])}; histograms are of scalar values. Take one element's "
                "marginal, or use .support and .probs."
            )
        s = self._float_samples().cpu()
        bins = 30 if bins is None else int(bins)
        lo, hi = s.min().item(), s.max().item()
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
        which = torch.bucketize(s, edges[1:-1], right=True)
        probs = torch.zeros(bins, dtype=torch.float64).index_add_(0, which, self.weights.cpu())
        return edges, probs

    def effective_sample_size(self):
        """(sum w)^2 / sum w^2 of the normalized weights: the number of equally weighted samples they
        are worth. (For MH chains this ignores autocorrelation.)"""
        return _ess(self.weights)

    def to_dataframe(self):
        """A pandas DataFrame with one row per trace: ``value`` and ``weight`` (pandas imported here)."""
        import pandas as pd

        values = [v.tolist() if isinstance(v, torch.Tensor) else v for v in self.values]
        return pd.DataFrame({"value": values, "weight": self.weights.tolist()})

    def __repr__(self):
        return f"EmpiricalMarginal({self._what()}, {len(self.values)} traces)"


def _collect(store, sites, missing, what):
    """(values, stacked samples or None, log-weights of the runs kept, log-weights of the runs left out)."""
    n = store.num_runs
    logw_all = store.log_weight_tensor()
    if n == 0:
        raise ValueError(f"no traces in {what}: run the inference first (.run(...)) or add traces (.add(trace)).")
    single = sites is None or isinstance(sites, str)
    names = [RETURN if sites is None else sites] if single else list(sites)
    columns = [store.column(name) for name in names]
    if all(c is None for c in columns) or (single and missing == "drop" and columns[0] is None):
        where = "the return value" if sites is None else f"site(s) {sites!r}"
        raise ValueError(
            f"EmpiricalMarginal: none of the {n} traces has {where}. Check the site name "
            f"(names seen: {[m for m in store.names() if m != RETURN][:20]}), or use missing='keep' to count "
            "runs without it."
        )
    full = all(c is not None and c.count(n) == n for c in columns)
    if full and all(c.is_numeric for c in columns):
        tensors = [c.tensor(n) for c in columns]
        if single:
            return RowsOf(tensors[0]), tensors[0], logw_all, None
        if len({t.shape[1:] for t in tensors}) == 1:
            stacked = torch.stack(tensors, 1)
            return RowsOf(stacked), stacked, logw_all, None
    by_run = [dict(zip(c.runs(n), c.values(n), strict=True)) if c is not None else {} for c in columns]
    values, kept = [], []
    for run in range(n):
        row = tuple(m.get(run, ABSENT) for m in by_run)
        if missing == "drop" and any(v is ABSENT for v in row):
            continue
        if single and names[0] == RETURN and row[0] is ABSENT:  # a run without a return value is left out
            continue
        kept.append(run)
        values.append(row[0] if single else row)
    if not values:
        raise ValueError(f"EmpiricalMarginal: no run has all of {what} (use missing='keep' to count runs without them).")
    if not single and all(_stackable(row) for row in values) and len({tuple(v.shape) for row in values for v in row}) == 1:
        values = [torch.stack(row, 0) for row in values]
    kept_t = torch.tensor(kept, dtype=torch.long)
    mask = torch.ones(n, dtype=torch.bool)
    mask[kept_t] = False
    return values, None, logw_all[kept_t], logw_all[mask]


def _missing_mass(logw, absent_logw):
    if absent_logw is None or absent_logw.numel() == 0:
        return 0.0
    total = torch.logsumexp(torch.cat([logw, absent_logw]), 0)
    if total.item() == -math.inf:
        return 0.0
    return float((torch.logsumexp(absent_logw, 0) - total).exp())


class RowsOf(Sequence):
    """The rows of a stacked tensor as a sequence (``rows[i]`` is run i's value)."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __len__(self):
        return self.tensor.shape[0]

    def __getitem__(self, index):
        return self.tensor[index]

    def __iter__(self):
        return iter(self.tensor.unbind(0))


def _stackable(row):
    return all(isinstance(v, torch.Tensor) for v in row)


def _all_numeric(values):
    if not values:
        return False
    first = values[0]
    if isinstance(first, torch.Tensor):
        shape = first.shape
        return all(isinstance(v, torch.Tensor) and v.shape == shape and v.dtype != torch.bool for v in values)
    return all(_is_number(v) for v in values)


def _stack(values):
    if isinstance(values[0], torch.Tensor):
        return torch.stack([v.detach() for v in values], 0)
    return torch.tensor(values, dtype=torch.get_default_dtype())


def _short(value):
    from ..trace import short

    return short(value)
