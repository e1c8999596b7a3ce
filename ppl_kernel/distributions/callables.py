"""The seed tutorial's callable primitives: ``dist.normal(mu, sigma)`` draws, ``.log_pdf`` scores.

Pyro 0.1 exposed each distribution as a function object; code written for it reads::

    x = dist.normal(mu, sigma)                 # a sample
    dist.normal.log_pdf(x, mu, sigma)          # its summed log density
    pyro.sample("x", dist.normal, mu, sigma)   # a named sample

A :class:`Primitive` wraps a distribution class; calling it builds the (deferred) distribution
and draws from it, so the math stays torch's.
"""


class Primitive:
    """A distribution family used as a function: ``prim(*params)`` samples, ``log_pdf`` scores.

    >>> import torch, ppl_kernel.distributions as dist
    >>> x = dist.normal(torch.zeros(1), torch.ones(1))
    >>> x.shape
    torch.Size([1])
    >>> round(dist.normal.log_pdf(torch.zeros(1), torch.zeros(1), torch.ones(1)).item(), 4)
    -0.9189
    """

    def __init__(self, dist_class, name):
        self.dist_class = dist_class
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        from .scoring import draw_from

        return draw_from(self.dist_class(*args, **kwargs))

    def batch_log_pdf(self, x, *args, **kwargs):
        """Per-element log density of ``x`` under the distribution with these parameters."""
        d = self.dist_class(*args, **kwargs)
        return d.log_prob(x if not isinstance(x, (list, float, int)) else _as_tensor(x))

    def log_pdf(self, x, *args, **kwargs):
        """Summed log density of ``x`` under the distribution with these parameters."""
        return self.batch_log_pdf(x, *args, **kwargs).sum()

    def __repr__(self):
        return f"dist.{self.__name__}"


def _as_tensor(x):
    import torch

    return torch.tensor(x, dtype=torch.get_default_dtype())
