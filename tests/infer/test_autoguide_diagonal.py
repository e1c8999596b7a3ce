"""AutoDiagonalNormal (Pyro's name and parameters) and the joint guides' marginal quantiles."""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import SVI, Trace_ELBO
from ppl_kernel.infer.autoguide import AutoDiagonalNormal, AutoMultivariateNormal
from ppl_kernel.optim import Adam
from tests.infer.test_svi import POST_MEAN, POST_SD, scale, scale_tolerances, tail_average


def scale_model():
    pyro.sample("w", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    pyro.sample("s", dist.HalfNormal(1.0))


def test_parameters_are_named_as_in_pyro():
    AutoDiagonalNormal(scale_model)()
    assert {"AutoDiagonalNormal.loc", "AutoDiagonalNormal.scale"} == set(pyro.get_param_store())


def test_log_density_of_the_guide_is_the_diagonal_normal_with_jacobian():
    guide = AutoDiagonalNormal(scale_model)
    tr = pyro.poutine.trace(guide).get_trace()
    loc, scale = pyro.param("AutoDiagonalNormal.loc"), pyro.param("AutoDiagonalNormal.scale")
    latent = tr["_AutoDiagonalNormal_latent"].value
    expected = torch.distributions.Normal(loc, scale).log_prob(latent).sum() - latent[2]  # s = exp(u): -log|ds/du|
    total = sum(site.log_prob_sum() for site in tr if site.type == "sample")
    assert torch.allclose(total, expected)


def test_svi_learns_the_scale_posterior():
    # Polyak-averaged parameters after a burn-in, with test_svi.py's tolerances (the same Normal family).
    guide = AutoDiagonalNormal(scale)
    svi = SVI(scale, guide, Adam({"lr": 0.03}), Trace_ELBO())
    steps, burn_in = 2000, 700
    mean, sd = tail_average(svi, (8.5,), steps, burn_in, lambda: (
        pyro.param("AutoDiagonalNormal.loc").item(), pyro.param("AutoDiagonalNormal.scale").item()))
    tol_mean, tol_sd = scale_tolerances(steps - burn_in)
    assert abs(mean - POST_MEAN) < tol_mean
    assert abs(sd - POST_SD) < tol_sd


def test_quantiles_are_the_marginal_normal_quantiles_mapped_into_the_support():
    guide = AutoDiagonalNormal(scale_model)
    guide()
    q = guide.quantiles([0.5, 0.975])
    loc, scale = pyro.param("AutoDiagonalNormal.loc"), pyro.param("AutoDiagonalNormal.scale")
    assert torch.allclose(q["w"][0], loc[:2])
    assert math.isclose(q["s"][1].item(), math.exp(loc[2].item() + 1.959964 * scale[2].item()), rel_tol=1e-4)


def test_multivariate_normal_quantiles_use_the_marginal_scale():
    guide = AutoMultivariateNormal(scale_model)
    guide()
    q = guide.quantiles([0.975])
    loc = pyro.param("AutoMultivariateNormal.loc")
    scale_tril = pyro.param("AutoMultivariateNormal.scale_tril")
    sd = (scale_tril @ scale_tril.T).diagonal().sqrt()
    assert torch.allclose(q["w"][0], loc[:2] + 1.959964 * sd[:2], atol=1e-5)
