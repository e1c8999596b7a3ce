"""Predictive: the model's sites under posterior samples or under a fitted guide, stacked per sample."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import Predictive
from ppl_kernel.infer.autoguide import AutoNormal


def scale(guess, measurement=None):
    weight = pyro.sample("weight", dist.Normal(guess, 1.0))
    doubled = pyro.deterministic("doubled", 2 * weight)
    pyro.sample("measurement", dist.Normal(weight, 0.75), obs=measurement)
    return doubled


def fitted_guide(guess, measurement=None):
    # The exact posterior of the scale example given measurement 9.5: N(9.14, 0.6).
    a = pyro.param("a", torch.tensor(9.14))
    b = pyro.param("b", torch.tensor(0.6))
    pyro.sample("weight", dist.Normal(a, b))


def test_posterior_samples_drive_the_predictions():
    weights = torch.linspace(8.0, 10.0, 400)
    out = Predictive(scale, posterior_samples={"weight": weights})(8.5)
    # By default only the sites not given: the prediction and the deterministic value.
    assert sorted(out) == ["doubled", "measurement"]
    assert out["measurement"].shape == (400,)
    assert torch.equal(out["doubled"], 2 * weights)
    # measurement - weight ~ N(0, 0.75) independently per sample: their mean has SE 0.75 / sqrt(400).
    residual = (out["measurement"] - weights).mean().item()
    assert abs(residual) < 5 * 0.75 / math.sqrt(400)


def test_guide_draws_give_the_posterior_and_the_posterior_predictive():
    n = 2000
    out = Predictive(scale, guide=fitted_guide, num_samples=n)(8.5)
    # With a guide every site is returned: the guide's latent sites and the model's others.
    assert sorted(out) == ["doubled", "measurement", "weight"]
    w, m = out["weight"], out["measurement"]
    assert w.shape == m.shape == (n,)
    # weight ~ N(9.14, 0.6): mean SE 0.6 / sqrt(n); the sample sd has SE ~ sd / sqrt(2 n).
    assert abs(w.mean().item() - 9.14) < 5 * 0.6 / math.sqrt(n)
    assert abs(w.std().item() - 0.6) < 5 * 0.6 / math.sqrt(2 * n)
    # The posterior predictive of a new measurement: N(9.14, sqrt(0.6^2 + 0.75^2) = 0.96).
    predictive_sd = math.sqrt(0.6**2 + 0.75**2)
    assert abs(m.mean().item() - 9.14) < 5 * predictive_sd / math.sqrt(n)
    assert abs(m.std().item() - predictive_sd) < 5 * predictive_sd / math.sqrt(2 * n)


def test_observed_data_stays_data_as_in_pyro():
    out = Predictive(scale, guide=fitted_guide, num_samples=5)(8.5, torch.tensor(9.5))
    assert out["measurement"].tolist() == [9.5] * 5


def test_return_sites_pick_sites_and_the_return_value():
    out = Predictive(scale, posterior_samples={"weight": torch.tensor([9.0, 10.0])},
                     return_sites=["weight", "_RETURN"])(8.5)
    assert sorted(out) == ["_RETURN", "weight"]
    assert out["weight"].tolist() == [9.0, 10.0]
    assert out["_RETURN"].tolist() == [18.0, 20.0]


def test_return_sites_none_returns_every_site():
    out = Predictive(scale, posterior_samples={"weight": torch.tensor([9.0])}, return_sites=None)(8.5)
    assert sorted(out) == ["doubled", "measurement", "weight"]


def test_parallel_matches_sequential_in_shape_and_distribution():
    n = 2000
    out = Predictive(scale, guide=fitted_guide, num_samples=n, parallel=True)(8.5)
    assert out["weight"].shape == out["measurement"].shape == out["doubled"].shape == (n,)
    assert abs(out["weight"].mean().item() - 9.14) < 5 * 0.6 / math.sqrt(n)
    assert torch.equal(out["doubled"], 2 * out["weight"])


def test_plates_keep_their_shape_per_sample():
    def model(data=None):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("data", 3):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)

    mus = torch.tensor([0.0, 100.0])
    for parallel in (False, True):
        out = Predictive(model, posterior_samples={"mu": mus}, parallel=parallel)()
        assert out["obs"].shape == (2, 3)
        assert bool((out["obs"][1] > 90).all()) and bool((out["obs"][0].abs() < 10).all())


def test_with_an_auto_guide():
    guide = AutoNormal(scale, init_scale=0.01)
    out = Predictive(scale, guide=guide, num_samples=10)(8.5)
    # AutoNormal starts at loc 0 with scale 0.01: every weight draw is within a few hundredths of 0.
    assert out["weight"].shape == (10,) and bool((out["weight"].abs() < 0.1).all())


def test_errors_say_what_to_give():
    with pytest.raises(ValueError, match=r"say how many samples to draw: num_samples"):
        Predictive(scale)
    with pytest.raises(ValueError, match=r"give either a guide or posterior_samples, not both"):
        Predictive(scale, guide=fitted_guide, posterior_samples={"weight": torch.ones(3)})
    with pytest.raises(ValueError, match=r"posterior_samples\['weight'\] must be a tensor whose first dimension"):
        Predictive(scale, posterior_samples={"weight": 1.0})
    with pytest.raises(KeyError, match=r"model 'scale' has no site 'wieght'"):
        Predictive(scale, posterior_samples={"weight": torch.ones(2)}, return_sites=["wieght"])(8.5)


def test_mismatched_num_samples_warns_and_uses_the_samples():
    with pytest.warns(UserWarning, match=r"has 4 samples but num_samples=10; using 4"):
        predictive = Predictive(scale, posterior_samples={"weight": torch.ones(4)}, num_samples=10)
    assert predictive(8.5)["measurement"].shape == (4,)
