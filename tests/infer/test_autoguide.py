"""Automatic guides: AutoNormal, AutoDelta, AutoMultivariateNormal learn known posteriors and respect plates.

Tolerances follow the Polyak-averaging argument in test_svi.py: a parameter averaged over the T steps
after a burn-in has standard error g / (H sqrt(T)); for the location of a Gaussian guide at a Gaussian
posterior that is the posterior sd over sqrt(T), and for its scale the sd over sqrt(2 T).
"""

import math

import pytest
import torch
from torch.distributions import constraints

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import SVI, GuideError, Trace_ELBO
from ppl_kernel.infer.autoguide import (
    AutoDelta, AutoMultivariateNormal, AutoNormal, init_to_feasible, init_to_mean, init_to_median, init_to_sample,
    init_to_value,
)
from ppl_kernel.optim import SGD, Adam
from tests.infer.stats import batch_means_se
from tests.infer.test_svi import HEADS, POST_MEAN, POST_SD, coin, scale, scale_tolerances, tail_average


# ---- AutoNormal ---------------------------------------------------------------------------------
def test_auto_normal_learns_the_scale_posterior():
    guide = AutoNormal(scale)
    svi = SVI(scale, guide, Adam({"lr": 0.03}), Trace_ELBO())
    # AutoNormal starts at the unconstrained origin (loc 0): 9 away at ~lr per step, so a longer burn-in.
    steps, burn_in = 2000, 700
    mean, sd = tail_average(svi, (8.5,), steps, burn_in, lambda: (
        pyro.param("AutoNormal.locs.weight").item(), pyro.param("AutoNormal.scales.weight").item()))
    tol_mean, tol_sd = scale_tolerances(steps - burn_in)  # the same Normal family as the hand-written guide
    assert abs(mean - POST_MEAN) < tol_mean
    assert abs(sd - POST_SD) < tol_sd
    median = guide.median(8.5)["weight"].item()
    assert median == pytest.approx(pyro.param("AutoNormal.locs.weight").item())


def test_auto_normal_parameters_and_first_values():
    guide = AutoNormal(scale, init_loc_fn=init_to_value(values={"weight": 8.0}), init_scale=0.2)
    guide(8.5)
    store = pyro.get_param_store()
    assert sorted(store) == ["AutoNormal.locs.weight", "AutoNormal.scales.weight"]
    assert store["AutoNormal.locs.weight"].item() == 8.0
    assert store["AutoNormal.scales.weight"].item() == pytest.approx(0.2)
    assert store.get_constraint("AutoNormal.scales.weight") is constraints.positive


def test_auto_normal_respects_plates_and_learns_each_element():
    # Four groups, each mu_i ~ N(0, 1) with one observation y_i ~ N(mu_i, 0.5): independent conjugate
    # posteriors with precision 1 + 4 = 5, mean 4 y_i / 5 and sd 1/sqrt(5).
    data = torch.tensor([1.0, -0.5, 2.0, 0.3])

    def model(data):
        with pyro.plate("groups", len(data)):
            mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
            pyro.sample("y", dist.Normal(mu, 0.5), obs=data)

    guide = AutoNormal(model)
    guide_trace = poutine.trace(guide).get_trace(data)
    model_trace = poutine.trace(model).get_trace(data)
    assert guide_trace["mu"].cond_indep_stack == model_trace["mu"].cond_indep_stack
    assert pyro.param("AutoNormal.locs.mu").shape == (4,)

    svi = SVI(model, guide, Adam({"lr": 0.03}), Trace_ELBO())
    steps, burn_in = 1500, 500
    locs = tail_average(svi, (data,), steps, burn_in, lambda: pyro.param("AutoNormal.locs.mu").tolist())
    sd = 1 / math.sqrt(5)
    for loc, y in zip(locs, data.tolist(), strict=True):
        assert abs(loc - 0.8 * y) < 5 * sd / math.sqrt(steps - burn_in)  # 0.071


def test_auto_normal_handles_nested_plates_event_dims_and_constraints():
    def model():
        with pyro.plate("rows", 3, dim=-2):
            with pyro.plate("cols", 2, dim=-1):
                pyro.sample("p", dist.Dirichlet(torch.ones(4)))
                pyro.sample("s", dist.Gamma(2.0, 1.0))

    guide = AutoNormal(model)
    guide_trace = poutine.trace(guide).get_trace()
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace()
    for name, shape in (("p", (3, 2, 4)), ("s", (3, 2))):
        assert guide_trace[name].value.shape == shape == model_trace[name].value.shape
        assert guide_trace[name].cond_indep_stack == model_trace[name].cond_indep_stack
        assert bool(model_trace[name].fn.support.check(guide_trace[name].value).all())
    # The simplex is modelled in its 3 unconstrained coordinates per row and column.
    assert pyro.param("AutoNormal.locs.p").shape == (3, 2, 3)
    assert math.isfinite(SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO()).step())


def test_auto_normal_quantiles_bracket_the_median():
    guide = AutoNormal(scale, init_loc_fn=init_to_value(values={"weight": 9.0}), init_scale=0.5)
    q = guide.quantiles([0.1, 0.5, 0.9], 8.5)["weight"]
    assert q.shape == (3,)
    # The Normal's 10% and 90% points sit 1.2816 sd either side of its median.
    assert q.tolist() == pytest.approx([9.0 - 1.2816 * 0.5, 9.0, 9.0 + 1.2816 * 0.5], abs=1e-3)


def test_auto_normal_with_vectorized_particles():
    guide = AutoNormal(coin)
    elbo = Trace_ELBO(num_particles=16, vectorize_particles=True)
    svi = SVI(coin, guide, Adam({"lr": 0.01}), elbo)
    assert math.isfinite(svi.step(HEADS))
    assert elbo.max_plate_nesting == 1
    assert pyro.param("AutoNormal.locs.fairness").shape == ()


def test_auto_guide_refuses_a_discrete_site_with_the_fix():
    def model():
        z = pyro.sample("z", dist.Bernoulli(0.3))
        pyro.sample("y", dist.Normal(z, 1.0), obs=torch.tensor(0.5))

    with pytest.raises(GuideError) as err:
        AutoNormal(model)()
    text = str(err.value)
    assert "AutoNormal guides continuous latent sites only" in text and "site 'z'" in text
    assert "of model 'model'" in text
    assert "Write a guide by hand" in text


def test_the_prototype_run_is_hidden_from_the_surrounding_trace():
    guide = AutoNormal(scale)
    tr = poutine.trace(guide).get_trace(8.5)
    # Only the guide's own sites: the model's run that taught it the sites is blocked.
    assert [s.name for s in tr] == ["AutoNormal.locs.weight", "AutoNormal.scales.weight", "weight"]


# ---- AutoDelta ----------------------------------------------------------------------------------
def test_auto_delta_finds_the_map_of_the_coin():
    # Posterior Beta(16, 14): its mode is 15 / 28. With a point guide the loss is -log p(data, f) at the point,
    # with no noise at all, so gradient descent converges to the mode to float precision.
    guide = AutoDelta(coin)
    svi = SVI(coin, guide, SGD({"lr": 0.05}), Trace_ELBO())
    for _ in range(400):  # in the logit the curvature is 28 q (1 - q) ~ 7: GD contracts by 0.35 per step
        svi.step(HEADS)
    assert pyro.param("AutoDelta.fairness").item() == pytest.approx(15 / 28, abs=1e-4)
    assert pyro.get_param_store().get_constraint("AutoDelta.fairness") is constraints.unit_interval


def test_auto_delta_starts_at_the_prior_median():
    pyro.set_rng_seed(1)
    guide = AutoDelta(scale)
    value = guide(8.5)["weight"].item()
    # The median of 15 draws from N(8.5, 1) has sd ~ 1.2533 / sqrt(15) = 0.32; 5 of those: 1.6.
    assert abs(value - 8.5) < 1.6


# ---- AutoMultivariateNormal ---------------------------------------------------------------------
X = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
Y = torch.tensor([2.0, 0.7, 1.1])
SIGMA = 0.5


def regression():
    w = pyro.sample("w", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    with pyro.plate("data", 3):
        # (X * w).sum(-1) rather than X @ w: correct also when w carries batch dimensions (vectorized particles).
        pyro.sample("y", dist.Normal((X * w).sum(-1), SIGMA), obs=Y)


def regression_posterior():
    precision = torch.eye(2) + X.T @ X / SIGMA**2
    cov = torch.linalg.inv(precision)
    return cov @ X.T @ Y / SIGMA**2, cov


def test_auto_mvn_at_the_posterior_gives_the_exact_evidence_for_every_draw():
    # If q is the exact posterior, log p(y, w) - log q(w) = log p(y) for every w: checks the guide's density
    # (the auxiliary latent, its unpacking, the Delta sites) with no statistical slack.
    mean, cov = regression_posterior()
    guide = AutoMultivariateNormal(regression)
    guide()
    store = pyro.get_param_store()
    store["AutoMultivariateNormal.loc"] = mean
    store["AutoMultivariateNormal.scale_tril"] = torch.linalg.cholesky(cov)
    evidence = torch.distributions.MultivariateNormal(torch.zeros(3), X @ X.T + SIGMA**2 * torch.eye(3))
    for _ in range(5):
        assert Trace_ELBO().loss(regression, guide) == pytest.approx(-evidence.log_prob(Y).item(), abs=1e-4)


def test_auto_mvn_carries_the_jacobian_of_constrained_sites():
    # No data: the posterior is the prior, LogNormal(0, 1) x N(0, 1), which is exp of N(0, 1) in the first
    # coordinate. With the guide set to it (loc 0, scale_tril I) the loss is exactly 0 for every draw, but only
    # if each Delta site carries log |du/dz| = -u: without it every draw would be off by u.
    def model():
        pyro.sample("s", dist.LogNormal(0.0, 1.0))
        pyro.sample("x", dist.Normal(0.0, 1.0))

    guide = AutoMultivariateNormal(model)
    guide()
    store = pyro.get_param_store()
    store["AutoMultivariateNormal.loc"] = torch.tensor([0.0, 0.0])
    store["AutoMultivariateNormal.scale_tril"] = torch.eye(2)
    for _ in range(5):
        assert Trace_ELBO().loss(model, guide) == pytest.approx(0.0, abs=1e-4)


def test_auto_mvn_learns_the_correlated_posterior():
    mean, cov = regression_posterior()  # mean (0.732, 1.052), sd 0.372 each, correlation -4/9
    exact_corr = (cov[0, 1] / cov.diag().sqrt().prod()).item()
    guide = AutoMultivariateNormal(regression)
    svi = SVI(regression, guide, SGD({"lr": 0.01}), Trace_ELBO())
    steps, burn_in = 1500, 500
    locs, corrs = [], []
    for i in range(steps):
        svi.step()
        if i >= burn_in:
            locs.append(pyro.param("AutoMultivariateNormal.loc").tolist())
            tril = pyro.param("AutoMultivariateNormal.scale_tril").detach()
            c = tril @ tril.T
            corrs.append((c[0, 1] / c.diag().sqrt().prod()).item())
    t = steps - burn_in
    # Location: the noise of its gradient is precision @ L eps, covariance precision at the optimum, and the
    # curvature is the precision, so the averaged error has covariance cov / T: 5 SE = 5 * 0.372 / sqrt(1000).
    for j in range(2):
        average = sum(loc[j] for loc in locs) / t
        assert abs(average - mean[j].item()) < 5 * cov[j, j].sqrt().item() / math.sqrt(t)
    # Correlation: its standard error by batch means over 10 blocks of 100 steps (SGD contracts by
    # lr * smallest precision eigenvalue = 0.05 per step, so blocks are ~5 correlation times long).
    corr = sum(corrs) / t
    assert abs(corr - exact_corr) < 5 * batch_means_se(corrs, batches=10)
    assert corr < -0.25  # a mean-field guide could only say 0


# ---- initialisation strategies -------------------------------------------------------------------
@pytest.mark.parametrize("init, check", [
    (init_to_feasible, lambda v: v == 1.0),  # exp(0) for the positive support
    (init_to_mean, lambda v: v == pytest.approx(2.0)),  # Gamma(2, 1) has mean 2
    (init_to_median, lambda v: 0.5 < v < 4.0),  # median of 15 draws, Gamma(2, 1) median 1.68
    (init_to_sample, lambda v: v > 0),
    (init_to_value(values={"s": 3.0}), lambda v: v == 3.0),
])
def test_init_strategies_start_inside_the_support(init, check):
    def model():
        pyro.sample("s", dist.Gamma(2.0, 1.0))

    value = AutoDelta(model, init_loc_fn=init)()["s"].item()
    assert check(value)
