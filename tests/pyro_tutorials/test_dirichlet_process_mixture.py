"""Pyro's Dirichlet process mixture tutorial: a truncated stick-breaking mixture fitted by SVI with a
mean-field guide (``from pyro.distributions import *``, ``pyro.param`` with initialiser functions and
constraints, nested plates, a per-datum categorical), then read through ``Predictive`` on the guide.
The tutorial's sunspot data is downloaded; here a Poisson mixture of known rates stands in for it."""

import torch
import torch.nn.functional as F


def mix_weights(beta):
    """Stick-breaking: beta_k of what the first k-1 sticks left."""
    beta1m_cumprod = (1 - beta).cumprod(-1)
    return F.pad(beta, (0, 1), value=1) * F.pad(beta1m_cumprod, (1, 0), value=1)


def gaussian_mixture(T, alpha, N):
    import pyro
    from pyro.distributions import Beta, Categorical, Dirichlet, MultivariateNormal, Uniform, constraints

    def model(data):
        with pyro.plate("beta_plate", T - 1):
            beta = pyro.sample("beta", Beta(1, alpha))
        with pyro.plate("mu_plate", T):
            mu = pyro.sample("mu", MultivariateNormal(torch.zeros(2), 5 * torch.eye(2)))
        with pyro.plate("data", N):
            z = pyro.sample("z", Categorical(mix_weights(beta)))
            pyro.sample("obs", MultivariateNormal(mu[z], torch.eye(2)), obs=data)

    def guide(data):
        kappa = pyro.param("kappa", lambda: Uniform(0, 2).sample([T - 1]), constraint=constraints.positive)
        tau = pyro.param("tau", lambda: MultivariateNormal(torch.zeros(2), 3 * torch.eye(2)).sample([T]))
        phi = pyro.param("phi", lambda: Dirichlet(1 / T * torch.ones(T)).sample([N]), constraint=constraints.simplex)
        with pyro.plate("beta_plate", T - 1):
            pyro.sample("beta", Beta(torch.ones(T - 1), kappa))
        with pyro.plate("mu_plate", T):
            pyro.sample("mu", MultivariateNormal(tau, torch.eye(2)))
        with pyro.plate("data", N):
            pyro.sample("z", Categorical(phi))

    return model, guide


def poisson_mixture(T, alpha, N):
    import pyro
    from pyro.distributions import Beta, Categorical, Dirichlet, Gamma, LogNormal, Poisson, Uniform, constraints

    def model(data):
        with pyro.plate("beta_plate", T - 1):
            beta = pyro.sample("beta", Beta(1, alpha))
        with pyro.plate("lambda_plate", T):
            rate = pyro.sample("lambda", Gamma(3, 0.05))
        with pyro.plate("data", N):
            z = pyro.sample("z", Categorical(mix_weights(beta)))
            pyro.sample("obs", Poisson(rate[z]), obs=data)

    def guide(data):
        kappa = pyro.param("kappa", lambda: Uniform(0, 2).sample([T - 1]), constraint=constraints.positive)
        tau_0 = pyro.param("tau_0", lambda: Uniform(0, 5).sample([T]), constraint=constraints.positive)
        tau_1 = pyro.param("tau_1", lambda: LogNormal(-1, 1).sample([T]), constraint=constraints.positive)
        phi = pyro.param("phi", lambda: Dirichlet(1 / T * torch.ones(T)).sample([N]), constraint=constraints.simplex)
        with pyro.plate("beta_plate", T - 1):
            pyro.sample("beta", Beta(torch.ones(T - 1), kappa))
        with pyro.plate("lambda_plate", T):
            pyro.sample("lambda", Gamma(tau_0, tau_1))
        with pyro.plate("data", N):
            pyro.sample("z", Categorical(phi))

    return model, guide


def train(model, guide, data, steps):
    import pyro
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    pyro.clear_param_store()
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    return [svi.step(data) for _ in range(steps)]


def test_stick_breaking_mixture_finds_the_far_gaussian_clusters():
    import pyro
    from pyro.distributions import MultivariateNormal

    pyro.set_rng_seed(0)
    centers = torch.tensor([[-8.0, -8.0], [8.0, 8.0], [1.5, 2.0], [-0.5, 1.0]])
    data = torch.cat([MultivariateNormal(c, torch.eye(2)).sample([50]) for c in centers])
    alpha = 0.1
    model, guide = gaussian_mixture(T=6, alpha=alpha, N=len(data))
    losses = train(model, guide, data, steps=700)
    assert losses[-1] < losses[0] / 3

    # The tutorial's read-out: the guide's means of the clusters whose average responsibility passes 1/(100 alpha).
    fitted, weights = pyro.param("tau").detach(), pyro.param("phi").detach().mean(0)
    kept = fitted[weights > alpha ** -1 / 100]
    for far in centers[:2]:  # each far cluster has a fitted centre within 1 of it (200 points, unit noise)
        assert (kept - far).norm(dim=-1).min() < 1.0, (far, kept)


def test_poisson_stick_breaking_mixture_separates_the_rates_and_predicts():
    import pyro
    from pyro.distributions import Poisson
    from pyro.infer import Predictive

    pyro.set_rng_seed(0)
    data = torch.cat([Poisson(10.0).sample([100]), Poisson(120.0).sample([60])])
    T, S = 10, 100
    model, guide = poisson_mixture(T=T, alpha=1.1, N=len(data))
    train(model, guide, data, steps=500)

    # The fit separates the two groups (500 steps, not yet converged): no cluster is most responsible for data
    # of both, and every cluster that carries the counts near 10 has a lower rate than every one near 120.
    rates = pyro.param("tau_0").detach() / pyro.param("tau_1").detach()
    clusters = pyro.param("phi").detach().argmax(-1)
    low, high = set(clusters[:100].tolist()), set(clusters[100:].tolist())
    assert not low & high
    assert rates[sorted(low)].max() < rates[sorted(high)].min(), rates

    posterior = Predictive(guide, num_samples=S, return_sites=["beta", "lambda"])(data)
    assert posterior["beta"].shape == (S, T - 1) and posterior["lambda"].shape == (S, T)
    weights = mix_weights(posterior["beta"])
    assert torch.allclose(weights.sum(-1), torch.ones(S))
    log_prob = (weights.log() + Poisson(posterior["lambda"]).log_prob(data.reshape(-1, 1, 1))).logsumexp(-1)
    log_predictive = (log_prob.logsumexp(-1) - torch.log(torch.tensor(float(S)))).sum()
    # A single Poisson at the pooled mean scores the bimodal data far worse than the fitted mixture.
    pooled = Poisson(data.mean()).log_prob(data).sum()
    assert torch.isfinite(log_predictive) and log_predictive > pooled + 100, (log_predictive, pooled)
