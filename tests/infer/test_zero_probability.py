"""Importance, Rejection, Enumerate and SMC end a run at the site where it becomes impossible.

A run past a ``factor`` of -inf or an impossible observation must never execute more user code
(WebPPL ends it there too): such code may fail (an index out of range) or have effects.
"""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import SMC, EmpiricalMarginal, Enumerate, Importance, Rejection


def make_guarded():
    ran_past = []

    def guarded():
        a = pyro.sample("a", dist.Bernoulli(0.5))
        pyro.require(a.item() == 1.0)
        if a.item() != 1.0:
            ran_past.append(a.item())  # user code after an impossible condition
            raise AssertionError("ran past probability zero")
        return a

    return guarded, ran_past


@pytest.mark.parametrize("algorithm", [
    lambda m: Importance(m, num_samples=200),
    lambda m: Rejection(m, num_samples=50),
    lambda m: Enumerate(m),
    lambda m: SMC(m, num_particles=50),
], ids=["importance", "rejection", "enumerate", "smc"])
def test_no_user_code_runs_after_a_run_becomes_impossible(algorithm):
    model, ran_past = make_guarded()
    posterior = algorithm(model).run()
    assert ran_past == []
    assert EmpiricalMarginal(posterior).probability(1.0) == pytest.approx(1.0)


def test_importance_counts_an_ended_run_with_weight_zero():
    model, _ = make_guarded()
    posterior = Importance(model, num_samples=400).run()
    weights = posterior.log_weights
    zero = sum(1 for w in weights if w == -math.inf)
    assert len(weights) == 400 and 0 < zero < 400
    # log p(evidence) = log P(a = 1) = log 1/2, estimated as log(kept / N): SE of the kept fraction
    # sqrt(1/4 / 400) = 0.025 -> 5 SE = 0.125 on the fraction
    assert abs((400 - zero) / 400 - 0.5) < 5 * math.sqrt(0.25 / 400)
    assert posterior.log_marginal_likelihood == pytest.approx(math.log((400 - zero) / 400), abs=1e-9)


def test_rejection_counts_an_ended_run_as_a_rejected_try():
    model, _ = make_guarded()
    posterior = Rejection(model, num_samples=100).run()
    assert len(posterior) == 100 and posterior.tries > 100
    # acceptance P(a = 1) = 1/2; SE over the tries: sqrt(1/4 / tries)
    assert abs(posterior.acceptance_rate - 0.5) < 5 * math.sqrt(0.25 / posterior.tries)


def test_an_impossible_observation_ends_an_importance_run_too():
    seen = []

    def model():
        k = pyro.sample("k", dist.Categorical(torch.tensor([0.5, 0.5])))
        pyro.sample("count", dist.Binomial(2, torch.tensor(0.5)), obs=torch.tensor(3.0 if k.item() == 0 else 1.0))
        seen.append(k.item())
        return k

    pyro.enable_validation(False)  # (validation would raise at the impossible count instead of scoring it -inf)
    posterior = Importance(model, num_samples=100).run()
    assert set(seen) == {1}
    assert EmpiricalMarginal(posterior).probability(1) == pytest.approx(1.0)

