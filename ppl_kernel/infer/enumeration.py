"""Exact inference by enumerating a program's discrete random choices, one execution path per run.

Python cannot fork a running function, so each path is a fresh run of the model: at a random
choice the path has not fixed yet, the run takes one value of the support and queues one new path
per other value (the choices made so far plus that value). Every run therefore completes exactly
one path, and recursion or control flow that depends on earlier choices is followed as it
unfolds. A path whose probability becomes zero (a ``factor`` of -inf, an impossible value) ends
at that site with a :class:`~ppl_kernel.signals.ZeroProbability` signal, which prunes everything
below it; the signal is a ``BaseException``, so a model's ``except Exception`` cannot swallow it.

Which waiting path runs next is the ``order``: depth-first (a stack), breadth-first (a queue) or
most-probable-first (a heap on the probability of the path's prefix, WebPPL's ``likely-first``).
The order changes nothing in a complete enumeration; it decides which paths a run stopped at
``max_paths`` has found.
"""

import collections
import heapq
import itertools
import math
import warnings

import torch

from .. import poutine
from ..runtime import Messenger, Site, model_name, settings
from ..signals import RunSignal, ZeroProbability
from ..trace import RETURN
from ..vectorize.fallback import SequentialFallbackWarning
from .enumeration_vectorized import NotVectorizable, enumerate_vectorized
from .errors import EnumerationError
from . import parallel
from .finite_support import SupportTable
from .posterior import TracePosterior
from .sites import score

ORDERS = ("depth-first", "breadth-first", "most-probable-first")


class _Requeued(RunSignal):
    """Most-probable-first: a waiting path became more probable than this one, which was queued again."""


class _Waiting:
    """The paths not run yet, in the order asked for: each is ``(base, last)``, see :class:`_PathMessenger`."""

    def __init__(self, order):
        self.order = order
        self.by_probability = order == "most-probable-first"
        if self.by_probability:
            self.items, self._tie = [], itertools.count()
            self.pop = self._pop_best
        else:
            self.items = collections.deque()
            self.pop = self.items.pop if order == "depth-first" else self.items.popleft

    def push(self, base, last, log_prob):
        if self.by_probability:
            heapq.heappush(self.items, (-log_prob, next(self._tie), (base, last)))
        else:
            self.items.append((base, last))

    def best_log_prob(self):
        return -self.items[0][0] if self.items else -math.inf

    def _pop_best(self):
        return heapq.heappop(self.items)[2]

    def __len__(self):
        return len(self.items)


class _Untidy(RunSignal):
    """A run repeated a site name or ran past the site limit: the tracer runs the path again to say where."""


class _PathMessenger(Messenger):
    """Gives each random choice its value on this path, queues the alternatives, ends impossible paths.

    A path is its run's choices, each ``(name, value, log-probability)``: the ``base`` it shares with the
    run that queued it, then its ``last`` choice. Replaying them costs a tuple look-up per choice, with the
    log-probability computed when the choice was first met; past them, a new choice is expanded by the
    :class:`~ppl_kernel.infer.finite_support.SupportTable` and each of its other values queued as a path.
    The handler records what the posterior keeps (each sample site's value, the first site of each name)
    itself, without a Trace.
    """

    def __init__(self, model, table, waiting, split=False):
        super().__init__(model)
        self.table = table
        self.waiting = waiting
        self.split = split  # at a choice past the path: queue each of its values, end the run (see Enumerate._expand)
        self.start((), None)

    def start(self, base, last):
        self.fixed = base if last is None else base + (last,)
        self.taken = []
        self.log_weight = 0.0
        self.values, self.sites = {}, {}
        self.max_sites = settings.max_sites
        self._chosen = self._chosen_log_prob = None

    def process_message(self, msg):
        if msg.value is not None or msg.type != "sample" or msg.is_observed or msg.done:  # not a random choice
            return
        taken = self.taken
        i = len(taken)
        if i < len(self.fixed):
            choice = self.fixed[i]
            if choice[0] != msg.name:
                raise self._not_replayable(msg.name, choice[0])
        else:
            choice = self._branch(msg)
        taken.append(choice)
        msg.value = choice[1]
        self._chosen = msg
        scale = msg.scale
        # The cached score holds for the plain site; a scaled or masked one is scored as it is.
        plain = msg.mask is None and type(scale) in (float, int) and scale == 1.0
        self._chosen_log_prob = choice[2] if plain else None

    def _branch(self, msg):
        values, scores = self.table.expand(msg)
        name = msg.name
        # A value of probability zero starts no path (WebPPL's enumerate prunes it the same way).
        options = [(name, v, s) for v, s in zip(values, scores, strict=True) if s != -math.inf]
        if not options:
            raise ZeroProbability(name)
        base = tuple(self.taken)
        waiting = self.waiting
        if self.split:
            for option in options:
                waiting.push(base, option, 0.0)
            raise _Requeued
        if waiting.by_probability:
            # Follow the most probable value while this path stays the most probable prefix; queue the
            # others by their prefix's probability. When a waiting prefix is more probable, queue every
            # value and end this run, so that the best prefix runs next (WebPPL's likely-first).
            best = max(range(len(options)), key=lambda i: options[i][2])
            requeue = waiting.best_log_prob() > self.log_weight + options[best][2]
            for i, option in enumerate(options):
                if i != best or requeue:
                    waiting.push(base, option, self.log_weight + option[2])
            if requeue:
                raise _Requeued
            return options[best]
        # Depth-first pops from the end: push in reverse so that the paths run in support order.
        for option in (reversed(options[1:]) if waiting.order == "depth-first" else options[1:]):
            waiting.push(base, option, 0.0)
        return options[0]

    def postprocess_message(self, msg):
        if msg is self._chosen and self._chosen_log_prob is not None:
            lp = self._chosen_log_prob
        elif msg.type != "sample":
            return
        else:
            lp = score(msg)
            if lp == -math.inf:
                raise ZeroProbability(msg.name)
        self.log_weight += lp
        name, values = msg.name, self.values
        if name in values or len(values) >= self.max_sites:
            raise _Untidy
        values[name] = msg.value
        self.sites[name] = msg

    def _not_replayable(self, name, expected):
        return EnumerationError(
            f"Enumerate: a run of model '{model_name(self.fn)}' made the choice '{name}' where an earlier run with "
            f"the same choices before it made '{expected}', so its runs are not determined by its random choices "
            "and its paths cannot be enumerated. Make every random draw a pyro.sample statement (not "
            "random.random(), torch.rand or numpy), and keep no state between runs (a global counter, a list the "
            "model appends to; pyro.mem remembers values within a run)."
        )


class Enumerate(TracePosterior):
    """Exact posterior of a model with discrete latent choices, by running every execution path.

    Works with recursion and control flow that depends on random choices, with continuous
    *observed* sites and with ``factor``. Each stored trace is one path, weighted by its joint
    probability p(x, data); ``log_marginal_likelihood`` is log p(data), the log of their sum.
    ``Search`` is another name for this class (Pyro 0.1); ``max_tries`` is accepted for ``max_paths``.

    Options:

    - ``order``: which waiting path runs next, ``"depth-first"`` (default), ``"breadth-first"`` or
      ``"most-probable-first"`` (the path whose choices so far are the most probable; with
      ``max_paths`` it finds the paths that carry the most mass first).
    - ``max_paths`` bounds the number of runs. Past it, ``on_limit="raise"`` (default) raises an
      :class:`EnumerationError`; ``on_limit="stop"`` keeps the paths found so far and sets
      ``partial = True`` (the marginal is then exact *given* those paths; ``log_marginal_likelihood``
      is a lower bound). A model with infinitely many paths (a geometric recursion) needs the latter.
    - ``vectorize=True`` enumerates every combination of the choices' values in one run, each choice's
      values along a tensor dimension of their own (:mod:`~ppl_kernel.infer.enumeration_vectorized`): for
      models written elementwise in their choices (``torch.where``, arithmetic, a tensor indexed by a
      sampled index), at array speed. ``vectorized`` says whether it did; where the model cannot run so
      (an ``if`` or ``.item()`` on a choice) it warns (``SequentialFallbackWarning``), keeps the reason in
      ``fallback_reason`` and enumerates the paths one by one. ``num_paths`` is then the number of
      combinations; only the possible ones are kept as runs.
    - ``executor=`` (any ``concurrent.futures.Executor``: ``ProcessPoolExecutor()``, a Dask client's
      ``client.get_executor()``) enumerates the paths in its workers (:mod:`~ppl_kernel.infer.parallel`):
      the run first follows the choices breadth-first until there are a few subtrees per chunk, then each of
      ``chunks`` pieces (default 16) enumerates its subtrees depth-first, and the pieces merge in order. The
      posterior holds the same paths as a run in one process (in another order). ``max_paths`` bounds each
      piece's runs: past it, ``on_limit="raise"`` raises as in one process (so it does when the pieces together
      run more), ``"stop"`` keeps what each piece found. Most-probable-first, an order across all paths, cannot
      be split. A subtree lost with its worker (a process that died) leaves the posterior ``partial``.

    Summed over: distributions with a finite support (``Bernoulli``, ``Categorical``, ``Binomial``,
    ``OneHotCategorical``, ``Choice`` over any values, ``Delta``, ``Multinomial``, a nested
    marginal). A continuous latent site cannot be enumerated (an :class:`EnumerationError` names it).
    Depth-first and breadth-first follow the first value of each choice until the run ends, so a model
    whose first values recurse forever needs most-probable-first. A run in which every path has
    probability zero raises an :class:`EnumerationError` that says so and
    names the sites where the paths ended. ``progress(posterior, done, None)`` reports the paths run so far.

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import Enumerate, EmpiricalMarginal
    >>> def weather():
    ...     cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    ...     pyro.sample("temp", dist.Normal(55.0 if cloudy else 75.0, 10.0 if cloudy else 15.0),
    ...                 obs=torch.tensor(70.0))
    ...     return "cloudy" if cloudy else "sunny"
    >>> round(EmpiricalMarginal(Enumerate(weather).run()).probability("cloudy"), 6)
    0.18075
    >>> def two_dice():
    ...     a = pyro.sample("a", dist.Categorical(torch.ones(6)))
    ...     b = pyro.sample("b", dist.Categorical(torch.ones(6)))
    ...     pyro.require(a + b >= 8)  # elementwise: one run covers all 36 pairs
    ...     return a + 1
    >>> posterior = Enumerate(two_dice, vectorize=True).run()
    >>> posterior.vectorized, round(EmpiricalMarginal(posterior).mean.item(), 4)
    (True, 5.3333)
    """

    def __init__(self, model, max_paths=100_000, progress=None, max_tries=None, order="depth-first",
                 on_limit="raise", vectorize=False, executor=None, chunks=None):
        super().__init__(model, progress)
        parallel.check_executor("Enumerate", executor)
        parallel.check_chunks("Enumerate", chunks)
        if executor is not None and order == "most-probable-first":
            raise ValueError("Enumerate: order='most-probable-first' runs the most probable waiting path next, "
                             "an order across all paths, which executor= cannot split between workers; use "
                             "order='depth-first' or 'breadth-first' with an executor.")
        self.executor, self.chunks = executor, chunks
        self.lost_runs = 0
        self._subtrees = None  # a piece of a split run: the paths it starts from (see _chunk)
        self._ended_at = collections.Counter()  # site name -> paths that became impossible there
        self.vectorize, self.vectorized, self.fallback_reason = bool(vectorize), False, None
        if max_tries is not None:
            max_paths = int(max_tries)
        if not isinstance(max_paths, int) or max_paths < 1:
            raise ValueError(f"Enumerate: max_paths must be a positive integer, got {max_paths!r}")
        if order not in ORDERS:
            raise ValueError(f"Enumerate: order must be one of {', '.join(map(repr, ORDERS))}; got {order!r}")
        if on_limit not in ("raise", "stop"):
            raise ValueError(f"Enumerate: on_limit must be 'raise' or 'stop', got {on_limit!r}")
        self.max_paths = max_paths
        self.order = order
        self.on_limit = on_limit
        self.num_paths = 0
        self.num_impossible = 0

    def _run(self, args, kwargs):
        self.vectorized, self.fallback_reason = False, None
        if self.vectorize:
            try:
                values, log_weights, sites, combinations = enumerate_vectorized(self.model, args, kwargs)
            except NotVectorizable as e:
                self.fallback_reason = f"{e.reason}: enumerating its paths one by one"
                warnings.warn(self.fallback_reason, SequentialFallbackWarning, stacklevel=4)
            else:
                if len(log_weights):  # else every path is impossible: the paths one by one say where they ended
                    self.store.add_block(values, log_weights, 0, sites)
                    self.vectorized = True
                    self.num_paths, self.num_impossible = combinations, combinations - len(log_weights)
                    self._report(1)
                    return 1
        if self.executor is not None and self._subtrees is None:
            return self._run_split(args, kwargs)
        waiting = _Waiting(self.order)
        path = _PathMessenger(self.model, SupportTable(self.model, self.max_paths), waiting)
        tracer = poutine.trace(path, calls=False)  # the kept runs' traces; each run gets a fresh Trace
        store, report = self.store, self._report
        returned = Site("return", RETURN, None, (), {}, None)  # the return column's site (its kind)
        self._ended_at = ended_at = collections.Counter()
        base, last = (), None
        if self._subtrees is not None:  # a piece of a split run: its subtrees, in order
            if not self._subtrees:
                return 0
            for start in reversed(self._subtrees[1:]) if self.order == "depth-first" else self._subtrees[1:]:
                waiting.push(*start, 0.0)
            base, last = self._subtrees[0]
        paths = 0
        self.num_paths = self.num_impossible = 0
        while True:
            path.start(base, last)
            paths += 1
            self.num_paths = paths
            try:
                if len(self) < self.keep_traces:
                    self._add_traced(tracer, path, args, kwargs)
                else:
                    ret = path(*args, **kwargs)  # the common case: no Trace, the handler's own record
                    values, sites = path.values, path.sites
                    values[RETURN], sites[RETURN] = ret, returned
                    store.add(values, path.log_weight, 0, sites)
            except ZeroProbability as signal:
                ended_at[signal.name] += 1
                self.num_impossible += 1
            except _Requeued:
                pass
            except _Untidy:
                path.start(base, last)  # the tracer raises the error that names the repeated site or the limit
                self._add_traced(tracer, path, args, kwargs)
            report(paths)
            if not waiting:
                break
            if paths >= self.max_paths:
                if self.on_limit == "raise":
                    raise self._too_many_paths(len(waiting))
                self.partial = True
                break
            base, last = waiting.pop()
        if not len(self) and self._subtrees is None:  # (a piece of a split run may hold only impossible paths)
            raise self._all_impossible(paths, ended_at)
        return paths

    # ---- the paths split between an executor's workers (ppl_kernel.infer.parallel) -----------------------------
    def _run_split(self, args, kwargs):
        chunks = self.chunks or parallel.DEFAULT_CHUNKS
        self._expand(args, kwargs, 4 * chunks)
        parallel.run_split(self, args, kwargs, "subtrees of paths", len(self._split), chunks)
        if self.lost_runs:  # a lost subtree's paths are missing: the marginal is no longer exact
            self.partial = True
        if self.num_paths > self.max_paths and self.on_limit == "raise":
            raise self._too_many_paths(None)  # (the pieces ran them all: none is waiting)
        if not len(self) and not self.partial:
            raise self._all_impossible(self.num_paths, self._ended_at)
        return self.num_paths

    def _expand(self, args, kwargs, wanted):
        """Follow the choices breadth-first, each run ending at the first choice past its path with each of that
        choice's values queued, until ``wanted`` subtrees (or every path) are found: ``self._split``, the paths
        they start from, in order. A run that ends without a new choice is a subtree of one path (its piece runs
        it again, and counts it); one that ends impossible is counted here."""
        waiting = _Waiting("breadth-first")
        path = _PathMessenger(self.model, SupportTable(self.model, self.max_paths), waiting, split=True)
        complete, impossible, ended_at = [], 0, collections.Counter()
        base, last = (), None
        while True:
            path.start(base, last)
            try:
                path(*args, **kwargs)
            except _Requeued:  # it met a new choice: its values wait as subtrees
                pass
            except ZeroProbability as signal:
                impossible += 1
                ended_at[signal.name] += 1
            except _Untidy:  # its piece runs it again, and says where it repeated a name or ran too long
                complete.append((base, last))
            else:
                complete.append((base, last))
            if not waiting or len(waiting) + len(complete) >= wanted:
                break
            base, last = waiting.pop()
        self._split = complete + list(waiting.items)
        self._expanded = impossible, ended_at

    def _chunk_inputs(self, size, offset):
        return self._split[offset:offset + size]

    def _chunk(self, size, offset, inputs=None):
        piece = Enumerate(self.model, max_paths=self.max_paths, order=self.order, on_limit=self.on_limit)
        piece._subtrees = self._chunk_inputs(size, offset) if inputs is None else list(inputs)
        return piece

    def _run_chunk(self, args, kwargs):
        self.run(*args, **kwargs)
        result = parallel.compact(self)
        result.runs = self.num_paths
        result.stats = {"paths": self.num_paths, "impossible": self.num_impossible, "partial": self.partial,
                        "ended_at": dict(self._ended_at)}
        return result

    def _clear_chunks(self):
        parallel.clear(self)
        impossible, ended_at = self._expanded
        self.num_paths = self.num_impossible = impossible
        self._ended_at = collections.Counter(ended_at)

    def _absorb(self, result, offset):
        parallel.absorb(self, result)
        stats = result.stats
        self.num_paths += stats["paths"]
        self.num_impossible += stats["impossible"]
        self._ended_at.update(stats["ended_at"])
        self.partial = self.partial or stats["partial"]

    def _add_traced(self, tracer, path, args, kwargs):
        trace = tracer.get_trace(*args, **kwargs)
        self.add(trace, path.log_weight, log_joint=path.log_weight)

    def _too_many_paths(self, waiting):
        return EnumerationError(
            f"Enumerate: model '{model_name(self.model)}' has more than max_paths={self.max_paths} execution "
            f"paths{'' if waiting is None else f' ({waiting} more were still waiting)'}. A model whose recursion "
            "ends at random (a geometric recursion) has infinitely many: pass on_limit='stop' to keep the paths "
            "found so far (marked partial; with order='most-probable-first' they are the most probable ones). "
            "Otherwise raise the limit (Enumerate(model, max_paths=...)), bound the recursion, or use Importance, "
            "MH or SMC."
        )

    def _all_impossible(self, paths, ended_at):
        where = ", ".join(f"'{name}' ({count} path{'s' if count > 1 else ''})" for name, count in ended_at.most_common(5))
        return EnumerationError(
            f"Enumerate: every one of the {paths} execution paths of model '{model_name(self.model)}' has "
            f"probability zero, so there is no posterior to report. The paths ended at {where}. Check that "
            "the conditions and observations can hold together under the model (a condition that no choice "
            "satisfies, an observed value outside its distribution's support)."
        )

    def most_probable_index(self):
        """Index of the most probable path: a path's log-weight is its log joint p(x, data)."""
        if not len(self):
            raise ValueError("most_probable: the posterior holds no runs yet; run it first (.run(...)).")
        return int(torch.argmax(self.log_weights_tensor()))

    @property
    def log_marginal_likelihood(self):
        """log p(data): the log of the summed probability of all paths (-inf if none is possible)."""
        if not len(self):
            return -math.inf
        return float(torch.logsumexp(self.log_weights_tensor(), 0))

    def get_log_normalizer(self):
        return self.log_marginal_likelihood


Search = Enumerate
