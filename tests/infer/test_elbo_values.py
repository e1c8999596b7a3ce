"""What Trace_ELBO's entry points return, as in Pyro."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import SVI, GuideError, Trace_ELBO


def model():
    pyro.sample("x", dist.Bernoulli(0.3))


def guide():
    pyro.sample("x", dist.Bernoulli(pyro.param("p", torch.tensor(0.6))))


def test_differentiable_loss_is_the_loss_for_a_non_reparameterized_guide():
    pyro.set_rng_seed(3)
    values = [Trace_ELBO().differentiable_loss(model, guide).item() for _ in range(5)]
    pyro.set_rng_seed(3)
    losses = [Trace_ELBO().loss(model, guide) for _ in range(5)]
    assert values == losses


def test_differentiable_loss_keeps_the_score_function_gradient():
    loss = Trace_ELBO(num_particles=1).differentiable_loss(model, guide)
    loss.backward()
    assert pyro.get_param_store().get_unconstrained("p").grad.abs().item() > 0


def test_svi_on_a_model_without_sample_sites_has_zero_loss():
    def params_only():
        pyro.param("a", torch.tensor(1.0))

    svi = SVI(params_only, params_only, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO())
    assert svi.step() == 0.0


def test_model_and_guide_event_dims_must_agree():
    def vector_model():
        pyro.sample("w", dist.Normal(torch.zeros(3), 1.0).to_event(1))

    def batch_guide():
        pyro.sample("w", dist.Normal(torch.zeros(3), 1.0))

    with pytest.raises(GuideError, match=r"event_dims disagree at site 'w'.*1 event dims.*has 0.*to_event"):
        Trace_ELBO().loss(vector_model, batch_guide)
