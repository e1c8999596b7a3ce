"""Exact inference by enumerating a program's discrete random choices, one execution path per run.

Python cannot fork a running function, so each path is a fresh run of the model: at a random
choice the path has not fixed yet, the run takes the first value of the support and queues one
new path per other value (the choices made so far plus that value). Every run therefore completes
exactly one path, and recursion or control flow that depends on earlier choices is followed as it
unfolds. A path whose probability becomes zero (a ``factor`` of -inf, an impossible value) is cut
off at that site, which prunes everything below it.
"""

import math

import torch

from .. import poutine
from ..runtime import Messenger, model_name
from ..trace import describe_distribution
from .errors import EnumerationError
from .posterior import TracePosterior
from .sites import score


class _ImpossiblePath(Exception):
    """Raised inside a run whose probability became zero; the run is abandoned."""


class _PathMessenger(Messenger):
    """Gives each random choice its value on this path and queues the alternatives."""

    def __init__(self, model, owner, prefix, pending):
        super().__init__(model)
        self.owner = owner
        self.prefix = prefix
        self.pending = pending
        self.taken = {}
        self.log_weight = 0.0

    def process_message(self, msg):
        if msg.value is not None or not msg.is_choice:
            return
        name = msg.name
        value = self.prefix.get(name)
        if value is None:
            values = self.owner._support(msg)
            value = values[0]
            taken = self.taken
            for alternative in reversed(values[1:]):
                branch = dict(taken)
                branch[name] = alternative
                self.pending.append(branch)
        msg.value = value
        self.taken[name] = value

    def postprocess_message(self, msg):
        if msg.type != "sample":
            return
        lp = score(msg)
        if lp == -math.inf:
            raise _ImpossiblePath
        self.log_weight += lp


class Enumerate(TracePosterior):
    """Exact posterior of a model with discrete latent choices, by running every execution path.

    Works with recursion and control flow that depends on random choices, with continuous
    *observed* sites and with ``factor``. Each stored trace is one path, weighted by its joint
    probability p(x, data); ``log_marginal_likelihood`` is log p(data), the log of their sum.
    ``max_paths`` bounds the number of runs (an :class:`EnumerationError` when passed).
    ``Search`` is another name for this class (Pyro 0.1); ``max_tries`` is accepted for ``max_paths``.

    A continuous latent site cannot be enumerated (an :class:`EnumerationError` names it).
    ``progress(posterior, done, None)`` reports the paths run so far.

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

    def __init__(self, model, max_paths=100_000, progress=None, max_tries=None):
        super().__init__(model, progress)
        if max_tries is not None:
            max_paths = int(max_tries)
        if not isinstance(max_paths, int) or max_paths < 1:
            raise ValueError(f"Enumerate: max_paths must be a positive integer, got {max_paths!r}")
        self.max_paths = max_paths
        self.num_paths = 0

    def _run(self, args, kwargs):
        model, add, report = self.model, self.add, self._report
        pending = [{}]
        paths = 0
        self.num_paths = 0
        while pending:
            if paths >= self.max_paths:
                raise self._too_many_paths(len(pending))
            prefix = pending.pop()
            path = _PathMessenger(model, self, prefix, pending)
            paths += 1
            self.num_paths = paths
            try:
                trace = poutine.trace(path, calls=False).get_trace(*args, **kwargs)
            except _ImpossiblePath:
                report(paths)
                continue
            add(trace, path.log_weight, log_joint=path.log_weight)
            report(paths)
        return paths

    def _support(self, msg):
        fn = msg.fn
        if not getattr(fn, "has_enumerate_support", False):
            raise EnumerationError(
                f"Enumerate: site '{msg.name}' of model '{model_name(self.model)}' is "
                f"{describe_distribution(fn)}, which has no finite set of values to sum over (it is "
                "continuous or unbounded). Enumerate sums over discrete latent choices only: observe the "
                "site (obs=... or poutine.condition), or use Importance or MH for this model."
            )
        support = fn.enumerate_support(expand=False)
        if isinstance(support, list):  # a marginal over non-numeric values
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
            f"paths ({waiting} more were still waiting). Raise the limit (Enumerate(model, max_paths=...)), "
            "bound the recursion (a maximum depth), or use Importance or MH for this model."
        )

    @property
    def log_marginal_likelihood(self):
        """log p(data): the log of the summed probability of all paths (-inf if none is possible)."""
        if not len(self):
            return -math.inf
        return float(torch.logsumexp(self.log_weights_tensor(), 0))

    def get_log_normalizer(self):
        return self.log_marginal_likelihood


Search = Enumerate
