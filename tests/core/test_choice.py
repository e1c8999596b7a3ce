"""``dist.Choice``: a categorical over any Python values (WebPPL's ``Categorical({ps, vs})``)."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine


def test_draws_follow_the_probabilities():
    d = dist.Choice(["rain", "sun", "snow"], probs=[2, 5, 3])
    n = 4000
    draws = d.sample((n,))
    # frequency of "sun", p = 0.5: SE = sqrt(0.25 / n) = 0.0079 -> 5 SE = 0.04
    assert abs(draws.count("sun") / n - 0.5) < 5 * math.sqrt(0.25 / n)
    assert set(draws) <= {"rain", "sun", "snow"}


def test_log_prob_of_a_value_sums_its_repeats_and_is_minus_infinity_outside():
    d = dist.Choice(["a", "b", "a"], probs=[1, 2, 1])
    assert d.log_prob("a").item() == pytest.approx(math.log(0.5))
    assert d.log_prob("z").item() == -math.inf
    assert dist.Choice([1, 2, 3]).log_prob(torch.tensor(2)).item() == pytest.approx(math.log(1 / 3))


def test_a_site_may_observe_any_value():
    def model():
        return pyro.sample("weather", dist.Choice(["rain", "sun"], probs=[1, 3]), obs="rain")

    trace = poutine.trace(model).get_trace()
    assert trace.nodes["weather"].value == "rain"
    assert trace.log_prob_sum().item() == pytest.approx(math.log(0.25))


@pytest.mark.parametrize("values, probs, message", [
    ([], None, "give at least one value"),
    (["a", "b"], [1.0], "2 values but 1 probabilities"),
    (["a", "b"], [1.0, -1.0], "finite, non-negative and not all zero"),
    (["a", "b"], [0.0, 0.0], "finite, non-negative and not all zero"),
])
def test_bad_values_or_probabilities_are_refused_with_the_fix(values, probs, message):
    with pytest.raises(ValueError, match=message):
        dist.Choice(values, probs=probs)
