"""Draws of torch families whose own samplers vmap refuses, made in ways it can batch.

A batched run (``vectorize=True``: many MH chains, batched importance, ``run_batched``) runs the model once
under ``torch.func.vmap(randomness="different")``. Several of torch's samplers cannot run there:

- an autograd Function: ``Dirichlet`` and ``Beta`` (a Dirichlet's first coordinate), which vmap refuses;
- random numbers written into a fresh tensor in place (``Exponential``'s ``exponential_``, ``Cauchy``'s
  ``cauchy_``, ``Laplace``'s and ``Geometric``'s ``uniform_``, the standard normals of ``StudentT`` and
  ``MultivariateNormal``), or counts added into one (``Multinomial``'s ``scatter_add_``): a tensor made
  inside the run has no run dimension, so vmap refuses to write per-run values into it;
- an in-place clamp (``Gamma`` and what draws through it: ``Chi2``, ``InverseGamma``, ``NegativeBinomial``),
  which vmap has no batching rule for: it loops over the runs (a batched MH step of 1000 chains of a
  Gamma-Poisson model took 10 ms);
- a base distribution built inside torch's constructor (``HalfCauchy``'s Cauchy), which ours cannot replace.

A model with such a site could not run batched, or ran slowly. ``sample`` here draws the same distribution
from factory functions and out-of-place operations (``torch.rand``, ``torch.randn``, ``_standard_gamma``,
``_sample_dirichlet``); where that is torch's own sampler on the same arguments (Gamma, Chi2, Beta,
Dirichlet), the draws are torch's for a seed, otherwise torch's own workaround for its tracer (uniforms by
``torch.rand``) or the inverse CDF. ``rsample``, which carries the gradient, stays torch's.
"""

import math

import torch
import torch.distributions as td
from torch.distributions.multivariate_normal import _batch_mv

from .categorical import categorical_draw


def _uniforms(like, shape):
    return torch.rand(shape, dtype=like.dtype, device=like.device)


def exponential_of(u, rate):
    """An Exponential(rate) draw from a uniform ``u`` on [0, 1): ``-log(1 - u) / rate`` (the scalar fast path's
    draw too, scalar_families.py, so that a seed draws the same either way)."""
    return -torch.log1p(-u) / rate


def half_cauchy_of(u, scale):
    """A HalfCauchy(scale) draw from a uniform ``u`` on [0, 1): the size of ``scale * tan(pi (u - 1/2))`` (the
    scalar fast path's draw too)."""
    return scale * torch.tan(math.pi * (u - 0.5)).abs()


def _gamma(concentration, rate, shape):
    """torch's Gamma draw (``_standard_gamma`` over the rate, at least the smallest positive float), out of
    place."""
    value = torch._standard_gamma(concentration.expand(shape)) / rate.expand(shape)
    return value.clamp(min=torch.finfo(value.dtype).tiny)


class _GammaDraw:
    """``sample`` of a Gamma (or of its subclass Chi2) by :func:`_gamma`."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return _gamma(self.concentration, self.rate, self._extended_shape(sample_shape))


class Gamma(_GammaDraw, td.Gamma):
    """torch.distributions.Gamma (see torch's documentation), whose ``sample`` runs batched.

    >>> import torch, ppl_kernel.distributions as dist
    >>> draws = torch.func.vmap(lambda _: dist.Gamma(2.0, 1.0).sample(), randomness="different")(torch.zeros(4))
    >>> draws.shape, bool((draws > 0).all())
    (torch.Size([4]), True)
    """


class Chi2(_GammaDraw, td.Chi2):
    """torch.distributions.Chi2 (a Gamma of concentration df / 2 and rate 1/2), whose ``sample`` runs batched."""


class Beta(td.Beta):
    """torch.distributions.Beta (see torch's documentation), whose ``sample`` runs batched.

    >>> import torch, ppl_kernel.distributions as dist
    >>> draws = torch.func.vmap(lambda _: dist.Beta(2.0, 3.0).sample(), randomness="different")(torch.zeros(4))
    >>> draws.shape, bool(((draws > 0) & (draws < 1)).all())
    (torch.Size([4]), True)
    """

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():  # torch's Beta is the first coordinate of a Dirichlet((concentration1, concentration0))
            return torch._sample_dirichlet(self._dirichlet.concentration.expand(shape + (2,))).select(-1, 0)


class InverseGamma(td.InverseGamma):
    """torch.distributions.InverseGamma (one over a Gamma draw), whose ``sample`` runs batched."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            gamma = self.base_dist
            return 1 / _gamma(gamma.concentration, gamma.rate, self._extended_shape(sample_shape))


class NegativeBinomial(td.NegativeBinomial):
    """torch.distributions.NegativeBinomial (a Poisson of a Gamma rate), whose ``sample`` runs batched."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            gamma = self._gamma
            return torch.poisson(_gamma(gamma.concentration, gamma.rate, self._extended_shape(sample_shape)))


class Dirichlet(td.Dirichlet):
    """torch.distributions.Dirichlet, whose ``sample`` runs batched (torch's sampler, outside its Function)."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return torch._sample_dirichlet(self.concentration.expand(self._extended_shape(sample_shape)))


class Exponential(td.Exponential):
    """torch.distributions.Exponential, whose ``sample`` runs batched: ``-log(1 - u) / rate``."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return exponential_of(_uniforms(self.rate, self._extended_shape(sample_shape)), self.rate)


class Cauchy(td.Cauchy):
    """torch.distributions.Cauchy, whose ``sample`` runs batched: ``loc + scale * tan(pi (u - 1/2))``."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            u = _uniforms(self.loc, self._extended_shape(sample_shape))
            return self.loc + self.scale * torch.tan(math.pi * (u - 0.5))


class HalfCauchy(td.HalfCauchy):
    """torch.distributions.HalfCauchy (the size of a Cauchy draw around 0), whose ``sample`` runs batched."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return half_cauchy_of(_uniforms(self.scale, self._extended_shape(sample_shape)), self.scale)


class Laplace(td.Laplace):
    """torch.distributions.Laplace, whose ``sample`` runs batched: torch's formula, its uniform on
    [eps - 1, 1) made by ``torch.rand``."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            eps = torch.finfo(self.loc.dtype).eps
            u = _uniforms(self.loc, self._extended_shape(sample_shape)) * (2 - eps) + (eps - 1)
            return self.loc - self.scale * u.sign() * torch.log1p(-u.abs())


class Geometric(td.Geometric):
    """torch.distributions.Geometric, whose ``sample`` runs batched: torch's formula for its tracer."""

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            u = _uniforms(self.probs, self._extended_shape(sample_shape)).clamp(min=torch.finfo(self.probs.dtype).tiny)
            return (u.log() / (-self.probs).log1p()).floor()


class StudentT(td.StudentT):
    """torch.distributions.StudentT, whose ``sample`` runs batched: a standard normal over the root of a
    Chi2 over its degrees of freedom, as torch's."""

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            x = torch.randn(shape, dtype=self.df.dtype, device=self.df.device)
            z = _gamma(self._chi2.concentration, self._chi2.rate, shape)
            return self.loc + self.scale * x * torch.rsqrt(z / self.df)


class MultivariateNormal(td.MultivariateNormal):
    """torch.distributions.MultivariateNormal, whose ``sample`` runs batched: loc plus the scale's lower
    triangle times standard normals, as torch's."""

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
            return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)


class Multinomial(td.Multinomial):
    """torch.distributions.Multinomial, whose ``sample`` runs batched: ``total_count`` Categorical draws
    (``categorical.py``) counted per outcome by comparison, not torch's in-place ``scatter_add_``."""

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            draws = categorical_draw(self.probs, torch.Size((self.total_count,)) + shape[:-1])
            outcomes = torch.arange(shape[-1], device=draws.device)
            return (draws.unsqueeze(-1) == outcomes).sum(0).to(self.probs.dtype)


# torch's class -> ours
FAMILIES = {td.Gamma: Gamma, td.Chi2: Chi2, td.InverseGamma: InverseGamma, td.NegativeBinomial: NegativeBinomial,
            td.Beta: Beta, td.Dirichlet: Dirichlet, td.Exponential: Exponential, td.Cauchy: Cauchy,
            td.HalfCauchy: HalfCauchy, td.Laplace: Laplace, td.Geometric: Geometric, td.StudentT: StudentT,
            td.MultivariateNormal: MultivariateNormal, td.Multinomial: Multinomial}
