"""Pyro's "MLE and MAP estimation" tutorial: a coin's fairness from 6 heads in 10 tosses, as a maximum-
likelihood ``pyro.param``, as a MAP point-mass guide, and with ``AutoDelta`` (``Distribution.mask(False)``
dropping the prior turns MAP into MLE). Each estimate is checked against its closed form."""

import pytest
import torch

DATA = torch.cat([torch.ones(6), torch.zeros(4)])
MLE = 0.6  # heads / tosses
MAP_BETA_10_10 = (10 + 6 - 1) / (10 + 10 + 10 - 2)  # the mode of the Beta(16, 14) posterior: 15/28


def coin_models():
    import pyro
    import pyro.distributions as dist
    from torch.distributions import constraints

    def original_model(data):
        f = pyro.sample("latent_fairness", dist.Beta(10.0, 10.0))
        with pyro.plate("data", data.size(0)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def model_mle(data):
        f = pyro.param("latent_fairness", torch.tensor(0.5), constraint=constraints.unit_interval)
        with pyro.plate("data", data.size(0)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def masked_model(data):
        f = pyro.sample("latent_fairness", dist.Beta(10.0, 10.0).mask(False))
        with pyro.plate("data", data.size(0)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def uniform_prior_model(data):
        f = pyro.sample("latent_fairness", dist.Uniform(low=0.0, high=1.0))
        with pyro.plate("data", data.size(0)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def guide_map(data):
        f_map = pyro.param("f_map", torch.tensor(0.5), constraint=constraints.unit_interval)
        pyro.sample("latent_fairness", dist.Delta(f_map))

    return original_model, model_mle, masked_model, uniform_prior_model, guide_map


def train(model, guide, lr=0.005, n_steps=201):
    import pyro
    from pyro.infer import SVI, Trace_ELBO

    pyro.clear_param_store()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": lr}), loss=Trace_ELBO())
    return [svi.step(DATA) for _ in range(n_steps)]


def test_mle_with_an_empty_guide_reaches_the_sample_mean_and_its_loss_is_the_nll():
    import pyro
    import pyro.distributions as dist

    _, model_mle, _, _, _ = coin_models()
    losses = train(model_mle, lambda data: None)
    estimate = pyro.param("latent_fairness").item()
    assert estimate == pytest.approx(MLE, abs=2e-3)
    nll = -dist.Bernoulli(estimate).log_prob(DATA).sum().item()
    assert losses[-1] == pytest.approx(nll, abs=1e-3)


def test_map_with_a_delta_guide_reaches_the_posterior_mode():
    import pyro

    original_model, _, _, _, guide_map = coin_models()
    train(original_model, guide_map)
    assert pyro.param("f_map").item() == pytest.approx(MAP_BETA_10_10, abs=2e-3)


def test_autodelta_is_map_and_masking_the_prior_makes_it_mle():
    import pyro

    original_model, _, masked_model, _, _ = coin_models()
    pyro.set_rng_seed(0)
    autoguide_map = pyro.infer.autoguide.AutoDelta(original_model)
    train(original_model, autoguide_map, lr=0.05)
    assert autoguide_map.median(DATA)["latent_fairness"].item() == pytest.approx(MAP_BETA_10_10, abs=2e-3)
    autoguide_mle = pyro.infer.autoguide.AutoDelta(masked_model)
    train(masked_model, autoguide_mle, lr=0.05)
    assert autoguide_mle.median(DATA)["latent_fairness"].item() == pytest.approx(MLE, abs=2e-3)


def test_map_under_a_uniform_prior_is_the_mle():
    import pyro

    _, _, _, uniform_prior_model, _ = coin_models()
    pyro.set_rng_seed(0)
    guide = pyro.infer.autoguide.AutoDelta(uniform_prior_model)
    train(uniform_prior_model, guide, lr=0.05)
    assert guide.median(DATA)["latent_fairness"].item() == pytest.approx(MLE, abs=2e-3)


def test_masked_prior_scores_nothing_but_draws_as_before():
    import pyro
    import pyro.poutine as poutine

    _, _, masked_model, _, _ = coin_models()
    tr = poutine.trace(masked_model).get_trace(DATA)
    assert tr.nodes["latent_fairness"]["log_prob"].item() == 0.0
    assert 0.0 < tr.nodes["latent_fairness"]["value"].item() < 1.0
    assert pyro.distributions.Normal(0.0, 1.0).mask(True).log_prob(torch.tensor(0.0)).item() == pytest.approx(-0.9189, abs=1e-4)
