"""``AutoLowRankMultivariateNormal``: a joint Normal over all latent sites whose covariance is a diagonal plus
a low-rank part, ``D (F F^T + I) D`` in Pyro's parametrisation: correlations at a cost linear in the number
of latent elements."""

import math

import torch
from torch.distributions import LowRankMultivariateNormal, constraints

from ...params import get_param_store
from ...primitives import param
from .guides import AutoMultivariateNormal


class AutoLowRankMultivariateNormal(AutoMultivariateNormal):
    """A joint Normal with covariance ``diag(s) (F F^T + I) diag(s)`` over the flattened unconstrained latents.

    Parameters: ``<prefix>.loc``, ``<prefix>.scale`` (positive, starting at ``init_scale / sqrt(2)``) and
    ``<prefix>.cov_factor`` (D x ``rank``, random with sd ``1 / sqrt(rank)``); ``rank`` defaults to
    ``round(sqrt(D))`` as in Pyro.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("w", dist.Normal(torch.zeros(4), 1.0).to_event(1))
    >>> guide = AutoLowRankMultivariateNormal(model, rank=2)
    >>> guide()["w"].shape, tuple(pyro.param("AutoLowRankMultivariateNormal.cov_factor").shape)
    (torch.Size([4]), (4, 2))
    """

    def __init__(self, model, init_loc_fn=None, init_scale=0.1, rank=None, prefix=None):
        if rank is not None and not (int(rank) == rank and rank > 0):
            raise ValueError(f"AutoLowRankMultivariateNormal: rank must be a positive integer, got {rank!r}")
        super().__init__(model, init_loc_fn, init_scale, prefix)
        self.rank = rank

    def _params(self):
        loc = param(f"{self.prefix}.loc", self._init_loc)
        dim = loc.shape[-1]
        rank = self.rank if self.rank is not None else max(1, round(math.sqrt(dim)))
        scale = param(f"{self.prefix}.scale", lambda: torch.full_like(loc, self.init_scale / math.sqrt(2)),
                      constraint=constraints.positive)
        cov_factor = param(f"{self.prefix}.cov_factor",
                           lambda: torch.randn(dim, rank, dtype=loc.dtype, device=loc.device) / math.sqrt(rank))
        return loc, scale, cov_factor

    def _latent_distribution(self):
        loc, scale, cov_factor = self._params()
        return LowRankMultivariateNormal(loc, cov_factor * scale.unsqueeze(-1), scale * scale, validate_args=False)

    def _marginal_scale(self):
        store = get_param_store()
        scale, cov_factor = store[f"{self.prefix}.scale"], store[f"{self.prefix}.cov_factor"]
        return scale * (cov_factor.pow(2).sum(-1) + 1).sqrt()
