"""Results a user can trust (issue 12): weights normalised stably, NaN named, the run store atomic and compact,
and traces still readable after the store keeps only columns.

Each test here failed on the code before the run store and the stable normalisation.
"""

import math
import sys

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import MH, EmpiricalMarginal, Importance, InferenceError, Rejection, TracePosterior
from ppl_kernel.infer.store import RunStore


def test_huge_equal_log_weights_normalise_to_equal_weights():
    posterior = TracePosterior()
    for value in (1.0, 0.0, 0.0, 0.0):
        trace = poutine.trace(lambda v=value: pyro.sample("c", dist.Bernoulli(0.5), obs=torch.tensor(v))).get_trace()
        posterior.add(trace, 1e20)  # a factor of 1e20 in every run: the ratios are all 1
    weights = posterior.get_normalized_weights()
    assert torch.allclose(weights, torch.full((4,), 0.25, dtype=torch.float64))
    assert EmpiricalMarginal(posterior, "c").mean.item() == pytest.approx(0.25)
    assert posterior.get_ESS() == pytest.approx(4.0)


def test_a_huge_factor_in_a_model_gives_the_right_bernoulli_mean():
    def model():
        c = pyro.sample("c", dist.Bernoulli(0.5))
        pyro.factor("huge", torch.tensor(1e20))  # the same in every run: the posterior is the prior
        return c

    posterior = Importance(model, num_samples=400).run()
    mean = EmpiricalMarginal(posterior).mean.item()
    # equal weights: the mean of 400 Bernoulli(0.5) draws, se = 0.5 / 20 = 0.025 -> 5 se = 0.125 (it was 11)
    assert abs(mean - 0.5) < 5 * 0.025


def nan_model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    pyro.factor("broken", torch.tensor(math.nan) * x)
    return x


@pytest.mark.parametrize("algorithm", [
    lambda m: Importance(m, num_samples=5),
    lambda m: Rejection(m, num_samples=5),
    lambda m: MH(m, num_samples=5),
], ids=["importance", "rejection", "mh"])
def test_a_nan_weight_is_an_error_that_says_nan_and_names_the_factor(algorithm):
    with pytest.raises(InferenceError, match=r"factor 'broken' of model 'nan_model' scored NaN"):
        algorithm(nan_model).run()


def test_a_nan_weight_added_by_hand_is_named_nan_when_normalising():
    posterior = TracePosterior()
    posterior.add(poutine.trace(lambda: pyro.sample("c", dist.Bernoulli(0.5))).get_trace(), math.nan)
    with pytest.raises(ValueError, match="are NaN"):
        posterior.get_normalized_weights()


def test_adding_a_run_is_atomic_when_interrupted_between_columns():
    store = RunStore()
    store.add({"a": torch.tensor(1.0), "b": torch.tensor(2.0)}, 0.0)

    class Interrupting(dict):
        def items(self):  # the interrupt lands after the first column took its value
            yield "a", torch.tensor(3.0)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.add(Interrupting(), 0.0)
    assert store.num_runs == 1
    assert store.column("a").tensor().tolist() == [1.0] and store.column("b").tensor().tolist() == [2.0]
    store.add({"a": torch.tensor(5.0), "b": torch.tensor(6.0)}, -1.0)
    assert store.column("a").tensor().tolist() == [1.0, 5.0] and store.log_weight_list() == [0.0, -1.0]


def test_an_interrupted_mh_run_is_a_consistent_partial_posterior():
    calls = []

    def stop_after_a_while(posterior, done, total):
        calls.append(done)
        if done >= 300:
            raise KeyboardInterrupt

    def coin():
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        pyro.sample("toss", dist.Bernoulli(p), obs=torch.tensor(1.0))
        return p

    posterior = MH(coin, num_samples=10_000, progress=stop_after_a_while)
    import ppl_kernel.infer.throttle as throttle

    saved = throttle.INTERVAL, throttle.MAX_WAIT
    throttle.INTERVAL = throttle.MAX_WAIT = 0.0  # every step reports, so the stop lands mid-run
    try:
        posterior.run()
    finally:
        throttle.INTERVAL, throttle.MAX_WAIT = saved
    n = len(posterior)
    assert posterior.partial and 0 < n < 10_000
    assert len(posterior.log_weights) == len(posterior.chain_ids) == len(posterior.traces) == n
    assert len(EmpiricalMarginal(posterior).samples) == n


def test_a_stored_scalar_site_costs_under_200_bytes_per_run():
    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        return pyro.sample("temp", dist.Normal(55.0 if cloudy.item() else 75.0, 10.0))

    posterior = Importance(weather, num_samples=20_000).run()
    per_run = posterior.store.nbytes() / len(posterior)
    # two scalar sites and a tensor return value: 3 columns of (8-byte value + 8-byte run index), plus
    # the log-weight and chain id (8 + 8): 64 bytes a run
    assert per_run < 3 * 200
    assert sys.getsizeof(posterior._kept) < 10_000 and len(posterior._kept) == TracePosterior.keep_traces


def test_traces_beyond_the_kept_ones_are_rebuilt_with_their_values():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(0.3))
        return x

    posterior = Importance(model, num_samples=TracePosterior.keep_traces + 50).run()
    late = len(posterior) - 1
    trace = posterior.traces[late]
    assert late not in posterior._kept
    assert trace["x"].value.item() == posterior.store.column("x").tensor()[late].item()
    # the rebuilt run scores like the original: its weight is y's log-density
    assert trace["y"].log_prob_sum().item() == pytest.approx(posterior.log_weights[late], abs=1e-5)


def test_a_reader_in_another_thread_never_rolls_back_a_run_being_added():
    import threading

    store = RunStore()
    half_added, release = threading.Event(), threading.Event()

    class Slow(dict):
        def items(self):  # the adding thread pauses after its first column took the value
            yield "x", torch.tensor(1.0)
            half_added.set()
            release.wait(10)
            yield "_RETURN", torch.tensor(1.0)

    adder = threading.Thread(target=lambda: store.add(Slow(), 0.0))
    adder.start()
    assert half_added.wait(10)
    assert store.num_runs == 0 and store.column("x").tensor(store.num_runs).numel() == 0  # not counted yet
    release.set()
    adder.join(10)
    assert store.num_runs == 1
    assert store.column("x").tensor().tolist() == [1.0] and store.column("_RETURN").tensor().tolist() == [1.0]
