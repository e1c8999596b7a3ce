"""``AutoLaplaceApproximation``: a MAP point of all latent sites jointly (unconstrained), then a Gaussian with
the inverse Hessian of ``-log p`` there as its covariance."""

import torch

from ...distributions import Delta
from ...params import get_param_store
from ...poutine.replay_messenger import ReplayMessenger
from ...poutine.trace_messenger import TraceMessenger
from ...primitives import param
from ..elbo import GuideError
from .guides import AutoMultivariateNormal


class AutoLaplaceApproximation(AutoMultivariateNormal):
    """Train it as a MAP guide (``<prefix>.loc``: the unconstrained latents, each site a Delta there); then
    :meth:`laplace_approximation` returns an ``AutoMultivariateNormal`` centred at that point, with covariance
    the inverse Hessian of the loss ``log q - log p``, as Pyro's.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import SVI, Trace_ELBO
    >>> from ppl_kernel.optim import Adam
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("w", dist.Normal(1.0, 2.0))
    >>> guide = AutoLaplaceApproximation(model)
    >>> svi = SVI(model, guide, Adam({"lr": 0.1}), Trace_ELBO())
    >>> for _ in range(300):
    ...     _ = svi.step()
    >>> laplace = guide.laplace_approximation()
    >>> round(laplace.median()["w"].item(), 2), round(pyro.param("AutoMultivariateNormal.scale_tril").item(), 2)
    (1.0, 2.0)
    """

    def _params(self):
        return param(f"{self.prefix}.loc", self._init_loc)

    def _create_params(self):
        if self.sites:
            self._params()

    def _latent_distribution(self):
        return Delta(self._params(), event_dim=1)

    def _marginal_scale(self):
        return torch.zeros_like(get_param_store()[f"{self.prefix}.loc"])

    def laplace_approximation(self, *args, **kwargs):
        """An ``AutoMultivariateNormal`` (prefix ``AutoMultivariateNormal``) at the MAP point, with the inverse
        Hessian of ``-log p`` in the unconstrained space as its covariance."""
        self._ready(args, kwargs)
        loc = get_param_store().get_unconstrained(f"{self.prefix}.loc")
        guide_tracer = TraceMessenger(self, calls=False)
        guide_tracer(*args, **kwargs)
        model_tracer = TraceMessenger(ReplayMessenger(self.model, trace=guide_tracer.trace), calls=False)
        model_tracer(*args, **kwargs)
        loss = guide_tracer.trace.log_prob_sum() - model_tracer.trace.log_prob_sum()
        (grad,) = torch.autograd.grad(loss, loc, create_graph=True)
        hessian = torch.stack([torch.autograd.grad(g, loc, retain_graph=True)[0] for g in grad])
        try:
            scale_tril = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(hessian.detach())))
        except RuntimeError:
            raise GuideError(
                f"laplace_approximation of model '{self.__name__}': the Hessian of -log p at the guide's point is not "
                "positive definite, so that point is not a maximum. Train the guide longer (more SVI steps) first."
            ) from None
        gaussian = AutoMultivariateNormal(self.model, init_loc_fn=self.init_loc_fn)
        gaussian._ready(args, kwargs)
        store = get_param_store()
        store.set(f"{gaussian.prefix}.loc", loc.detach().clone())
        store.set(f"{gaussian.prefix}.scale_tril", scale_tril, constraint=store.get_constraint(f"{gaussian.prefix}.scale_tril"))
        return gaussian

