"""Every error the inference algorithms raise names the model or site and says how to fix it."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import (
    MH, EmpiricalMarginal, EnumerationError, Enumerate, Importance, InferenceError, Rejection, TracePosterior,
)

from .models import geometric, weather_at_70


def unconditioned_weather():
    cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    return pyro.sample("temp", dist.Normal(55.0 if cloudy.item() else 75.0, 10.0))


def test_enumerate_names_a_continuous_latent_site():
    with pytest.raises(EnumerationError) as e:
        Enumerate(unconditioned_weather).run()
    message = str(e.value)
    assert "site 'temp'" in message and "model 'unconditioned_weather'" in message
    assert "Normal(" in message and "continuous or unbounded" in message
    assert "obs=" in message and "Importance, MH or SMC" in message


def test_enumerate_names_an_unbounded_discrete_site():
    def counts():
        return pyro.sample("n", dist.Poisson(3.0))

    with pytest.raises(EnumerationError, match="site 'n' .* is Poisson"):
        Enumerate(counts).run()


def test_enumerate_stops_past_max_paths():
    with pytest.raises(EnumerationError) as e:
        Enumerate(geometric, max_paths=4).run(0.5)
    message = str(e.value)
    assert "model 'geometric' has more than max_paths=4" in message
    assert "Enumerate(model, max_paths=...)" in message and "on_limit='stop'" in message


def test_search_accepts_the_old_max_tries():
    with pytest.raises(EnumerationError, match="max_paths=3"):
        Enumerate(geometric, max_tries=3).run(0.5)


def test_enumerate_refuses_a_plate_with_too_many_joint_values():
    def many():
        with pyro.plate("coins", 20):
            return pyro.sample("c", dist.Bernoulli(torch.tensor(0.5)))

    with pytest.raises(EnumerationError) as e:
        Enumerate(many, max_paths=1000).run()
    assert "site 'c'" in str(e.value) and "2^20 joint values" in str(e.value)
    assert "sequential plate" in str(e.value)


def test_enumerate_sums_over_a_small_plate_jointly():
    def three():
        with pyro.plate("coins", 3):
            c = pyro.sample("c", dist.Bernoulli(torch.tensor(0.5)))
        return int(c.sum().item())

    marginal = EmpiricalMarginal(Enumerate(three).run())
    assert [round(p, 6) for p in marginal.probs.tolist()] == [0.125, 0.375, 0.375, 0.125]


def test_mh_says_when_no_run_is_possible():
    def impossible():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        pyro.factor("never", -math.inf)
        return x

    with pytest.raises(InferenceError) as e:
        MH(impossible, num_samples=10).run()
    message = str(e.value)
    assert "model 'impossible' had probability zero in each of 1000 runs" in message
    assert "factor of -inf" in message


def test_rejection_gives_up_after_max_tries():
    def rare():
        x = pyro.sample("x", dist.Bernoulli(0.01))
        pyro.factor("need x", 0.0 if x.item() else -math.inf)

    with pytest.raises(InferenceError) as e:
        Rejection(rare, num_samples=50, max_tries=100).run()
    message = str(e.value)
    assert "model 'rare' kept" in message and "max_tries=100" in message and "num_samples=50" in message


def test_importance_names_a_guide_site_the_model_lacks():
    def guide():
        pyro.sample("cloudy", dist.Bernoulli(torch.tensor([0.5])))
        pyro.sample("wind", dist.Bernoulli(0.5))

    with pytest.raises(ValueError) as e:
        Importance(weather_at_70, guide=guide, num_samples=3).run()
    message = str(e.value)
    assert "guide 'guide' samples site 'wind'" in message
    assert "model 'weather' did not make" in message


@pytest.mark.parametrize("make", [
    lambda: Importance(weather_at_70, num_samples=0),
    lambda: MH(weather_at_70, num_samples=10, thin=0),
    lambda: MH(weather_at_70, num_samples=10, warmup=-1),
    lambda: Enumerate(weather_at_70, max_paths=0),
    lambda: Rejection(weather_at_70, num_samples=0),
])
def test_bad_settings_are_refused_by_name(make):
    with pytest.raises(ValueError, match=r"(num_samples|thin|warmup|max_paths) must be"):
        make()


def test_a_bare_posterior_cannot_run():
    with pytest.raises(TypeError, match="has no model to run"):
        TracePosterior().run()
    with pytest.raises(TypeError, match="collects traces you add with .add"):
        TracePosterior(unconditioned_weather).run()


def test_a_marginal_of_nothing_says_to_run_first():
    with pytest.raises(ValueError, match=r"no traces in the return values: run the inference first"):
        EmpiricalMarginal(TracePosterior())


def test_a_marginal_of_an_unknown_site_lists_the_names():
    posterior = Enumerate(weather_at_70).run()
    with pytest.raises(ValueError) as e:
        EmpiricalMarginal(posterior, sites="clouds")
    assert "none of the 2 traces has site(s) 'clouds'" in str(e.value)
    assert "'cloudy'" in str(e.value) and "missing='keep'" in str(e.value)


def test_a_marginal_where_every_run_was_rejected():
    posterior = TracePosterior(unconditioned_weather)
    posterior.add(poutine.trace(unconditioned_weather).get_trace(), -math.inf)
    with pytest.raises(ValueError, match="has weight zero .* the conditions rejected every run"):
        EmpiricalMarginal(posterior)


def test_moments_of_non_numeric_values_point_to_probability():
    marginal = EmpiricalMarginal(Enumerate(weather_at_70).run())
    with pytest.raises(TypeError) as e:
        marginal.mean  # noqa: B018
    message = str(e.value)
    assert "EmpiricalMarginal.mean" in message and "the return values" in message
    assert ".probability(lambda v: ...)" in message and "('cloudy'" in message or "('sunny'" in message


def test_trace_with_calls_needs_the_model():
    posterior = TracePosterior()
    posterior.add(poutine.trace(unconditioned_weather).get_trace())
    with pytest.raises(TypeError, match=r"needs the model: build the posterior as TracePosterior\(model\)"):
        posterior.trace_with_calls(0)
