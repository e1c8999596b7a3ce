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

import torch

from .. import poutine
from ..distributions import Bernoulli
from ..distributions.point import Delta
from ..runtime import Messenger, model_name
from ..signals import RunSignal, ZeroProbability
from ..trace import describe_distribution
from .errors import EnumerationError
from .posterior import TracePosterior
from .sites import score

ORDERS = ("depth-first", "breadth-first", "most-probable-first")
_COIN_VALUES = {}  # dtype -> (0., 1.), shared by every coin: a site's value is never changed in place


class _Requeued(RunSignal):
    """Most-probable-first: a waiting path became more probable than this one, which was queued again."""


class _Waiting:
    """The paths not run yet, in the order asked for: each is a dict of fixed choices."""

    def __init__(self, order):
        self.order = order
        self.by_probability = order == "most-probable-first"
        if self.by_probability:
            self.items, self._tie = [], itertools.count()
            self.pop = self._pop_best
        else:
            self.items = collections.deque()
            self.pop = self.items.pop if order == "depth-first" else self.items.popleft

    def push(self, prefix, log_prob):
        if self.by_probability:
            heapq.heappush(self.items, (-log_prob, next(self._tie), prefix))
        else:
            self.items.append(prefix)

    def best_log_prob(self):
        return -self.items[0][0] if self.items else -math.inf

    def _pop_best(self):
        return heapq.heappop(self.items)[2]

    def __len__(self):
        return len(self.items)


class _PathMessenger(Messenger):
    """Gives each random choice its value on this path, queues the alternatives, ends impossible paths."""

    def __init__(self, model, owner, waiting):
        super().__init__(model)
        self.owner = owner
        self.waiting = waiting
        self.start({})

    def start(self, prefix):
        self.prefix = prefix
        self.taken = {}
        self.log_weight = 0.0

    def process_message(self, msg):
        if msg.value is not None or not msg.is_choice:
            return
        name = msg.name
        value = self.prefix.get(name)
        if value is None:
            values = self.owner._support(msg)
            waiting, taken = self.waiting, self.taken
            if waiting.by_probability:
                # Follow the most probable value while this path stays the most probable prefix; queue the
                # others by their prefix's probability. When a waiting prefix is more probable, queue every
                # value and end this run, so that the best prefix runs next (WebPPL's likely-first).
                scores = [_value_score(msg.fn, v) for v in values]
                best = max(range(len(values)), key=scores.__getitem__)
                value = values[best]
                requeue = waiting.best_log_prob() > self.log_weight + scores[best]
                for i, alternative in enumerate(values):
                    if (i != best or requeue) and scores[i] > -math.inf:
                        branch = dict(taken)
                        branch[name] = alternative
                        waiting.push(branch, self.log_weight + scores[i])
                if requeue:
                    raise _Requeued
            else:
                value = values[0]
                # Depth-first pops from the end: push in reverse so that the paths run in support order.
                alternatives = reversed(values[1:]) if waiting.order == "depth-first" else values[1:]
                for alternative in alternatives:
                    branch = dict(taken)
                    branch[name] = alternative
                    waiting.push(branch, 0.0)
        msg.value = value
        self.taken[name] = value

    def postprocess_message(self, msg):
        if msg.type != "sample":
            return
        lp = score(msg)
        if lp == -math.inf:
            raise ZeroProbability(msg.name)
        self.log_weight += lp


def _number_parameters(fn):
    """True for a distribution not constructed yet whose parameters are all Python numbers."""
    deferred = fn.__dict__.get("_deferred")
    if deferred is None:
        return False
    args, kwargs = deferred
    return all(type(a) in (int, float) for a in args) and all(type(v) in (int, float) for v in kwargs.values())


def _value_score(fn, value):
    if not (hasattr(type(fn), "object_valued") and fn.object_valued):  # Choice and marginals take values as they are
        value = torch.as_tensor(value)
    lp = fn.log_prob(value)
    return float(lp.sum()) if isinstance(lp, torch.Tensor) else float(lp)


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
    """

    def __init__(self, model, max_paths=100_000, progress=None, max_tries=None, order="depth-first",
                 on_limit="raise"):
        super().__init__(model, progress)
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
        add, report = self.add, self._report
        waiting = _Waiting(self.order)
        path = _PathMessenger(self.model, self, waiting)
        tracer = poutine.trace(path, calls=False)  # one handler pair for all paths; each run gets a fresh Trace
        ended_at = collections.Counter()  # site name -> paths that became impossible there
        prefix = {}
        paths = 0
        self.num_paths = self.num_impossible = 0
        while True:
            path.start(prefix)
            paths += 1
            self.num_paths = paths
            try:
                trace = tracer.get_trace(*args, **kwargs)
            except ZeroProbability as signal:
                ended_at[signal.name] += 1
                self.num_impossible += 1
            except _Requeued:
                pass
            else:
                add(trace, path.log_weight, log_joint=path.log_weight)
            report(paths)
            if not waiting:
                break
            if paths >= self.max_paths:
                if self.on_limit == "raise":
                    raise self._too_many_paths(len(waiting))
                self.partial = True
                break
            prefix = waiting.pop()
        if not len(self):
            raise self._all_impossible(paths, ended_at)
        return paths

    def _support(self, msg):
        fn = msg.fn
        if type(fn) is Bernoulli and _number_parameters(fn):
            # A coin with a number for its probability: its values need no torch call, and leaving it
            # unconstructed keeps its scoring on the fast scalar path.
            dtype = torch.get_default_dtype()
            values = _COIN_VALUES.get(dtype)
            if values is None:
                values = _COIN_VALUES[dtype] = (torch.tensor(0.0, dtype=dtype), torch.tensor(1.0, dtype=dtype))
            return values
        if isinstance(fn, Delta):
            return [fn.v]
        if isinstance(fn, torch.distributions.Multinomial):
            return _multinomial_support(msg, fn)
        if not getattr(fn, "has_enumerate_support", False):
            raise EnumerationError(
                f"Enumerate: site '{msg.name}' of model '{model_name(self.model)}' is "
                f"{describe_distribution(fn)}, which has no finite set of values to sum over (it is "
                "continuous or unbounded). Enumerate sums over discrete latent choices only: observe the "
                "site (obs=... or poutine.condition), discretise it (dist.Choice over a grid of values), "
                "or use Importance, MH or SMC for this model."
            )
        support = fn.enumerate_support(expand=False)
        if isinstance(support, list):  # values that are not numbers (a marginal over strings, a Choice)
            return support
        batch = fn.batch_shape
        if batch.numel() <= 1:
            return list(support.reshape((support.shape[0],) + batch + fn.event_shape))
        return self._joint_support(msg, fn, batch)

    def _joint_support(self, msg, fn, batch):
        # A batched site (inside a vectorized plate) is one choice per element: its values are
        # every combination, K ** n of them.
        full = fn.enumerate_support(expand=True)
        k, n = full.shape[0], batch.numel()
        if k ** n > self.max_paths:
            raise EnumerationError(
                f"Enumerate: site '{msg.name}' of model '{model_name(self.model)}' has batch shape "
                f"{tuple(batch)}, so {k}^{n} joint values, more than max_paths={self.max_paths}. "
                "Enumerate it elementwise in a sequential plate (for i in pyro.plate(...)) if the "
                "elements are few, or use Importance or MH."
            )
        flat = full.reshape((k, n) + fn.event_shape)
        grids = torch.meshgrid(*[torch.arange(k, device=full.device)] * n, indexing="ij")
        combos = torch.stack([g.reshape(-1) for g in grids], -1)
        values = flat[combos, torch.arange(n, device=full.device)]
        return list(values.reshape((k ** n,) + batch + fn.event_shape))

    def _too_many_paths(self, waiting):
        return EnumerationError(
            f"Enumerate: model '{model_name(self.model)}' has more than max_paths={self.max_paths} execution "
            f"paths ({waiting} more were still waiting). A model whose recursion ends at random (a geometric "
            "recursion) has infinitely many: pass on_limit='stop' to keep the paths found so far (marked "
            "partial; with order='most-probable-first' they are the most probable ones). Otherwise raise the "
            "limit (Enumerate(model, max_paths=...)), bound the recursion, or use Importance, MH or SMC."
        )

    def _all_impossible(self, paths, ended_at):
        where = ", ".join(f"'{name}' ({count} path{'s' if count > 1 else ''})" for name, count in ended_at.most_common(5))
        return EnumerationError(
            f"Enumerate: every one of the {paths} execution paths of model '{model_name(self.model)}' has "
            f"probability zero, so there is no posterior to report. The paths ended at {where}. Check that "
            "the conditions and observations can hold together under the model (a condition that no choice "
            "satisfies, an observed value outside its distribution's support)."
        )

    @property
    def log_marginal_likelihood(self):
        """log p(data): the log of the summed probability of all paths (-inf if none is possible)."""
        if not len(self):
            return -math.inf
        return float(torch.logsumexp(self.log_weights_tensor(), 0))

    def get_log_normalizer(self):
        return self.log_marginal_likelihood


def _multinomial_support(msg, fn):
    if fn.batch_shape.numel() > 1:
        raise EnumerationError(
            f"Enumerate: site '{msg.name}' is a batch of Multinomials {tuple(fn.batch_shape)}; Enumerate sums "
            "over one Multinomial per site. Make one site per element (a sequential plate)."
        )
    n, k = int(fn.total_count), fn.probs.shape[-1]
    # Every way to put n counts into k cells: choose k-1 bar positions among n+k-1 slots.
    counts = []
    for bars in itertools.combinations(range(n + k - 1), k - 1):
        edges = (-1,) + bars + (n + k - 1,)
        counts.append([edges[i + 1] - edges[i] - 1 for i in range(k)])
    values = torch.tensor(counts, dtype=fn.probs.dtype, device=fn.probs.device)
    return list(values.reshape((len(counts),) + fn.batch_shape + fn.event_shape))


Search = Enumerate
