"""``require`` (the hard condition), ``infer(model, method=...)`` and ``expectation``, under every algorithm."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import expectation, infer

from .stats import batch_means_se, snis_se

N = 3000
OPTIONS = {"enumerate": {}, "importance": {"num_samples": N}, "rejection": {"num_samples": N},
           "mh": {"num_samples": N, "warmup": 100}, "smc": {"num_particles": N}}


def dice_sum_is_eight():
    a = pyro.sample("a", dist.Choice([1, 2, 3, 4, 5, 6]))
    b = pyro.sample("b", dist.Choice([1, 2, 3, 4, 5, 6]))
    pyro.require(a + b == 8)
    return a


def dice_sum_at_least_eight():
    # (An event single-site MH can move within: from any pair, raising one die keeps the sum >= 8.
    # Under a + b == 8 every single-die move breaks the condition, so MH would never leave its start.)
    a = pyro.sample("a", dist.Choice([1, 2, 3, 4, 5, 6]))
    b = pyro.sample("b", dist.Choice([1, 2, 3, 4, 5, 6]))
    pyro.require(a + b >= 8)
    return a


# Brute force over the 36 pairs: P(a = k | a + b >= 8) = #{b : k + b >= 8} / #{pairs with a + b >= 8}.
PAIRS = [(a, b) for a in range(1, 7) for b in range(1, 7) if a + b >= 8]
EXACT_A = {k: sum(1 for a, _ in PAIRS if a == k) / len(PAIRS) for k in range(1, 7)}


@pytest.mark.parametrize("method", list(OPTIONS))
def test_require_conditions_every_algorithm_on_the_event(method):
    marginal = infer(dice_sum_at_least_eight, method=method, **OPTIONS[method])
    assert marginal.probability(1) == 0.0  # never a value the condition rules out
    for a in (2, 4, 6):
        estimate = marginal.probability(a)
        if method == "enumerate":
            assert estimate == pytest.approx(EXACT_A[a], abs=1e-12)
            continue
        # 5 SE: weighted-sample delta method, or batch means over MH's chain
        if method == "mh":
            se = batch_means_se([float(v == a) for v in marginal.values])
        else:
            se = snis_se(marginal, lambda v, a=a: v == a)
        assert abs(estimate - EXACT_A[a]) < 5 * se


def test_require_names_its_sites_in_the_order_of_the_run():
    def two_conditions():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.require(True)
        pyro.require(x < 100.0)

    trace = poutine.trace(two_conditions).get_trace()
    assert [n for n in trace.nodes if n.startswith("require")] == ["require_1", "require_2"]
    assert trace.log_prob_sum().item() == pytest.approx(dist.Normal(0.0, 1.0).log_prob(trace["x"].value).item())


def test_require_with_a_false_condition_makes_the_run_impossible():
    def impossible():
        pyro.require(False, name="never")

    trace = poutine.trace(impossible).get_trace()
    assert trace.nodes["never"].log_prob.item() == -math.inf


def test_expectation_of_an_exact_marginal_is_exact():
    # E[a | a + b = 8] = (2 + 3 + 4 + 5 + 6) / 5 = 4; E[a^2 | ...] = (4 + 9 + 16 + 25 + 36) / 5 = 18
    marginal = infer(dice_sum_is_eight)
    assert expectation(marginal) == pytest.approx(4.0, abs=1e-12)
    assert expectation(marginal, lambda a: a * a) == pytest.approx(18.0, abs=1e-12)


def test_expectation_of_a_tensor_valued_marginal_is_elementwise():
    def pair():
        c = pyro.sample("c", dist.Bernoulli(0.25))
        return torch.stack([c, 1 - c])

    assert expectation(infer(pair)).tolist() == pytest.approx([0.25, 0.75])


def test_expectation_of_a_non_numeric_result_says_how_to_fix_it():
    with pytest.raises(TypeError, match="expectation: fn must return numbers or tensors.*lambda v: v == 'cloudy'"):
        expectation(dist.Choice(["a", "b"]))


def test_infer_names_the_methods_it_knows():
    with pytest.raises(ValueError, match="'enumerate', 'importance', 'mh', 'rejection', 'smc'; got 'hmc'"):
        infer(dice_sum_is_eight, method="hmc")


def test_infer_passes_the_model_arguments_and_the_options():
    def coin(p):
        return pyro.sample("c", dist.Bernoulli(p))

    assert infer(coin, 0.3, method="enumerate").probability(1.0) == pytest.approx(0.3, abs=1e-6)
    with pytest.raises(TypeError, match=r"infer\(method='importance'\).*help\(Importance\)"):
        infer(coin, 0.3, method="importance", num_particles=10)
