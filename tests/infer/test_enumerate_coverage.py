"""Enumerate: finite supports beyond Categorical, the path order, partial results, impossible runs.

Every expected value is computed independently: closed forms or brute force over the values in
plain Python (itertools), never with ppl_kernel.
"""

import itertools
import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import EmpiricalMarginal, Enumerate, EnumerationError


def test_choice_over_strings_is_summed_exactly():
    colours = ["red", "green", "blue"]
    weights = [1.0, 2.0, 3.0]

    def two_marbles():
        a = pyro.sample("a", dist.Choice(colours, probs=weights))
        b = pyro.sample("b", dist.Choice(colours, probs=weights))
        pyro.require(a != b)
        return a

    exact = {}
    for (a, wa), (b, wb) in itertools.product(zip(colours, weights, strict=True), repeat=2):
        if a != b:
            exact[a] = exact.get(a, 0.0) + wa * wb
    total = sum(exact.values())
    marginal = EmpiricalMarginal(Enumerate(two_marbles).run())
    for colour in colours:
        assert marginal.probability(colour) == pytest.approx(exact[colour] / total, abs=1e-12)


def test_binomial_is_summed_over_its_counts():
    def heads_then_check():
        n = pyro.sample("n", dist.Binomial(4, torch.tensor(0.3)))
        pyro.sample("even", dist.Bernoulli(0.9 if int(n) % 2 == 0 else 0.2), obs=torch.tensor(1.0))
        return n

    prior = [math.comb(4, k) * 0.3**k * 0.7 ** (4 - k) for k in range(5)]
    joint = [p * (0.9 if k % 2 == 0 else 0.2) for k, p in enumerate(prior)]
    marginal = EmpiricalMarginal(Enumerate(heads_then_check).run())
    for k in range(5):
        assert marginal.probability(float(k)) == pytest.approx(joint[k] / sum(joint), abs=1e-6)


def test_multinomial_is_summed_over_every_way_to_place_the_counts():
    probs = [0.2, 0.3, 0.5]

    def three_draws():
        return pyro.sample("counts", dist.Multinomial(3, torch.tensor(probs)))

    marginal = EmpiricalMarginal(Enumerate(three_draws).run())
    assert len(marginal.support) == math.comb(3 + 3 - 1, 3 - 1)  # stars and bars: 10 count vectors
    # multinomial pmf by hand: 3! / (1! 1! 1!) * 0.2 * 0.3 * 0.5
    assert marginal.probability(lambda v: v.tolist() == [1.0, 1.0, 1.0]) == pytest.approx(6 * 0.2 * 0.3 * 0.5, abs=1e-6)
    assert marginal.probability(lambda v: v.tolist() == [0.0, 0.0, 3.0]) == pytest.approx(0.5**3, abs=1e-6)


def test_a_delta_site_has_its_one_value():
    def shifted():
        c = pyro.sample("c", dist.Bernoulli(0.25))
        return pyro.sample("d", dist.Delta(c + 10.0))

    marginal = EmpiricalMarginal(Enumerate(shifted).run())
    assert marginal.probability(11.0) == pytest.approx(0.25)
    assert marginal.probability(10.0) == pytest.approx(0.75)


def three_flips():
    return tuple(int(pyro.sample(f"f{i}", dist.Bernoulli(0.5))) for i in range(3))


@pytest.mark.parametrize("order", ["depth-first", "breadth-first", "most-probable-first"])
def test_every_order_gives_the_same_exact_marginal(order):
    def biased():
        a = pyro.sample("a", dist.Categorical(torch.tensor([0.1, 0.6, 0.3])))
        b = pyro.sample("b", dist.Bernoulli(0.2 + 0.3 * int(a)))
        return int(a) + int(b)

    exact = {}
    for a, pa in enumerate([0.1, 0.6, 0.3]):
        pb = 0.2 + 0.3 * a
        for b, p in ((0, 1 - pb), (1, pb)):
            exact[a + b] = exact.get(a + b, 0.0) + pa * p
    marginal = EmpiricalMarginal(Enumerate(biased, order=order).run())
    for value, p in exact.items():
        assert marginal.probability(value) == pytest.approx(p, abs=1e-6)


def test_depth_first_and_breadth_first_visit_paths_in_different_orders():
    depth = [tr.nodes["_RETURN"].value for tr in Enumerate(three_flips, order="depth-first").run().traces]
    breadth = [tr.nodes["_RETURN"].value for tr in Enumerate(three_flips, order="breadth-first").run().traces]
    assert sorted(depth) == sorted(breadth) and len(depth) == 8
    # Depth-first finishes every branch under the first flip's first value before the second value.
    first_values = [path[0] for path in depth]
    assert first_values == sorted(first_values, reverse=first_values[0] == 1)
    assert depth != breadth


def geometric_model(p_continue, depth=0):
    """The number of continues before the first stop: P(k) = (1 - p) p^k, unbounded."""
    if pyro.sample(f"go_{depth}", dist.Bernoulli(p_continue)).item() == 0.0:
        return depth
    return geometric_model(p_continue, depth + 1)


def test_past_max_paths_with_on_limit_stop_the_paths_so_far_are_kept_and_marked_partial():
    posterior = Enumerate(geometric_model, max_paths=10, on_limit="stop").run(0.5)
    assert posterior.partial is True
    assert len(posterior.traces) == 10


def test_most_probable_first_finds_the_most_probable_paths_of_an_unbounded_model():
    # P(k) = 0.3 * 0.7^k decreases in k, so the paths found are the K most probable: k = 0..K-1. The most
    # probable first value is "continue" (0.7), which followed alone would recurse forever.
    posterior = Enumerate(geometric_model, max_paths=60, on_limit="stop", order="most-probable-first").run(0.7)
    found = sorted(tr.nodes["_RETURN"].value for tr in posterior.traces)
    k = len(found)
    assert found == list(range(k)) and k >= 12 and posterior.partial
    truncated = [0.3 * 0.7**j for j in range(k)]
    marginal = EmpiricalMarginal(posterior)
    assert marginal.probability(3) == pytest.approx(truncated[3] / sum(truncated), abs=1e-9)
    # log p(data) of a partial run is the mass found: a lower bound (1 - 0.7^K of the whole).
    assert math.exp(posterior.log_marginal_likelihood) == pytest.approx(1 - 0.7**k, abs=1e-9)


def test_a_complete_run_is_not_partial():
    assert Enumerate(three_flips).run().partial is False


def test_when_every_path_is_impossible_the_error_says_so_and_names_the_site():
    def contradiction():
        a = pyro.sample("a", dist.Bernoulli(0.5))
        pyro.factor("never", -math.inf if a.item() in (0.0, 1.0) else 0.0)

    with pytest.raises(EnumerationError) as e:
        Enumerate(contradiction).run()
    message = str(e.value)
    assert "every one of the 2 execution paths" in message and "probability zero" in message
    assert "'never' (2 paths)" in message and "model 'contradiction'" in message


def test_a_model_that_catches_exception_cannot_swallow_the_end_of_an_impossible_path():
    def guarded():
        a = pyro.sample("a", dist.Bernoulli(0.5))
        try:
            pyro.require(a.item() == 1.0)
        except Exception:  # a user's blanket handler: the path must still end at the condition
            pass
        return a

    marginal = EmpiricalMarginal(Enumerate(guarded).run())
    assert marginal.probability(1.0) == 1.0


def test_an_unknown_order_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="order must be one of 'depth-first', 'breadth-first', 'most-probable-first'"):
        Enumerate(three_flips, order="random")


def test_most_probable_first_scores_numeric_choice_values():
    def weighted():
        return pyro.sample("n", dist.Choice([1, 2, 3], probs=[0.2, 0.5, 0.3]))

    posterior = Enumerate(weighted, order="most-probable-first").run()
    assert [tr.nodes["_RETURN"].value for tr in posterior.traces] == [2, 3, 1]  # by probability, highest first


def test_an_unknown_on_limit_is_refused():
    with pytest.raises(ValueError, match="on_limit must be 'raise' or 'stop', got 'warn'"):
        Enumerate(three_flips, on_limit="warn")


def test_a_batch_of_multinomials_asks_for_one_site_per_element():
    def batch():
        return pyro.sample("counts", dist.Multinomial(2, torch.tensor([[0.5, 0.5], [0.2, 0.8]])))

    with pytest.raises(EnumerationError, match="site 'counts' is a batch of Multinomials"):
        Enumerate(batch).run()
