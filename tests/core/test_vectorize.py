"""Importance(model, num_samples=n, vectorize=True): n runs as one batched (vmapped) run when the model allows
it, one by one with a note when it does not, and never the first run's branch for every run.

Statistical tolerances are 5 standard errors, derived next to each assertion.
"""

import math
import random
import threading
import warnings

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.errors import InvalidParameterError
from ppl_kernel.infer import EmpiricalMarginal, Importance, TracePosterior
from ppl_kernel.infer.importance import sample_batched
from ppl_kernel.vectorize import BatchedTrace, NotBatchable, SequentialFallbackWarning, run_batched

from .seed_models import make_normal_normal, weather

N = 20_000


def weather_where():
    """The seed's weather without Python control flow: the branch is a torch.where per run."""
    cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    mean = torch.where(cloudy == 1, 55.0, 75.0)
    scale = torch.where(cloudy == 1, 10.0, 15.0)
    temp = pyro.sample("temp", dist.Normal(mean, scale))
    return cloudy, temp


def branch_moments(cloudy, temp):
    """Fraction cloudy, and the mean and sd of temp in each branch."""
    c = cloudy.reshape(-1) == 1
    t = temp.reshape(-1).double()
    return c.double().mean().item(), t[c].mean().item(), t[~c].mean().item(), t[c].std().item(), t[~c].std().item()


def assert_weather_moments(cloudy, temp):
    n = cloudy.numel()
    frac, mean_c, mean_s, sd_c, sd_s = branch_moments(cloudy, temp)
    # fraction cloudy: se = sqrt(0.3 * 0.7 / n)
    assert abs(frac - 0.3) < 5 * math.sqrt(0.21 / n)
    n_c, n_s = frac * n, (1 - frac) * n
    # branch means: se = sigma / sqrt(branch count); a run given another run's branch would shift them by ~20
    assert abs(mean_c - 55.0) < 5 * 10.0 / math.sqrt(n_c)
    assert abs(mean_s - 75.0) < 5 * 15.0 / math.sqrt(n_s)
    # branch sds: se(sd) ~ sigma / sqrt(2 * count)
    assert abs(sd_c - 10.0) < 5 * 10.0 / math.sqrt(2 * n_c)
    assert abs(sd_s - 15.0) < 5 * 15.0 / math.sqrt(2 * n_s)


# ---- batched runs are per-run runs -------------------------------------------------------------------------
def test_a_model_without_control_flow_runs_batched_and_each_run_keeps_its_own_branch():
    post = Importance(weather_where, num_samples=N, vectorize=True).run()
    assert post.vectorized and isinstance(post, TracePosterior)
    trace = post.batched_trace
    assert trace["cloudy"].value.shape == (N,) and trace["temp"].value.shape == (N,)
    assert_weather_moments(trace["cloudy"].value, trace["temp"].value)


def test_the_seed_weather_falls_back_with_a_note_naming_the_line_and_is_right():
    n = 4000
    with pytest.warns(SequentialFallbackWarning) as record:
        post = Importance(weather, num_samples=n, vectorize=True).run()
    (note,) = [str(w.message) for w in record]
    assert note == (
        "model 'weather' reads .data of a sampled value (`cloudy = 'cloudy' if cloudy.data[0] == 1.0 else "
        f"'sunny'` at seed_models.py:13): running {n} runs one by one"
    )
    assert not post.vectorized and post.fallback_reason == note
    assert isinstance(post, TracePosterior) and len(post) == n
    cloudy = torch.stack([tr["cloudy"].value for tr in post.traces])
    temp = torch.stack([tr["temp"].value for tr in post.traces])
    assert_weather_moments(cloudy, temp)
    # each run's returned label is its own draw's branch
    assert all((tr.return_value[0] == "cloudy") == (tr["cloudy"].value.item() == 1.0) for tr in post.traces)


def test_broadcasting_a_leading_dim_instead_would_give_every_run_the_first_runs_branch():
    # Why vectorize must not batch by broadcasting: under a plate the seed's weather tests
    # cloudy.data[0], the first run's draw, and every run gets that run's temperature distribution.
    with pyro.plate("runs", 2000):
        trace = poutine.trace(weather).get_trace()
    label, cloudy, temp = trace.return_value[0], trace["cloudy"].value, trace["temp"].value
    first_branch_mean = 55.0 if label == "cloudy" else 75.0
    assert 0.2 < (cloudy == 1).double().mean().item() < 0.4  # the draws themselves are per run
    both = branch_moments(cloudy, temp)
    # every run, cloudy or not, has the first run's mean (se = 15 / sqrt(600) = 0.6; the right means differ by 20)
    assert abs(both[1] - first_branch_mean) < 5 and abs(both[2] - first_branch_mean) < 5


def test_batched_and_sequential_runs_give_the_same_distributions():
    def model(data):
        loc = pyro.sample("loc", dist.Normal(0.0, 2.0))
        flip = pyro.sample("flip", dist.Bernoulli(0.25))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Normal(loc + flip, 1.0), obs=data)
        return loc * 2 + flip

    data = torch.tensor([0.5, 1.5, 1.0])
    n_batched, n_seq = 40_000, 4000
    batched = Importance(model, num_samples=n_batched, vectorize=True).run(data)
    sequential = Importance(model, num_samples=n_seq).run(data)
    assert batched.vectorized and not sequential.vectorized
    for site in ("loc", "flip", None):
        a, b = batched.marginal(site), EmpiricalMarginal(sequential, site)
        # two independent self-normalized IS estimates: se^2 = sum w^2 (x - mean)^2 for each (delta method)
        se = math.sqrt(_snis_var(a) + _snis_var(b))
        assert abs(a.mean.item() - b.mean.item()) < 5 * se, site


def _snis_var(marginal):
    x = marginal.samples.double().reshape(len(marginal.weights), -1)[:, 0]
    w = marginal.weights
    return float((w * w * (x - (w * x).sum()) ** 2).sum())


def test_each_batched_run_is_exactly_what_a_separate_run_with_its_values_gives():
    def model(scale):
        z = pyro.sample("z", dist.Normal(torch.zeros(2), scale).to_event(1))
        k = pyro.sample("k", dist.Bernoulli(torch.sigmoid(z.sum())))
        pyro.sample("y", dist.Normal(z[0] * k, 0.5), obs=torch.tensor(0.3))
        pyro.factor("penalty", -(z**2).sum())
        return z.sum() + k

    batched = run_batched(model, 64, 1.5)
    for i in (0, 17, 63):
        one = batched.run(i)
        again = poutine.trace(poutine.condition(model, data={"z": one["z"].value, "k": one["k"].value})).get_trace(1.5)
        for name in ("z", "k", "y", "penalty"):
            assert torch.allclose(one[name].log_prob, again[name].log_prob, atol=1e-5), name
        assert torch.allclose(one.return_value, again.return_value)
        assert abs(batched.log_prob_sums()[i].item() - again.log_prob_sum().item()) < 1e-4


# ---- fixed seeds ----------------------------------------------------------------------------------------
def test_a_batched_run_repeats_exactly_under_a_fixed_seed():
    pyro.set_rng_seed(7)
    first = run_batched(weather_where, 500)
    pyro.set_rng_seed(7)
    second = run_batched(weather_where, 500)
    assert torch.equal(first["temp"].value, second["temp"].value)
    assert torch.equal(first["cloudy"].value, second["cloudy"].value)


def test_the_fallback_is_exactly_the_sequential_runs_under_a_fixed_seed():
    # A batched run draws all of a site's values in one call, so its stream cannot equal n separate
    # runs' interleaved draws; the fallback is those separate runs, draw for draw.
    pyro.set_rng_seed(3)
    with pytest.warns(SequentialFallbackWarning):
        post = Importance(weather, num_samples=50, vectorize=True).run()
    pyro.set_rng_seed(3)
    by_hand = [poutine.trace(weather).get_trace() for _ in range(50)]
    assert [tr["temp"].value.item() for tr in post.traces] == [tr["temp"].value.item() for tr in by_hand]


# ---- why a model cannot batch ----------------------------------------------------------------------------
def test_item_on_a_sampled_value_is_named_with_its_line():
    def flips():
        if pyro.sample("c", dist.Bernoulli(0.5)).item() == 1.0:
            return torch.tensor(1.0)
        return torch.tensor(0.0)

    with pytest.raises(NotBatchable) as err:
        run_batched(flips, 10)
    assert err.value.reason.startswith("model 'flips' reads a sampled value as a Python number (.item(), float(), int()) (`if pyro.sample(\"c\", dist.Bernoulli(0.5)).item() == 1.0:` at test_vectorize.py:")


def test_a_python_if_on_a_sampled_tensor_is_branching():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return x if x > 0 else -x

    with pytest.raises(NotBatchable, match=r"model 'model' branches on a sampled value \(`return x if x > 0 else -x` at"):
        run_batched(model, 10)


def test_python_random_would_be_one_draw_for_all_runs_so_it_falls_back():
    def model():
        return pyro.sample("x", dist.Normal(random.random(), 1.0))

    with pytest.raises(NotBatchable, match="draws from Python's random or NumPy"):
        run_batched(model, 10)


def _while_another_thread_draws_from_random(action):
    """``action()`` while a second thread draws from Python's random (as a Dask worker's event loop does)."""
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    other = threading.Thread(target=draw)
    other.start()
    try:
        return action()
    finally:
        stop.set()
        other.join()


def test_another_threads_draws_from_python_random_do_not_make_a_batched_run_fall_back():
    def model():
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    traces = _while_another_thread_draws_from_random(lambda: [run_batched(model, 10) for _ in range(20)])
    assert all(tr["x"].value.shape == (10,) for tr in traces)


def test_a_model_drawing_from_python_random_falls_back_while_another_thread_draws_too():
    def model():
        return pyro.sample("x", dist.Normal(random.random(), 1.0))

    with pytest.raises(NotBatchable, match="draws from Python's random or NumPy"):
        _while_another_thread_draws_from_random(lambda: run_batched(model, 10))


def test_a_returned_closure_could_hold_a_runs_values_so_it_falls_back():
    with pytest.raises(NotBatchable, match="model 'make_normal_normal' returns a function"):
        run_batched(make_normal_normal, 10)


def test_a_sampler_vmap_cannot_batch_is_named_with_its_site():
    class Filled(torch.distributions.Normal):
        def sample(self, sample_shape=torch.Size()):  # a fresh tensor filled in place: vmap refuses per-run draws
            return torch.empty(self._extended_shape(sample_shape)).normal_() * self.scale + self.loc

    def model():
        return pyro.sample("p", Filled(0.0, 1.0))

    with pytest.raises(NotBatchable, match="samples site 'p' from Filled, whose sampler cannot run batched"):
        run_batched(model, 10)


def test_an_invalid_parameter_in_some_run_is_an_error_naming_the_site_and_the_run():
    def model():
        s = pyro.sample("s", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(0.0, s), obs=torch.tensor(0.0))  # scale < 0 in about half the runs

    with pytest.raises(InvalidParameterError) as err:
        run_batched(model, 200)
    text = str(err.value)
    assert text.startswith("site 'y': parameter 'scale' of Normal must satisfy GreaterThan(lower_bound=0.0), but in run ")
    assert "of 200 (a batched run) it is -" in text and text.endswith("Fix the value passed as 'scale' to this sample statement.")


def test_an_invalid_parameter_that_stops_a_draw_is_raised_by_the_runs_one_by_one():
    def model():
        s = pyro.sample("s", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.Normal(0.0, s))

    with pytest.warns(SequentialFallbackWarning, match="normal expects all elements of std >= 0.0"):
        with pytest.raises(InvalidParameterError, match="site 'y': parameter 'scale' of Normal must satisfy"):
            Importance(model, num_samples=200, vectorize=True).run()


def test_a_parameter_is_created_by_the_runs_one_by_one_then_the_model_batches():
    def model():
        w = pyro.param("w", torch.tensor(0.5), constraint=dist.constraints.positive)
        return pyro.sample("x", dist.Normal(w, 1.0))

    with pytest.warns(SequentialFallbackWarning, match="model 'model' creates a parameter on its first run"):
        assert not Importance(model, num_samples=10, vectorize=True).run().vectorized
    post = Importance(model, num_samples=10, vectorize=True).run()
    assert post.vectorized and post.batched_trace["w"].value.shape == ()


def test_an_error_of_the_model_itself_reads_as_without_vectorize():
    def model(x):
        return pyro.sample("x", dist.Normal(x, 1.0))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SequentialFallbackWarning)
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'") as err:
            Importance(model, num_samples=5, vectorize=True).run()
    assert err.value.__context__ is None  # not chained to the batched attempt


def test_sample_batched_gives_none_instead_of_falling_back():
    assert sample_batched(weather, 100) is None
    post = sample_batched(weather_where, 100)
    assert isinstance(post, Importance) and post.vectorized and len(post) == 100


# ---- what a batched trace looks like -------------------------------------------------------------------------
def test_batched_trace_layout_and_its_runs():
    def model(data):
        mu = pyro.sample("mu", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        with pyro.plate("data", 3):
            pyro.sample("y", dist.Normal(mu.sum(), 1.0), obs=data)
        pyro.param("w", torch.tensor(0.5))
        return mu

    data = torch.tensor([0.1, 0.2, 0.3])
    model(data)  # creates the parameter: that cannot happen inside a batched run
    tr = run_batched(model, 7, data)
    assert isinstance(tr, BatchedTrace) and tr.num_runs == 7
    assert list(tr.nodes) == ["mu", "y", "w", "_RETURN"]
    assert tr["mu"].value.shape == (7, 2) and tr["mu"].log_prob.shape == (7,)
    assert tr["mu"].fn.batch_shape == (7,) and tr["mu"].fn.event_shape == (2,)
    assert tr["y"].value.shape == (7, 3) and tr["y"].log_prob.shape == (7, 3) and tr["y"].is_observed
    assert tr["y"].cond_indep_stack[0].name == "data" and tr["y"].cond_indep_stack[0].dim == -1
    assert tr["w"].type == "param" and tr["w"].value.shape == () and tr["w"].value.item() == 0.5  # not batched
    assert tr.return_value.shape == (7, 2)
    runs = tr.unbind()
    assert len(runs) == 7
    for i, one in enumerate(runs):
        assert torch.equal(one["mu"].value, tr["mu"].value[i]) and one["mu"].fn.batch_shape == ()
        assert torch.allclose(one["y"].fn.log_prob(one["y"].value), one["y"].log_prob)
        assert abs(one.log_prob_sum().item() - tr.log_prob_sums()[i].item()) < 1e-5
    assert abs(tr.log_prob_sum().item() - tr.log_prob_sums().sum().item()) < 1e-3
    assert "7 runs of mu, y, w" in repr(tr)
    with pytest.raises(IndexError, match="runs 0..6"):
        tr.run(7)


def test_the_fast_marginal_equals_the_run_by_run_one():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(1.0))
        return torch.stack([x, x * x])

    post = Importance(model, num_samples=300, vectorize=True).run()
    run_by_run = TracePosterior(model)  # the same runs, as separate traces
    for trace, log_weight in zip(post.traces, post.log_weights, strict=True):
        run_by_run.add(trace, log_weight)
    for site in ("x", None):
        fast, slow = EmpiricalMarginal(post, site), EmpiricalMarginal(run_by_run, site)
        assert fast.samples.shape == slow.samples.shape
        assert torch.allclose(fast.mean, slow.mean) and torch.allclose(fast.variance, slow.variance)
        assert torch.allclose(fast.quantiles([0.1, 0.5, 0.9]), slow.quantiles([0.1, 0.5, 0.9]))
        assert torch.allclose(fast.weights, slow.weights)


@pytest.mark.cuda
def test_a_batched_run_on_cuda_stays_on_cuda():
    device = torch.device("cuda")

    def model():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(torch.tensor(0.3, device=device)))
        mean = torch.where(cloudy == 1, 55.0, 75.0)
        return pyro.sample("temp", dist.Normal(mean, torch.tensor(10.0, device=device)))

    post = Importance(model, num_samples=100_000, vectorize=True).run()
    assert post.vectorized
    for site in post.batched_trace:
        assert site.value.device.type == "cuda" and site.log_prob.device.type == "cuda"
    assert post.traces.log_weights.device.type == "cuda"
    assert abs(post.marginal("cloudy").mean.item() - 0.3) < 5 * math.sqrt(0.21 / 100_000)
