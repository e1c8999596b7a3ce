"""SMC over a program: the posterior and the evidence against exact enumeration, with standard-error tolerances.

The reference is an exact enumeration of the same discrete model (hidden Markov chain of 6 steps,
2^6 paths), itself checked against a forward-algorithm sum written in plain Python.
"""

import itertools
import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import SMC, EmpiricalMarginal, Enumerate, InferenceError

from .stats import snis_se

OBSERVATIONS = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
STAY, EMIT = 0.8, {0: 0.2, 1: 0.9}  # P(state stays), P(observation 1 | state)


def hmm(observations):
    state = 0
    for t, y in enumerate(observations):
        moved = pyro.sample(f"move_{t}", dist.Bernoulli(1 - STAY)).item()
        state = 1 - state if moved else state
        pyro.sample(f"y_{t}", dist.Bernoulli(EMIT[state]), obs=torch.tensor(y))
    return state


def forward_by_brute_force(observations):
    """(P(evidence), P(last state = 1 | evidence)) summing the 2^T move sequences in plain Python."""
    evidence = last_one = 0.0
    for moves in itertools.product([0, 1], repeat=len(observations)):
        p, state = 1.0, 0
        for moved, y in zip(moves, observations, strict=True):
            p *= (1 - STAY) if moved else STAY
            state = 1 - state if moved else state
            p *= EMIT[state] if y == 1.0 else 1 - EMIT[state]
        evidence += p
        last_one += p * state
    return evidence, last_one / evidence


def test_the_reference_enumeration_agrees_with_brute_force():
    evidence, p_last = forward_by_brute_force(OBSERVATIONS)
    posterior = Enumerate(hmm).run(OBSERVATIONS)
    assert math.exp(posterior.log_marginal_likelihood) == pytest.approx(evidence, rel=1e-5)
    assert EmpiricalMarginal(posterior).probability(1) == pytest.approx(p_last, abs=1e-6)


@pytest.mark.parametrize("rejuvenate", [0, 2])
def test_smc_posterior_matches_the_exact_one(rejuvenate):
    _, p_last = forward_by_brute_force(OBSERVATIONS)
    posterior = SMC(hmm, num_particles=1000, rejuvenate=rejuvenate).run(OBSERVATIONS)
    marginal = EmpiricalMarginal(posterior)
    # The SE of a resampled population's estimate is above the weighted-sample SE (resampling adds variance);
    # the weighted SE of the final population, inflated by the ratio N / min ESS seen during the run,
    # bounds it. 5 of those.
    inflation = math.sqrt(1000 / min(posterior.ess_history))
    se = snis_se(marginal, lambda v: v == 1) * inflation
    assert abs(marginal.probability(1) - p_last) < 5 * se
    assert posterior.resample_count >= 1


def test_the_evidence_estimate_is_unbiased():
    evidence, _ = forward_by_brute_force(OBSERVATIONS)
    # SMC's estimate of p(evidence) (not of its log) is unbiased: the mean of K independent estimates is
    # within 5 standard errors (their sample sd / sqrt K) of the exact evidence.
    estimates = [math.exp(SMC(hmm, num_particles=100).run(OBSERVATIONS).log_marginal_likelihood) for _ in range(40)]
    mean = sum(estimates) / len(estimates)
    sd = math.sqrt(sum((e - mean) ** 2 for e in estimates) / (len(estimates) - 1))
    assert abs(mean - evidence) < 5 * sd / math.sqrt(len(estimates))


def test_particles_advance_one_observation_per_generation():
    runs = []

    def counted(observations):
        runs.append(1)
        return hmm(observations)

    posterior = SMC(counted, num_particles=10, ess_threshold=0.0).run(OBSERVATIONS)
    # Generation g re-runs each particle up to observation g (T generations), then one run finds the end.
    assert len(runs) == 10 * (len(OBSERVATIONS) + 1)
    assert posterior.ess_history and posterior.resample_count == 0


def test_a_model_with_a_varying_number_of_observations_is_handled():
    def keep_counting():
        n = 0
        while pyro.sample(f"more_{n}", dist.Bernoulli(0.6)).item() == 1.0 and n < 4:
            pyro.factor(f"likes_{n}", math.log(0.5))
            n += 1
        return n

    exact = EmpiricalMarginal(Enumerate(keep_counting).run())
    marginal = EmpiricalMarginal(SMC(keep_counting, num_particles=4000).run())
    for n in range(5):
        se = snis_se(marginal, lambda v, n=n: v == n) * math.sqrt(2)  # x sqrt(2): resampling's extra variance
        assert abs(marginal.probability(n) - exact.probability(n)) < 5 * se + 1e-9


def test_when_every_particle_is_impossible_the_error_says_so():
    def never():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        pyro.require(x.item() > 5)

    with pytest.raises(InferenceError, match="every one of the 50 particles of model 'never' reached probability zero"):
        SMC(never, num_particles=50).run()


def test_progress_reports_runs_and_ends_with_a_final_call():
    calls = []
    SMC(hmm, num_particles=20, progress=lambda post, done, total: calls.append((done, post.running))).run(OBSERVATIONS)
    assert calls[0][0] == 0 and calls[-1] == (calls[-1][0], False) and calls[-1][0] >= 20 * len(OBSERVATIONS)


@pytest.mark.parametrize("options, message", [
    ({"num_particles": 0}, "num_particles must be a positive integer"),
    ({"ess_threshold": 1.5}, "ess_threshold must be between 0 and 1"),
    ({"rejuvenate": -1}, "rejuvenate must be an integer >= 0"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        SMC(hmm, **options)
