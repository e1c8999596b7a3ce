"""Gamma and Beta draws that run batched: torch's own samplers, called where vmap can batch them.

torch's ``Gamma`` clamps its draw in place (``clamp_``), which vmap has no batching rule for: a batched run
of 1000 MH chains fell back to a loop over the chains (10 ms a step). torch's ``Beta`` draws through the
Dirichlet's autograd Function, which vmap refuses, so a model with a Beta prior could not run batched at
all. ``sample`` here calls the same samplers (``_standard_gamma``, ``_sample_dirichlet``) on the same
arguments -- the same draws for a seed -- out of place and outside the Function; ``rsample``, which carries
the gradient, stays torch's.
"""

import torch
import torch.distributions as td


class Gamma(td.Gamma):
    """torch.distributions.Gamma (see torch's documentation), whose ``sample`` runs batched.

    >>> import torch, ppl_kernel.distributions as dist
    >>> draws = torch.func.vmap(lambda _: dist.Gamma(2.0, 1.0).sample(), randomness="different")(torch.zeros(4))
    >>> draws.shape, bool((draws > 0).all())
    (torch.Size([4]), True)
    """

    def sample(self, sample_shape=torch.Size(), *, generator=None):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            value = torch._standard_gamma(self.concentration.expand(shape), generator=generator) / \
                self.rate.expand(shape)
            return value.clamp(min=torch.finfo(value.dtype).tiny)  # as torch's, out of place


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
