"""Enumerate on the probmods tug of war (issue 13's benchmark): exact answers at 4, 5 and 6 people, path by
path and vectorized, and the properties that make each fast (each value of a choice scored once,
impossible values pruned; one run over every combination) without changing what it computes.

The expected answers are brute force in plain Python: every assignment of strengths and laziness, its
prior probability as an exact fraction, kept when the first team of every match pulls harder.
"""

import itertools
import math
from fractions import Fraction

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.errors import DuplicateSiteError
from ppl_kernel.infer import EmpiricalMarginal, Enumerate, EnumerationError
from ppl_kernel.vectorize import SequentialFallbackWarning

STRENGTHS = (1.0, 2.0, 3.0)
# Two a side; the first team of each match won it (the matches of bench/bench_webppl.py).
MATCHES = {
    4: [((0, 1), (2, 3)), ((0, 2), (1, 3))],
    5: [((0, 1), (2, 3)), ((0, 4), (1, 2))],
    6: [((0, 1), (2, 3)), ((0, 4), (1, 5)), ((2, 5), (3, 4))],
}
LAZY = Fraction(1, 3)


def tug_of_war(people):
    matches = MATCHES[people]
    uniform = torch.ones(len(STRENGTHS))

    def pulling(strength, m, team, side):
        total = 0.0
        for i in team:
            lazy = pyro.sample(f"lazy_{m}_{side}_{i}", dist.Bernoulli(1 / 3)).item()
            total += strength[i] / 2 if lazy else strength[i]
        return total

    def model():
        strength = [STRENGTHS[int(pyro.sample(f"strength_{p}", dist.Categorical(uniform)))] for p in range(people)]
        for m, (winners, losers) in enumerate(matches):
            pyro.require(pulling(strength, m, winners, 0) > pulling(strength, m, losers, 1))
        return strength[0]

    return model


def brute_force(people):
    """P(strength of person 0 = s | every first team won), and P(every first team won), as fractions.

    Every assignment of strengths and laziness counts; a match's four lazy flags are summed over within
    the match (they matter to it alone), which keeps 6 people at 729 * 3 * 16 terms instead of 3 million.
    """
    matches = MATCHES[people]
    joint = {s: Fraction(0) for s in STRENGTHS}
    for strength in itertools.product(STRENGTHS, repeat=people):
        weight = Fraction(1, 3**people)
        for winners, losers in matches:
            won = Fraction(0)
            for lazies in itertools.product((False, True), repeat=4):
                lazy_w, lazy_l = lazies[:2], lazies[2:]
                pull_w = sum(strength[i] / 2 if z else strength[i] for i, z in zip(winners, lazy_w, strict=True))
                pull_l = sum(strength[i] / 2 if z else strength[i] for i, z in zip(losers, lazy_l, strict=True))
                if pull_w > pull_l:
                    p = Fraction(1)
                    for z in lazies:
                        p *= LAZY if z else 1 - LAZY
                    won += p
            weight *= won
        joint[strength[0]] += weight
    evidence = sum(joint.values())
    return {s: p / evidence for s, p in joint.items()}, evidence


@pytest.mark.parametrize("people", [4, 5])
def test_tug_of_war_marginal_is_exact(people):
    exact, evidence = brute_force(people)
    posterior = Enumerate(tug_of_war(people), max_paths=10**6).run()
    marginal = EmpiricalMarginal(posterior)
    for s in STRENGTHS:
        assert marginal.probability(s) == pytest.approx(float(exact[s]), abs=1e-12)
    # The strengths are scored by torch in float32 (Categorical over a float32 tensor): each of the `people`
    # scores log(1/3) carries up to |log 3| * 2**-24 = 6.5e-8 of rounding; the coins score in double.
    assert posterior.log_marginal_likelihood == pytest.approx(math.log(evidence), abs=people * 7e-8)


def test_tug_of_war_runs_as_many_paths_as_webppl():
    # WebPPL's enumerate runs 9,786 executions of this model at 4 people: every prefix it explores, ended
    # either at a lost match or at the return. Paths are not re-run, and none is skipped.
    posterior = Enumerate(tug_of_war(4), max_paths=10**6).run()
    assert posterior.num_paths == 9786


def test_a_value_of_probability_zero_starts_no_path():
    def loaded():
        a = pyro.sample("a", dist.Choice([0, 1, 2], probs=[0.5, 0.0, 0.5]))
        b = pyro.sample("b", dist.Bernoulli(1.0))
        return a + int(b)

    posterior = Enumerate(loaded).run()
    assert posterior.num_paths == 2  # a in {0, 2}, b = 1: the zero-probability values are never run
    assert EmpiricalMarginal(posterior).probability(3) == pytest.approx(0.5, abs=1e-12)


def test_each_distinct_distribution_is_scored_once_per_enumeration():
    calls = []

    class CountedCategorical(torch.distributions.Categorical):
        def log_prob(self, value):
            calls.append(value.shape)
            return super().log_prob(value)

    probs = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)

    def three_draws():
        return sum(int(pyro.sample(f"x{i}", CountedCategorical(probs))) for i in range(3))

    marginal = EmpiricalMarginal(Enumerate(three_draws).run())
    assert marginal.probability(0) == pytest.approx(0.2**3, abs=1e-12)
    # A torch distribution constructed directly is not cached by its arguments (it is no deferred one):
    # still, each of its expansions scores the whole support in one call, not one call per path.
    assert all(shape == (3,) for shape in calls)
    assert len(calls) == 1 + 3 + 9  # one per choice point of the tree, not 3 + 9 + 27 site visits


def test_a_model_whose_runs_differ_for_the_same_choices_is_refused_with_the_fix():
    runs = itertools.count()

    def restless():
        a = pyro.sample("a", dist.Bernoulli(0.5))
        pyro.sample(f"b_{next(runs)}", dist.Bernoulli(0.5))  # a new name in every run: state kept between runs
        return a

    with pytest.raises(EnumerationError) as info:
        Enumerate(restless).run()
    message = str(info.value)
    assert "'restless'" in message and "b_" in message and "keep no state between runs" in message


def tug_of_war_vectorizable(people):
    """The same model written elementwise in its choices (torch.where, a tensor indexed by a sampled index)."""
    matches = MATCHES[people]
    # Parameters in float64, so that torch scores in double as the scalar path does: the answers are exact
    # to double rounding (with float32 parameters, to float32's).
    strengths = torch.tensor(STRENGTHS, dtype=torch.float64)
    uniform = torch.ones(len(STRENGTHS), dtype=torch.float64)
    lazy_p = torch.tensor(1 / 3, dtype=torch.float64)

    def pulling(strength, m, team, side):
        total = 0.0
        for i in team:
            lazy = pyro.sample(f"lazy_{m}_{side}_{i}", dist.Bernoulli(lazy_p))
            total = total + torch.where(lazy == 1, strength[i] / 2, strength[i])
        return total

    def model():
        strength = [strengths[pyro.sample(f"strength_{p}", dist.Categorical(uniform))] for p in range(people)]
        for m, (winners, losers) in enumerate(matches):
            pyro.require(pulling(strength, m, winners, 0) > pulling(strength, m, losers, 1))
        return strength[0]

    return model


@pytest.mark.parametrize("people", [4, 5, 6])
def test_vectorized_tug_of_war_marginal_is_exact(people):
    exact, evidence = brute_force(people)
    posterior = Enumerate(tug_of_war_vectorizable(people), vectorize=True).run()
    assert posterior.vectorized
    marginal = EmpiricalMarginal(posterior)
    for s in STRENGTHS:
        assert marginal.probability(s) == pytest.approx(float(exact[s]), abs=1e-12)
    assert posterior.log_marginal_likelihood == pytest.approx(math.log(evidence), abs=1e-12)


def test_vectorized_paths_are_the_possible_combinations_with_their_traces():
    posterior = Enumerate(tug_of_war_vectorizable(4), vectorize=True).run()
    assert posterior.num_paths == 3**4 * 2**8  # every combination of values, in one run
    weights = posterior.log_weights
    assert len(weights) == posterior.num_paths - posterior.num_impossible
    assert all(w > -math.inf for w in weights)  # only the possible ones are kept
    trace = posterior.traces[7]  # rebuilt on demand by replaying the model with that path's values
    assert trace.log_prob_sum().item() == pytest.approx(weights[7], abs=1e-5)
    assert trace.nodes["_RETURN"].value.item() == posterior.store.column("_RETURN").value_at(7).item()


def test_python_control_flow_on_a_choice_falls_back_to_paths_and_names_the_line():
    with pytest.warns(SequentialFallbackWarning) as warned:
        posterior = Enumerate(tug_of_war(4), vectorize=True, max_paths=10**6).run()
    assert not posterior.vectorized
    assert "test_enumerate_tug_of_war.py" in posterior.fallback_reason
    assert "reads a sampled value as a Python number" in posterior.fallback_reason
    assert str(warned[0].message) == posterior.fallback_reason
    exact, _ = brute_force(4)
    assert EmpiricalMarginal(posterior).probability(3.0) == pytest.approx(float(exact[3.0]), abs=1e-12)


def test_a_sum_over_a_choice_is_caught_by_the_spot_check_and_enumerated_by_paths():
    def mixes_paths():
        a = pyro.sample("a", dist.Bernoulli(0.3))
        b = pyro.sample("b", dist.Bernoulli(0.6))
        pyro.factor("f", (a + b).sum())  # elementwise intent, but .sum() adds up the values of every path
        return a

    with pytest.warns(SequentialFallbackWarning, match="not elementwise in its choices"):
        posterior = Enumerate(mixes_paths, vectorize=True).run()
    assert not posterior.vectorized
    # By hand: weight of (a, b) is p(a) p(b) e^(a + b).
    joint = {(a, b): (0.3 if a else 0.7) * (0.6 if b else 0.4) * math.exp(a + b) for a in (0, 1) for b in (0, 1)}
    p_a = (joint[1, 0] + joint[1, 1]) / sum(joint.values())
    assert EmpiricalMarginal(posterior).probability(1.0) == pytest.approx(p_a, abs=1e-6)


def test_a_site_with_dimensions_of_its_own_is_enumerated_by_paths():
    data = torch.tensor([0.5, -0.2, 1.1])

    def coin_with_data():
        pyro.sample("noise", dist.Normal(0.0, 1.0), obs=data)  # three observations at once: a dimension of data
        p = pyro.sample("p", dist.Categorical(torch.ones(2)))
        pyro.sample("flip", dist.Bernoulli(torch.tensor([0.2, 0.8])[p]), obs=torch.tensor(1.0))
        return p

    with pytest.warns(SequentialFallbackWarning, match="'noise' scores with shape \\(3,\\)"):
        posterior = Enumerate(coin_with_data, vectorize=True).run()
    assert EmpiricalMarginal(posterior).probability(1) == pytest.approx(0.8 / (0.2 + 0.8), abs=1e-6)


def test_a_repeated_site_name_on_a_late_path_is_named_as_on_the_first():
    # Paths after the first keep_traces are recorded without a Trace; a repeated name there is still the
    # tracer's error, naming the site and how to fix it.
    def eight_coins():
        heads = [int(pyro.sample(f"coin_{i}", dist.Bernoulli(0.5))) for i in range(8)]
        if all(heads):  # the last of the 256 paths
            pyro.sample("coin_0", dist.Bernoulli(0.5))
        return sum(heads)

    posterior = Enumerate(eight_coins)
    assert posterior.keep_traces < 256
    with pytest.raises(DuplicateSiteError, match="'coin_0' appears twice"):
        posterior.run()
