"""Enumerate on the probmods tug of war (issue 13's benchmark): exact answers at 4 and 5 people, and the
properties of the path enumeration that make it fast (each value of a choice scored once, impossible
values pruned) without changing what it computes.

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
from ppl_kernel.infer import EmpiricalMarginal, Enumerate, EnumerationError

STRENGTHS = (1.0, 2.0, 3.0)
# Two a side; the first team of each match won it (the matches of bench/bench_webppl.py).
MATCHES = {
    4: [((0, 1), (2, 3)), ((0, 2), (1, 3))],
    5: [((0, 1), (2, 3)), ((0, 4), (1, 2))],
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
    """P(strength of person 0 = s | every first team won), and P(every first team won), as fractions."""
    matches = MATCHES[people]
    lazy_slots = [(m, side, i) for m, match in enumerate(matches) for side, team in enumerate(match) for i in team]
    joint = {s: Fraction(0) for s in STRENGTHS}
    for strength in itertools.product(STRENGTHS, repeat=people):
        for lazies in itertools.product((False, True), repeat=len(lazy_slots)):
            lazy = dict(zip(lazy_slots, lazies, strict=True))

            def pull(m, side, team, strength=strength, lazy=lazy):
                return sum(strength[i] / 2 if lazy[(m, side, i)] else strength[i] for i in team)

            if all(pull(m, 0, w) > pull(m, 1, v) for m, (w, v) in enumerate(matches)):
                weight = Fraction(1, 3**people)
                for is_lazy in lazies:
                    weight *= LAZY if is_lazy else 1 - LAZY
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
