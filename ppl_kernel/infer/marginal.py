"""``Marginal``: an inference result as a stochastic function (Pyro 0.1) and as one site of an outer model."""

import torch

from .posterior import EmpiricalMarginal, value_key


class Marginal:
    """Wrap an inference object as a stochastic function: ``Marginal(Importance(model, num_samples=N))``.

    Calling it with the model's arguments runs the inference once for those arguments (cached per
    distinct arguments, as WebPPL's ``cache``) and returns a draw from the marginal of the return
    value, or, with ``sites=[names]``, a dict ``{name: value}`` of those sites taken from one
    weighted trace (Pyro 0.1). ``log_pdf(value, *args)``, ``support(*args)`` and ``marginal(*args)``
    (the :class:`EmpiricalMarginal`) read the same cached run.

    Nested inference: ``pyro.sample("x", marginal, *args)`` inside another model records *one*
    site ``x`` whose distribution is the inner marginal (scored with its ``log_prob``, enumerated
    over its support); the inner runs are invisible to the outer inference.

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import Marginal, Search
    >>> def coin(p):
    ...     return pyro.sample("c", dist.Bernoulli(p))
    >>> m = Marginal(Search(coin))
    >>> m(0.25).item() in (0.0, 1.0), round(m.log_pdf(torch.tensor(1.0), 0.25).exp().item(), 4)
    (True, 0.25)
    """

    def __init__(self, trace_dist, sites=None):
        self.trace_dist = trace_dist
        self.sites = sites
        self._cache = {}

    def marginal(self, *args, **kwargs):
        """The :class:`EmpiricalMarginal` of the inference run on these arguments (run once, then cached)."""
        key = value_key((args, tuple(sorted(kwargs.items()))))
        marginal = self._cache.get(key)
        if marginal is None:
            posterior = self.trace_dist.run(*args, **kwargs)
            marginal = self._cache[key] = EmpiricalMarginal(posterior, self.sites)
        return marginal

    def site_distribution(self, *args, **kwargs):
        """The distribution that ``sample(name, self, *args)`` records: the marginal for these arguments."""
        return self.marginal(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        marginal = self.marginal(*args, **kwargs)
        if self.sites is None or isinstance(self.sites, str):
            return marginal.sample()
        # Several sites: one weighted trace's values, by name (Pyro 0.1's dict).
        index = int(torch.multinomial(marginal.weights.float(), 1).item())
        row = marginal.values[index]
        return {name: row[i] for i, name in enumerate(self.sites)}

    def sample(self, *args, **kwargs):
        return self(*args, **kwargs)

    def log_pdf(self, value, *args, **kwargs):
        return self.marginal(*args, **kwargs).log_prob(value)

    def support(self, *args, **kwargs):
        return self.marginal(*args, **kwargs).support
