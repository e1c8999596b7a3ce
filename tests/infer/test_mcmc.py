"""MCMC with NUTS and HMC: posterior moments of conjugate models within 5 standard errors (from the
chains' own effective sample size), chains that agree (split R-hat), divergences where the geometry is bad."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import HMC, MCMC, NUTS, EmpiricalMarginal
from ppl_kernel.infer.errors import DiscreteLatentError, InferenceError
from ppl_kernel.infer.mcmc.diagnostics import effective_sample_size, split_gelman_rubin
from ppl_kernel.infer.mcmc.util import initialize_model

DATA = torch.tensor([2.1, 3.4, 2.9, 4.2, 3.3, 2.5, 3.8, 3.0])


def normal_normal(data):
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    with pyro.plate("data", len(data)):
        pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)


def normal_normal_posterior(data, prior_sd=2.0, noise_sd=1.0):
    precision = 1 / prior_sd**2 + len(data) / noise_sd**2
    return float(data.sum() / noise_sd**2 / precision), 1 / precision


def assert_moments(draws, mean, var):
    """Mean and variance of the pooled draws (chains x draws) within 5 standard errors of the truth.

    SE of the mean: sd / sqrt(ESS); SE of the variance: var * sqrt(2 / ESS) (the variance of a sample
    variance of Normal draws, with the chain's ESS in place of n; for the Beta below it is within 10%).
    """
    ess = float(effective_sample_size(draws))
    assert ess > 100, f"too few effective samples ({ess:.0f}) for a moment test"
    flat = draws.reshape(-1).double()
    se_mean = math.sqrt(var / ess)
    assert abs(flat.mean().item() - mean) < 5 * se_mean
    se_var = var * math.sqrt(2 / ess)
    assert abs(flat.var().item() - var) < 5 * se_var


@pytest.fixture(scope="module")
def normal_normal_draws():
    """One NUTS run (2 chains) shared by the tests that read it: the sampler is the slow part."""
    pyro.set_rng_seed(0)
    mcmc = MCMC(NUTS(normal_normal), num_samples=500, warmup_steps=300, num_chains=2)
    mcmc.run(DATA)
    return mcmc.get_samples(group_by_chain=True)["mu"]


def test_nuts_normal_normal_moments(normal_normal_draws):
    mean, var = normal_normal_posterior(DATA)
    assert_moments(normal_normal_draws, mean, var)


def test_nuts_chains_agree_by_split_rhat(normal_normal_draws):
    assert split_gelman_rubin(normal_normal_draws).item() < 1.01


def test_hmc_normal_normal_moments():
    mcmc = MCMC(HMC(normal_normal, num_steps=4), num_samples=600, warmup_steps=300, num_chains=2)
    mcmc.run(DATA)
    mean, var = normal_normal_posterior(DATA)
    assert_moments(mcmc.get_samples(group_by_chain=True)["mu"], mean, var)


def beta_bernoulli(flips):
    p = pyro.sample("p", dist.Beta(2.0, 2.0))
    with pyro.plate("flips", len(flips)):
        pyro.sample("obs", dist.Bernoulli(p), obs=flips)


def test_nuts_beta_bernoulli_moments_on_the_constrained_site():
    flips = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])  # 7 of 10: posterior Beta(9, 5)
    mcmc = MCMC(NUTS(beta_bernoulli), num_samples=500, warmup_steps=300, num_chains=2)
    mcmc.run(flips)
    a, b = 9.0, 5.0
    draws = mcmc.get_samples(group_by_chain=True)["p"]
    assert bool(((draws > 0) & (draws < 1)).all())
    assert_moments(draws, a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1)))


def correlated_gaussian_10d():
    # A 10-d Gaussian with correlation 0.9 between neighbours (an AR(1) covariance) and unequal scales.
    idx = torch.arange(10.0)
    scales = torch.linspace(0.5, 3.0, 10)
    corr = 0.9 ** (idx[:, None] - idx[None, :]).abs()
    return torch.linspace(-2.0, 2.0, 10), corr * scales[:, None] * scales[None, :]


def test_nuts_10d_correlated_gaussian_moments_with_dense_mass():
    loc, cov = correlated_gaussian_10d()

    def model():
        pyro.sample("x", dist.MultivariateNormal(loc, cov))

    mcmc = MCMC(NUTS(model, full_mass=True), num_samples=400, warmup_steps=300, num_chains=2)
    mcmc.run()
    draws = mcmc.get_samples(group_by_chain=True)["x"]
    for i in range(10):
        assert_moments(draws[..., i], loc[i].item(), cov[i, i].item())
    assert split_gelman_rubin(draws).max().item() < 1.01


def funnel():
    # Neal's funnel: x's scale exp(y / 2) spans orders of magnitude, so no one step size fits everywhere.
    y = pyro.sample("y", dist.Normal(0.0, 3.0))
    pyro.sample("x", dist.Normal(torch.zeros(9), (y / 2).exp()).to_event(1))


def test_funnel_neck_gives_divergences_and_the_summary_counts_them():
    # A step size fixed at 1 is stable where y > 0 and far too large in the neck (y < -2), where the
    # leapfrog's energy error blows up: those transitions must be reported as divergent.
    mcmc = MCMC(NUTS(funnel, step_size=1.0, adapt_step_size=False, max_tree_depth=5), num_samples=60,
                warmup_steps=0, initial_params={"y": torch.tensor(-4.0), "x": torch.zeros(9)})
    mcmc.run()
    assert mcmc.num_divergences > 0
    text = mcmc.format_summary()
    assert f"Number of divergences: {mcmc.num_divergences}" in text
    assert "target_accept_prob" in text  # the advice that comes with them


def test_discrete_latent_site_is_a_clear_error():
    def mixture():
        z = pyro.sample("z", dist.Bernoulli(0.5))
        pyro.sample("x", dist.Normal(z * 3.0, 1.0), obs=torch.tensor(2.0))

    with pytest.raises(DiscreteLatentError, match=r"site 'z' of model 'mixture' is discrete \(Bernoulli\).*MH"):
        MCMC(NUTS(mixture), num_samples=10).run()


def test_model_without_latent_sites_is_a_clear_error():
    def observed_only():
        pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.5))

    with pytest.raises(InferenceError, match="observed_only.*no latent sample site"):
        MCMC(NUTS(observed_only), num_samples=10).run()


def test_get_samples_shapes_by_chain_and_pooled():
    def model():
        pyro.sample("w", dist.Normal(torch.zeros(3), 1.0).to_event(1))

    mcmc = MCMC(NUTS(model), num_samples=20, warmup_steps=10, num_chains=2)
    mcmc.run()
    assert mcmc.get_samples(group_by_chain=True)["w"].shape == (2, 20, 3)
    assert mcmc.get_samples()["w"].shape == (40, 3)
    assert mcmc.get_samples(num_samples=7)["w"].shape == (7, 3)


def test_initial_params_fix_the_start():
    seen = []

    def hook(kernel, params, stage, i):
        seen.append(params["mu"].item())

    mcmc = MCMC(HMC(normal_normal, step_size=1e-6, num_steps=1, adapt_step_size=False), num_samples=1,
                warmup_steps=0, initial_params={"mu": torch.tensor(7.0)}, hook_fn=hook)
    mcmc.run(DATA)
    assert abs(seen[0] - 7.0) < 1e-4


def test_initialize_model_potential_is_minus_log_joint_with_jacobian():
    def model():
        pyro.sample("s", dist.HalfNormal(2.0))

    params, potential_fn, transforms, _ = initialize_model(model)
    u = torch.tensor(0.3)
    expected = -(torch.distributions.HalfNormal(2.0).log_prob(u.exp()) + u)  # s = exp(u), |ds/du| = exp(u)
    assert torch.allclose(potential_fn({"s": u}), expected)
    assert torch.allclose(transforms["s"](u), u.exp())


def test_progress_callback_sees_every_iteration_and_the_end():
    calls = []
    mcmc = MCMC(NUTS(normal_normal), num_samples=30, warmup_steps=20, num_chains=2,
                progress=lambda m, done, total: calls.append((done, total, m.running)))
    mcmc.run(DATA)
    assert calls[0] == (0, 100, True)
    assert calls[-1] == (100, 100, False)


def test_stop_keeps_the_draws_so_far():
    # stop() is honoured at the next iteration; asked from the per-iteration hook, so no timing is involved
    # (the progress callback is throttled to a few calls a second).
    def stop_after_warmup(kernel, params, stage, i):
        if i >= 15:
            mcmc.stop()

    mcmc = MCMC(NUTS(normal_normal), num_samples=100, warmup_steps=10, hook_fn=stop_after_warmup)
    mcmc.run(DATA)
    assert mcmc.partial
    assert mcmc.get_samples()["mu"].shape[0] == 6  # draws of iterations 10..15


def test_draws_are_stored_for_empirical_marginal():
    mcmc = MCMC(NUTS(normal_normal), num_samples=5, warmup_steps=5, num_chains=2)
    mcmc.run(DATA)
    draws = mcmc.get_samples()["mu"]
    marginal = EmpiricalMarginal(mcmc, "mu")
    assert marginal.mean.item() == pytest.approx(draws.mean().item(), rel=1e-5)
    assert mcmc.chain_ids == [0] * 5 + [1] * 5
    assert mcmc.log_weights == [0.0] * 10


def test_effective_sample_size_of_an_ar1_chain():
    # x_t = rho x_{t-1} + e_t has integrated autocorrelation time (1 + rho) / (1 - rho) = 3 for rho = 0.5,
    # so 4 chains of 5000 give ESS ~ 20000 / 3 = 6667; the estimate's relative sd is about
    # sqrt(2 * (2M + 1) / N) with M ~ 10 lags summed: sqrt(42 / 20000) = 4.6%, so 5 sd is 23%.
    torch.manual_seed(0)
    noise = torch.randn(4, 5000, dtype=torch.float64)
    x = torch.zeros_like(noise)
    for t in range(1, 5000):
        x[:, t] = 0.5 * x[:, t - 1] + noise[:, t]
    ess = effective_sample_size(x).item()
    assert abs(ess - 20000 / 3) < 0.23 * 20000 / 3


def test_split_rhat_catches_chains_that_disagree():
    torch.manual_seed(0)
    x = torch.randn(2, 500)
    x[1] += 1.0
    assert split_gelman_rubin(x).item() > 1.1
