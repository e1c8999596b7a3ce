"""Many MH chains as one batched chain whose step is captured once and replayed (infer/mh_batched.py).

A run of at least BatchedChains._CAPTURE_MIN_STEPS steps replays its captured step after the first;
shorter runs run the model's Python at every step (tests/infer/test_mh.py covers those).
"""

import math

import pytest
import torch
from torch.distributions import constraints

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.errors import InvalidParameterError
from ppl_kernel.infer import MH, EmpiricalMarginal, InferenceError

from ppl_kernel.infer.mh_batched import BatchedChains, _support_varies
from ppl_kernel.vectorize import SequentialFallbackWarning

LONG = BatchedChains._CAPTURE_MIN_STEPS


def test_a_long_batched_run_runs_the_model_code_a_fixed_number_of_times_not_once_a_step():
    calls = []

    def model():
        calls.append(1)
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(1.0))
        return x

    posterior = MH(model, num_samples=LONG, num_chains=100, vectorize=True).run()
    assert posterior.vectorized and len(posterior) == LONG * 100
    # the prior run, one checked step, the capture and the final replay of the kept states
    assert len(calls) <= 5


def test_a_captured_run_moves_every_choice_of_every_chain():
    def model():
        a = pyro.sample("a", dist.Bernoulli(0.5))
        b = pyro.sample("b", dist.Bernoulli(0.5))
        pyro.factor("one at least", torch.where(a + b > 0, 0.0, -float("inf")))
        return a + 2 * b

    k = 500
    posterior = MH(model, num_samples=LONG, num_chains=k, vectorize=True).run()
    values = posterior.batched_trace["_RETURN"].value.reshape(-1, k)
    # the posterior is uniform on a + 2b in {1, 2, 3}: each has 1/3 of the last step's chains,
    # 500 / 3 +- 5 * sqrt(500 * 1/3 * 2/3) = 167 +- 53 (the chains are independent)
    last = values[-1]
    for outcome in (1.0, 2.0, 3.0):
        assert abs(int((last == outcome).sum()) - k / 3) < 5 * (k * 2 / 9) ** 0.5
    assert not bool((last == 0).any())
    assert 0 < posterior.acceptance_rate < 1


def test_a_model_that_makes_other_choices_in_a_later_step_falls_back_with_a_note():
    calls = []

    def model():
        calls.append(1)
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        if len(calls) == 3:  # Python state outside the random choices: the third run has one more site
            pyro.sample("z", dist.Normal(0.0, 1.0))
        return x

    with pytest.warns(SequentialFallbackWarning) as record:
        posterior = MH(model, num_samples=LONG, num_chains=3, vectorize=True).run()
    assert "made other random choices from one step to the next" in str(record[0].message)
    assert not posterior.vectorized


def test_a_parameter_that_becomes_invalid_in_a_captured_step_is_named_with_its_chain():
    def model():
        x = pyro.sample("x", dist.Normal(2.0, 1.0))  # below 0 in 2% of the proposals
        pyro.sample("y", dist.Normal(0.0, x), obs=torch.tensor(1.0))
        return x

    with pytest.raises(InvalidParameterError) as e:
        MH(model, num_samples=4 * LONG, num_chains=10, vectorize=True).run()
    message = str(e.value)
    assert "site 'y'" in message and "parameter 'scale'" in message and "in run" in message


def test_an_invalid_parameter_that_is_the_same_in_every_run_is_named_with_its_site():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(x, torch.tensor(-1.0)), obs=torch.tensor(1.0))
        return x

    with pytest.raises(InvalidParameterError) as e:
        MH(model, num_samples=LONG, num_chains=10, vectorize=True).run()
    message = str(e.value)
    assert "site 'y'" in message and "parameter 'scale'" in message and "-1.0" in message


def test_a_factor_that_scores_nan_in_a_captured_step_is_named_with_its_chain():
    def model():
        x = pyro.sample("x", dist.Normal(3.0, 1.0))  # below 0 in 0.1% of the proposals
        pyro.factor("log of x", torch.log(x))
        return x

    pyro.enable_validation(False)  # with validation on the batched run rejects the NaN parameter itself
    with pytest.raises(InferenceError) as e:
        MH(model, num_samples=4 * LONG, num_chains=100, vectorize=True).run()
    message = str(e.value)
    assert "NaN" in message and "factor 'log of x'" in message and "in chain" in message


def test_an_interrupted_captured_run_keeps_the_states_so_far():
    def progress(posterior, done, total):
        if done > 100:  # the second report (a quarter of a second in, the first came after the first step)
            raise KeyboardInterrupt

    def model():
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    # long enough (seconds) to be interrupted well after its step was captured, whatever the machine's speed
    posterior = MH(model, num_samples=2000 * LONG, num_chains=100, vectorize=True, progress=progress).run()
    assert posterior.partial and posterior.vectorized
    assert 0 < len(posterior) < 2000 * LONG * 100 and len(posterior) % 100 == 0


def test_a_captured_run_uses_the_tensors_passed_to_the_model():
    def model(mu, data):
        x = pyro.sample("x", dist.Normal(mu, 1.0))
        pyro.sample("y", dist.Normal(x, 1.0), obs=data)
        return x

    k = 500
    posterior = MH(model, num_samples=2 * LONG, warmup=LONG, num_chains=k, vectorize=True).run(
        torch.tensor(1.0), torch.tensor(3.0))
    last = posterior.batched_trace["x"].value.reshape(-1, k)[-1].to(torch.float64)
    # x ~ N(1, 1), y = 3 ~ N(x, 1): the posterior is N(2, 1/2); over k independent chains the mean of their
    # last states is 2 +- 5 * sqrt(0.5 / k) = 0.16
    assert abs(float(last.mean()) - 2.0) < 5 * (0.5 / k) ** 0.5


def test_a_model_parameter_leaves_no_gradient_history_in_the_chains_states():
    def model():
        loc = pyro.param("loc", torch.tensor(1.0))
        x = pyro.sample("x", dist.Normal(loc, 1.0))
        pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(3.0))
        return x

    pyro.param("loc", torch.tensor(1.0))  # made before: a batched run cannot create it
    chains = BatchedChains(model, 10, (), {}, steps=LONG)
    state = chains.initial()
    for _ in range(5):  # checked steps, the capture, replayed steps
        state, _ = chains.step(state)
        assert not state.total.requires_grad and not state.choice_scores.requires_grad
        assert not any(value.requires_grad for value in state.values.values())


def test_a_model_that_drops_a_choice_in_a_later_step_falls_back_with_a_note():
    calls = []

    def model():
        calls.append(1)
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        if len(calls) < 3:  # Python state outside the random choices: from the third run on, no z
            pyro.sample("z", dist.Normal(x, 1.0))
        return x

    with pytest.warns(SequentialFallbackWarning) as record:
        posterior = MH(model, num_samples=LONG, num_chains=3, vectorize=True).run()
    message = str(record[0].message)
    assert "model 'model' made other random choices from one step to the next (no site 'z' this time)" in message
    assert not posterior.vectorized


def test_a_model_whose_choice_stops_depending_on_another_in_a_later_step_falls_back_with_a_note():
    calls = []

    def model():
        calls.append(1)
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        # Python state outside the random choices: from the third run on, z's mean no longer depends on x
        return x + pyro.sample("z", dist.Normal(x if len(calls) < 3 else 0.0, 1.0))

    with pytest.warns(SequentialFallbackWarning) as record:
        posterior = MH(model, num_samples=LONG, num_chains=3, vectorize=True).run()
    assert "model 'model' made the distribution of site 'z' depend on the run's values in one step and not in " \
        "another" in str(record[0].message)
    assert not posterior.vectorized


def test_a_choice_whose_distribution_is_the_same_in_every_run_is_not_scored_and_the_posterior_is_still_exact():
    # x's prior has constant parameters (its term cancels in every acceptance ratio); y's depends on x
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        y = pyro.sample("y", dist.Normal(x, 1.0))
        pyro.sample("obs", dist.Normal(y, 1.0), obs=torch.tensor(3.0))
        return x

    chains = BatchedChains(model, 4, (), {})
    chains.initial()
    assert chains.layout.choices == ["x", "y"] and chains.layout.scored == (1,)
    assert chains.layout.labels == ["site 'y'", "site 'obs'"]
    # x's parameter checks and the observed value's check hold in every run: decided once, not in each step
    assert chains.layout.num_checks == 2  # y's mean and obs's mean, which depend on the run
    pyro.set_rng_seed(0)
    posterior = MH(model, num_samples=1000, warmup=500, num_chains=200, vectorize=True).run()
    assert posterior.vectorized
    # exact: x | obs ~ N(1, 2/3) (obs = x + two unit normals). 200 chains, 1000 kept steps each; MH's
    # autocorrelation makes the effective sample size at least ~2000 here: 5 sigma = 5 * sqrt(2/3 / 2000) = 0.09
    mean = float(EmpiricalMarginal(posterior).mean)
    assert abs(mean - 1.0) < 5 * (2 / 3 / 2000) ** 0.5


def test_chains_that_start_at_probability_zero_are_drawn_again_and_never_kept():
    # Two dice whose faces sum to at least 8: 21 of the 36 prior pairs are impossible, and from faces (1, 1) no
    # single-site move reaches a possible pair, so a chain started there would stay there. (A -inf total once
    # read as the lowest finite float let such starts pass, and about 2% of the kept states were impossible.)
    die = torch.ones(6)

    def dice():
        a = pyro.sample("a", dist.Categorical(die))
        b = pyro.sample("b", dist.Categorical(die))
        pyro.factor("at_least_8", torch.where(a + b + 2 >= 8, 0.0, -math.inf))
        return a + 1

    pyro.set_rng_seed(0)
    posterior = MH(dice, num_samples=300, warmup=100, num_chains=200, vectorize=True).run()
    assert posterior.vectorized
    a, b = EmpiricalMarginal(posterior, "a").samples, EmpiricalMarginal(posterior, "b").samples
    assert bool((a + b + 2 >= 8).all())
    # exact: the first face given a sum of at least 8 has mean 70/15 and sd 1.25; 200 chains of 300 kept steps
    # are at least 2000 effective draws here: 5 sigma = 5 * 1.25 / sqrt(2000) = 0.14
    assert abs(float(EmpiricalMarginal(posterior).mean) - 70 / 15) < 5 * 1.25 / 2000 ** 0.5


def test_a_support_whose_tensors_sit_inside_another_constraint_is_checked_as_one_that_varies():
    # Uniform(0, x).to_event(1) has the support independent(interval(0, x), 1): its tensors are one level
    # down, and a reused value must be checked against them
    nested = constraints.independent(constraints.interval(torch.zeros(3), torch.ones(3)), 1)
    assert _support_varies(nested)
    assert not _support_varies(constraints.independent(constraints.real, 1))


def test_the_first_capture_of_a_process_does_not_import_torchs_symbolic_shape_machinery():
    # An in-place step in a log_prob (torch's fused Bernoulli loss, an in-place Normal density) made
    # functionalize import sympy and torch's symbolic shapes: a second of waiting on the first capture.
    import subprocess
    import sys

    script = (
        "import sys, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist\n"
        "from ppl_kernel.infer import MH\n"
        "def model():\n"
        "    c = pyro.sample('c', dist.Bernoulli(0.3))\n"
        "    pyro.sample('t', dist.Normal(torch.where(c == 1, 55.0, 75.0), 10.0), obs=torch.tensor(70.0))\n"
        "    return c\n"
        f"posterior = MH(model, num_samples={LONG}, num_chains=50, vectorize=True).run()\n"
        "assert posterior.vectorized\n"
        "print('sympy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_kept_states_are_stored_state_by_state_with_their_chain_and_their_shape():
    k, n = 40, LONG

    def model():
        with pyro.plate("three", 3):
            x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return x.sum()

    posterior = MH(model, num_samples=n, warmup=3, thin=2, num_chains=k, vectorize=True).run()
    assert posterior.vectorized and len(posterior) == n * k
    assert posterior.batched_trace["x"].value.shape == (n * k, 3)
    assert list(posterior.chain_ids) == [row % k for row in range(n * k)]  # kept state s of chain c at row s * k + c
    # the return value is replayed from each kept state's values
    assert torch.allclose(posterior.batched_trace.return_value, posterior.batched_trace["x"].value.sum(-1))
