"""Nested inference as in WebPPL: an inner inference is one site of the outer model, invisible to it, cached.

The reasoning-about-reasoning check is the scalar implicature of the probmods book (a literal
listener, a speaker who reasons about it, a pragmatic listener who reasons about the speaker),
computed independently by brute force in plain Python with fractions.
"""

import math
from fractions import Fraction

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import MH, SMC, EmpiricalMarginal, Enumerate, Importance, Marginal, Rejection, infer

from .stats import batch_means_se, snis_se

N = 4000


def coin():
    return pyro.sample("c", dist.Bernoulli(0.5))


COIN = Marginal(Enumerate(coin))  # computed once, at its first use inside a run


def sampled_from_a_marginal():
    return pyro.sample("x", COIN)


ALGORITHMS = {
    "enumerate": lambda m: Enumerate(m),
    "importance": lambda m: Importance(m, num_samples=N),
    "rejection": lambda m: Rejection(m, num_samples=N),
    "mh": lambda m: MH(m, num_samples=N, warmup=100),
    "smc": lambda m: SMC(m, num_particles=N),
}


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_a_marginal_sampled_inside_a_model_is_one_site_with_the_inner_probabilities(name):
    posterior = ALGORITHMS[name](sampled_from_a_marginal).run()
    assert [n for n in posterior.traces[0].nodes if n != "_RETURN"] == ["x"]
    estimate = EmpiricalMarginal(posterior).probability(1.0)
    # P(x = 1) = 1/2; SE of a frequency over N draws: sqrt(1/4 / N) = 0.0079 -> 5 SE = 0.04 (MH: its chain
    # of prior proposals on one binary site is independent draws, so the same SE applies).
    tolerance = 0.0 if name == "enumerate" else 5 * math.sqrt(0.25 / N)
    assert abs(estimate - 0.5) <= tolerance + 1e-9  # (exact up to float32 log-probabilities)


def test_an_inner_run_with_the_outer_site_names_is_invisible_to_the_outer_inference():
    def inner():
        return pyro.sample("z", dist.Bernoulli(0.2))

    def outer():
        z = pyro.sample("z", dist.Bernoulli(0.5))
        # An inference run from inside the running model, with a site named like the outer one.
        p_inner = EmpiricalMarginal(Enumerate(inner).run()).probability(1.0)
        pyro.factor("weight", math.log(p_inner if z.item() == 1.0 else 1 - p_inner))
        return z

    posterior = Enumerate(outer).run()
    assert sorted(posterior.traces[0].nodes) == ["_RETURN", "weight", "z"]
    # P(z = 1) = 0.5 * 0.2 / (0.5 * 0.2 + 0.5 * 0.8) = 0.2
    assert EmpiricalMarginal(posterior).probability(1.0) == pytest.approx(0.2, abs=1e-6)


def test_an_inner_inference_first_run_inside_mh_raises_no_duplicate_site():
    marginal = Marginal(Enumerate(coin))  # not computed yet: its first run happens inside MH's runs

    def outer():
        c = pyro.sample("c", dist.Bernoulli(0.5))
        return pyro.sample("x", marginal) + c

    posterior = MH(outer, num_samples=200).run()
    assert set(posterior.traces[-1].nodes) == {"c", "x", "_RETURN"}


def test_inner_results_are_computed_once_per_distinct_argument():
    inner_runs = []

    def biased(p):
        inner_runs.append(p)
        return pyro.sample("c", dist.Bernoulli(p))

    noisy = Marginal(Enumerate(biased))

    def outer():
        p = pyro.sample("p", dist.Choice([0.1, 0.9]))
        return pyro.sample("x", noisy, p)

    marginal = EmpiricalMarginal(Enumerate(outer).run())
    assert sorted(set(inner_runs)) == [0.1, 0.9] and len(inner_runs) == 4  # 2 arguments x 2 inner paths
    assert marginal.probability(1.0) == pytest.approx(0.5 * 0.1 + 0.5 * 0.9, abs=1e-6)


def test_an_observed_nested_site_is_scored_by_the_inner_marginal():
    def die():
        return pyro.sample("d", dist.Choice([1, 2, 3]))

    def outer():
        which = pyro.sample("which", dist.Choice(["fair", "loaded"]))
        inner = infer(die) if which == "fair" else infer(lambda: pyro.sample("d", dist.Choice([1, 3], probs=[1, 3])))
        pyro.sample("roll", inner, obs=3)
        return which

    marginal = infer(outer)
    # P(fair | 3) = (1/2 * 1/3) / (1/2 * 1/3 + 1/2 * 3/4)
    assert marginal.probability("fair") == pytest.approx((1 / 3) / (1 / 3 + 3 / 4), abs=1e-9)


# ---- scalar implicature: "some" comes to mean "some but not all" -------------------------------------------
STATES = [0, 1, 2, 3]  # how many of the 3 apples are red
UTTERANCES = ["none", "some", "all"]


def meaning(utterance, state):
    return {"none": state == 0, "some": state > 0, "all": state == 3}[utterance]


def brute_force_pragmatic_listener(utterance):
    def literal(u):
        true_states = [s for s in STATES if meaning(u, s)]
        return {s: Fraction(1, len(true_states)) if s in true_states else Fraction(0) for s in STATES}

    def speaker(state):
        scores = {u: literal(u)[state] for u in UTTERANCES}  # uniform utterance prior, alpha = 1
        total = sum(scores.values())
        return {u: p / total for u, p in scores.items()}

    joint = {s: Fraction(1, len(STATES)) * speaker(s)[utterance] for s in STATES}
    total = sum(joint.values())
    return {s: float(p / total) for s, p in joint.items()}


@pyro.cache
def literal_listener(utterance):
    def model():
        state = pyro.sample("state", dist.Choice(STATES))
        pyro.require(meaning(utterance, state))
        return state

    return infer(model, method="enumerate")


@pyro.cache
def speaker(state):
    def model():
        utterance = pyro.sample("utterance", dist.Choice(UTTERANCES))
        pyro.sample("listener", literal_listener(utterance), obs=state)
        return utterance

    return infer(model, method="enumerate")


def pragmatic_listener(utterance):
    state = pyro.sample("state", dist.Choice(STATES))
    pyro.sample("speaker", speaker(state), obs=utterance)
    return state


def test_the_pragmatic_listener_hears_some_as_not_all_exactly():
    exact = brute_force_pragmatic_listener("some")
    marginal = infer(pragmatic_listener, "some", method="enumerate")
    for state in STATES:
        assert marginal.probability(state) == pytest.approx(exact[state], abs=1e-12)
    assert exact[3] < exact[1]  # the implicature itself: "all" became less likely than "one"


@pytest.mark.parametrize("method, options", [("importance", {"num_samples": N}), ("rejection", {"num_samples": N}),
                                             ("mh", {"num_samples": N, "warmup": 200}),
                                             ("smc", {"num_particles": N})])
def test_the_pragmatic_listener_agrees_with_brute_force_under_sampling(method, options):
    exact = brute_force_pragmatic_listener("some")
    marginal = infer(pragmatic_listener, "some", method=method, **options)
    for state in (1, 3):
        estimate = marginal.probability(state)
        # SE of a weighted-sample probability (delta method, stats.snis_se); for MH's correlated chain, batch
        # means over the chain of indicators (stats.batch_means_se). 5 SE.
        if method == "mh":
            se = batch_means_se([float(v == state) for v in marginal.values])
        else:
            se = snis_se(marginal, lambda v, s=state: v == s)
        assert abs(estimate - exact[state]) < 5 * se, (state, estimate, exact[state])


def test_inference_inside_a_trace_leaves_the_outer_trace_alone():
    def outer():
        return pyro.sample("x", infer(coin)) + pyro.sample("y", dist.Normal(0.0, 1.0))

    trace = poutine.trace(outer).get_trace()
    assert set(trace.nodes) == {"x", "y", "_RETURN"}
    assert torch.is_tensor(trace.nodes["_RETURN"].value)
