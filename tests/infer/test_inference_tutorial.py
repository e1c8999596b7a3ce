"""Pyro 0.1.2's second tutorial ("Inference in Pyro: From Stochastic Functions to Marginal Distributions")
runs with only its imports changed, and its marginals mean what the tutorial says.

The code below is the tutorial's, in its order (`import pyro` became `import ppl_kernel as pyro`;
the plotting calls are left out, the lists they plot are kept). Exact answers: with weight ~ N(guess, 1)
and measurement ~ N(weight, 0.75), the posterior of weight given a measurement m is normal with
precision 1 + 1/0.75^2 and mean (guess + m / 0.75^2) / (1 + 1/0.75^2).
"""

import math

import torch
from torch.autograd import Variable

import ppl_kernel as pyro
import ppl_kernel.distributions as dist

from .stats import snis_se

PRECISION = 1 + 1 / 0.75**2


def exact_posterior(guess, measurement):
    return (guess + measurement / 0.75**2) / PRECISION, math.sqrt(1 / PRECISION)


def scale(guess):
    weight = pyro.sample("weight", dist.normal, guess, Variable(torch.ones(1)))
    return pyro.sample("measurement", dist.normal, weight, Variable(torch.Tensor([0.75])))


def test_the_marginal_of_a_stochastic_function_is_a_stochastic_function():
    posterior = pyro.infer.Importance(scale, num_samples=100)
    guess = Variable(torch.Tensor([8.5]))
    marginal = pyro.infer.Marginal(posterior)
    draws = [marginal(guess).data[0] for _ in range(100)]
    assert all(isinstance(d, torch.Tensor) and d.dim() == 0 for d in draws)
    # The prior predictive of the measurement is N(8.5, sqrt(1 + 0.75^2)); the draws come from a 100-sample
    # approximation of it: SE^2 = its own SE^2 (snis_se) + the draws' var / 100. 5 SE.
    approx = marginal.marginal(guess)
    se = math.sqrt(snis_se(approx, lambda v: v.item()) ** 2 + (1 + 0.75**2) / 100)
    assert abs(sum(d.item() for d in draws) / 100 - 8.5) < 5 * se


def test_a_marginal_over_named_sites_returns_a_dict_of_site_values():
    guess = Variable(torch.Tensor([8.5]))
    conditioned_scale = pyro.condition(scale, data={"measurement": Variable(torch.Tensor([9.5]))})
    marginal = pyro.infer.Marginal(pyro.infer.Importance(conditioned_scale, num_samples=100), sites=["weight"])
    # The marginal distribution concentrates around the data
    value = marginal(guess)
    assert set(value) == {"weight"} and value["weight"].shape == (1,)
    draws = [marginal(guess)["weight"].data[0] for _ in range(100)]
    mean, sd = exact_posterior(8.5, 9.5)
    approx = marginal.marginal(guess)
    se = math.sqrt(snis_se(approx, lambda v: v[0].item()) ** 2 + sd**2 / 100)
    assert abs(sum(d.item() for d in draws) / 100 - mean) < 5 * se


def deferred_conditioned_scale(measurement, *args, **kwargs):
    return pyro.condition(scale, data={"measurement": measurement})(*args, **kwargs)


def scale_prior_guide(measurement, guess):
    return pyro.sample("weight", dist.normal, guess, Variable(torch.ones(1)))


def test_importance_with_a_guide_gives_the_weight_marginal_as_a_dict():
    guess = Variable(torch.Tensor([8.5]))
    measurement = Variable(torch.Tensor([9.5]))
    posterior = pyro.infer.Importance(deferred_conditioned_scale, guide=scale_prior_guide, num_samples=2000)
    marginal = pyro.infer.Marginal(posterior, sites=["weight"])
    assert marginal(measurement, guess)["weight"].shape == (1,)
    approx = marginal.marginal(measurement, guess)
    mean, _ = exact_posterior(8.5, 9.5)
    estimate = float((approx.weights * approx.samples[:, 0, 0].double()).sum())
    assert abs(estimate - mean) < 5 * snis_se(approx, lambda v: v[0].item())  # 5 SE of the weighted mean


def scale_parametrized_guide(measurement, guess):
    a = pyro.param("a", Variable(torch.randn(1) + guess.data.clone(), requires_grad=True))
    b = pyro.param("b", Variable(torch.randn(1), requires_grad=True))
    return pyro.sample("weight", dist.normal, a, torch.exp(b))


def test_svi_fits_the_parametrized_guide_and_importance_then_uses_it():
    guess = Variable(torch.Tensor([8.5]))
    measurement = Variable(torch.Tensor([9.5]))
    svi = pyro.infer.SVI(model=deferred_conditioned_scale, guide=scale_parametrized_guide,
                         optim=pyro.optim.SGD({"lr": 0.001}), loss="ELBO")
    losses = [svi.step(measurement, guess) for _ in range(1000)]
    assert all(math.isfinite(loss) for loss in losses)
    posterior = pyro.infer.Importance(deferred_conditioned_scale, scale_parametrized_guide, num_samples=10)
    marginal = pyro.infer.Marginal(posterior, sites=["weight"])
    assert marginal(measurement, guess)["weight"].shape == (1,)
