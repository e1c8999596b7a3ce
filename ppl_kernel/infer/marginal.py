"""``Marginal``: the 0.1-era spelling, a stochastic function that samples from a posterior's marginal."""

from .posterior import EmpiricalMarginal, value_key


class Marginal:
    """Wrap an inference object as a stochastic function: ``Marginal(Importance(model, num_samples=N))``.

    Calling it with the model's arguments runs the inference once for those arguments (cached)
    and returns a draw from the marginal of the return value (or of ``sites``). ``log_pdf(value,
    *args)``, ``support(*args)`` and ``marginal(*args)`` (the :class:`EmpiricalMarginal`) read the
    same cached run; ``pyro.sample("x", marginal, *args)`` works as in Pyro 0.1.

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

    def __call__(self, *args, **kwargs):
        return self.marginal(*args, **kwargs).sample()

    def sample(self, *args, **kwargs):
        return self(*args, **kwargs)

    def log_pdf(self, value, *args, **kwargs):
        return self.marginal(*args, **kwargs).log_prob(value)

    def support(self, *args, **kwargs):
        return self.marginal(*args, **kwargs).support
