"""TracePosterior and EmpiricalMarginal: what the notebook layer and users read from a run."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import (
    ABSENT, MH, EmpiricalMarginal, Enumerate, Importance, Marginal, Rejection, Search, TracePosterior,
)
from ppl_kernel.runtime import get_stack

from .models import P_CLOUDY_AT_70, geometric, is_cloudy, weather_at_70


def dice():
    a = pyro.sample("a", dist.Categorical(torch.ones(4)))
    b = pyro.sample("b", dist.Categorical(torch.ones(4)))
    return a + b


# ---- building a posterior from traces sampled elsewhere -----------------------------------------------
def test_a_posterior_built_from_added_traces():
    posterior = TracePosterior(weather_at_70)
    for value in (1.0, 0.0, 0.0, 0.0):
        model = poutine.condition(weather_at_70, data={"cloudy": torch.tensor([value])})
        posterior.add(poutine.trace(model, calls=False).get_trace())
    marginal = EmpiricalMarginal(posterior)
    assert marginal.probability(is_cloudy) == 0.25
    assert posterior.marginal("cloudy").mean.item() == 0.25
    assert len(posterior) == 4 and posterior.log_weights == [0.0] * 4 and posterior.chain_ids == [0] * 4


def test_weights_count_in_the_marginal():
    posterior = TracePosterior()
    for value, log_weight in ((1.0, math.log(3.0)), (0.0, 0.0)):
        posterior.add(poutine.trace(lambda v=value: pyro.sample("c", dist.Bernoulli(0.5), obs=v)).get_trace(),
                      log_weight)
    marginal = EmpiricalMarginal(posterior, "c")
    assert abs(marginal.mean.item() - 0.75) < 1e-6
    assert abs(marginal.effective_sample_size() - 1 / (0.75**2 + 0.25**2)) < 1e-9
    assert abs(posterior.get_ESS() - 1.6) < 1e-9


# ---- interrupting and progress --------------------------------------------------------------------------
def _interrupting(after):
    calls = {"n": 0}

    def model():
        calls["n"] += 1
        if calls["n"] > after:
            raise KeyboardInterrupt
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return x.item()  # a Python number: one run at a time (no batched importance)

    return model


@pytest.mark.parametrize("make", [
    lambda m: Importance(m, num_samples=100),
    lambda m: MH(m, num_samples=100),
    lambda m: Rejection(m, num_samples=100),
])
def test_keyboard_interrupt_in_the_model_keeps_what_was_collected(make):
    posterior = make(_interrupting(30)).run()
    assert posterior.partial is True
    assert 0 < len(posterior.traces) <= 30
    assert len(posterior.traces) == len(posterior.log_weights) == len(posterior.chain_ids)
    assert get_stack() == []  # every handler left the stack
    assert EmpiricalMarginal(posterior).samples.shape == (len(posterior.traces),)


def test_keyboard_interrupt_in_enumeration_keeps_the_paths_so_far():
    def interrupted_dice():
        value = dice()
        if len(posterior.traces) >= 5:
            raise KeyboardInterrupt
        return value

    posterior = Enumerate(interrupted_dice)
    posterior.run()
    assert posterior.partial and len(posterior.traces) == 5


def test_keyboard_interrupt_from_the_progress_callback():
    seen = []

    def progress(posterior, done, total):
        seen.append((done, total))
        if done >= 1:
            raise KeyboardInterrupt

    # The callback is throttled to a few calls a second: a slow model lets it run after the first sample.
    def slow():
        import time

        time.sleep(0.3)
        return pyro.sample("x", dist.Normal(0.0, 1.0)).item()  # one run at a time (no batched importance)

    posterior = Importance(slow, num_samples=50, progress=progress).run()
    assert posterior.partial and 1 <= len(posterior.traces) < 50
    assert seen[0] == (0, 50)


def test_stop_from_the_progress_callback():
    def progress(posterior, done, total):
        if done > 0:
            posterior.stop()

    def slow():
        import time

        time.sleep(0.3)
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    posterior = MH(slow, num_samples=50, progress=progress).run()
    assert posterior.partial and len(posterior.traces) < 50
    # a new run starts afresh
    posterior.progress = None
    posterior.num_samples = 3
    assert not posterior.run().partial and len(posterior.traces) == 3


def test_progress_reports_start_and_end_and_is_throttled():
    calls = []
    posterior = Importance(weather_at_70, num_samples=300, progress=lambda p, d, t: calls.append((p, d, t))).run()
    assert calls[0][1:] == (0, 300) and calls[-1][1:] == (300, 300)
    assert all(c[0] is posterior for c in calls)
    assert len(calls) < 300  # throttled: not once per sample
    done = []
    Enumerate(dice, progress=lambda p, d, t: done.append((d, t))).run()
    assert done[0] == (0, None) and done[-1] == (16, None)
    mh = []
    MH(weather_at_70, num_samples=20, warmup=5, thin=2, num_chains=2, progress=lambda p, d, t: mh.append((d, t))).run()
    assert mh[-1] == (2 * (5 + 20 * 2), 90)


# ---- call trees --------------------------------------------------------------------------------------
def test_trace_with_calls_replays_the_same_run():
    posterior = Enumerate(lambda: geometric(0.5)).run()
    i = max(range(len(posterior.traces)), key=lambda j: len(posterior.traces[j].nodes))
    stored = posterior.traces[i]
    assert stored.root is not None and stored.root.children == []  # inference skipped the call tree
    full = posterior.trace_with_calls(i)
    assert [s.name for s in full] == [s.name for s in stored]
    assert all(torch.equal(full[s.name].value, s.value) for s in stored)
    calls = [node.name for node in full.root.walk()]
    assert calls.count("geometric") == len(stored.nodes) - 1


def test_most_probable_run_has_its_call_tree():
    posterior = Enumerate(weather_at_70).run()
    best = posterior.most_probable()
    # the sunny path has the larger joint probability: 0.7 N(70; 75, 15) > 0.3 N(70; 55, 10)
    assert best["cloudy"].value.item() == 0.0
    assert best.root.name == "weather"
    assert "cloudy ~ Bernoulli" in str(best)


# ---- the marginal ----------------------------------------------------------------------------------
def test_discrete_numeric_marginal():
    marginal = EmpiricalMarginal(Enumerate(dice).run())
    assert [v.item() for v in marginal.support] == list(range(7))
    expected = [1, 2, 3, 4, 3, 2, 1]
    assert [round(p * 16) for p in marginal.probs.tolist()] == expected
    assert abs(marginal.log_prob(torch.tensor(3)).exp().item() - 4 / 16) < 1e-9
    assert marginal.log_prob(torch.tensor(9)).item() == -math.inf
    assert abs(marginal.mean.item() - 3.0) < 1e-6
    assert abs(marginal.variance.item() - 2 * (16 - 1) / 12) < 1e-6  # two uniform(0..3): 2 (4^2 - 1) / 12
    assert marginal.quantiles([0.0625, 0.5, 1.0]).tolist() == [0, 3, 6]
    labels, probs = marginal.histogram()
    assert marginal.is_discrete and len(labels) == 7 and abs(probs.sum().item() - 1) < 1e-12
    draws = marginal.sample((4000,))
    assert draws.shape == (4000,) and set(draws.unique().tolist()) <= set(range(7))
    # 4000 draws of P(3) = 1/4: se = 0.0068
    assert abs((draws == 3).double().mean().item() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 4000)


def test_continuous_marginal_quantiles_and_histogram():
    posterior = Importance(lambda: pyro.sample("x", dist.Uniform(0.0, 1.0)), num_samples=4000).run()
    marginal = EmpiricalMarginal(posterior)
    assert not marginal.is_discrete
    q = marginal.quantiles([0.1, 0.5, 0.9])
    # order statistics of 4000 uniforms: se of the q-quantile = sqrt(q (1 - q) / n) <= 0.0079
    for qi, value in zip((0.1, 0.5, 0.9), q.tolist(), strict=True):
        assert abs(value - qi) < 5 * math.sqrt(qi * (1 - qi) / 4000)
    assert marginal.quantiles(0.5).dim() == 0
    edges, probs = marginal.histogram(bins=10)
    assert edges.shape == (11,) and probs.shape == (10,) and abs(probs.sum().item() - 1) < 1e-9
    # each bin holds ~1/10: binomial se = sqrt(0.09 / 4000) = 0.0047
    assert (probs - 0.1).abs().max().item() < 5 * math.sqrt(0.09 / 4000)


def test_non_numeric_values_are_a_categorical():
    marginal = EmpiricalMarginal(Enumerate(weather_at_70).run())
    assert not marginal.is_numeric and marginal.is_discrete
    assert marginal.samples.dtype == torch.long and marginal.samples.shape == (2,)
    assert [v[0] for v in marginal.support] == ["cloudy", "sunny"]
    assert abs(marginal.probs[0].item() - P_CLOUDY_AT_70) < 1e-6
    value = marginal.sample()
    assert value[0] in ("cloudy", "sunny")
    assert abs(marginal.log_prob(marginal.support[0]).exp().item() - P_CLOUDY_AT_70) < 1e-6


def test_vector_valued_sites_have_elementwise_moments():
    def vec():
        with pyro.plate("d", 2):
            return pyro.sample("v", dist.Bernoulli(torch.tensor([0.2, 0.7])))

    marginal = EmpiricalMarginal(Enumerate(vec).run(), sites="v")
    assert marginal.event_shape == (2,)
    assert torch.allclose(marginal.mean, torch.tensor([0.2, 0.7]))
    assert torch.allclose(marginal.variance, torch.tensor([0.16, 0.21]))
    assert marginal.quantiles([0.5]).tolist() == [[0.0, 1.0]]


def test_a_million_weights_over_a_wide_range_sum_to_one_in_float64_with_their_ratios_kept():
    from ppl_kernel.infer.posterior import NormalizedWeights

    torch.manual_seed(0)
    logw = torch.randn(1_000_000, dtype=torch.float64) * 300  # weights from e^-1500 to e^1500
    logw[:2] = torch.tensor([2000.0, 2000.0 - math.log(3.0)], dtype=torch.float64)  # the two largest, one three times the other
    normalized = NormalizedWeights(logw, "a test")
    assert normalized.weights.dtype == torch.float64
    assert abs(normalized.weights.sum().item() - 1) < 1e-12
    assert abs(normalized.weights[0].item() - 0.75) < 1e-12 and abs(normalized.weights[1].item() - 0.25) < 1e-12
    assert abs(normalized.log_weights[1].item() - math.log(0.25)) < 1e-12


def test_a_log_weight_of_plus_infinity_is_an_error_that_points_at_the_factors():
    posterior = TracePosterior()
    for log_weight in (0.0, math.inf):
        posterior.add(poutine.trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0))).get_trace(), log_weight)
    with pytest.raises(ValueError, match=r"a log-weight of site 'x' is \+inf; check the model's factors"):
        EmpiricalMarginal(posterior, "x")


def test_a_marginal_mean_of_a_batched_run_is_the_weighted_mean_of_its_values():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("tilt", x)  # weight e^x
        return x

    posterior = Importance(model, num_samples=1000, vectorize=True).run()
    assert posterior.vectorized
    x = posterior.store.column("x").tensor().double()
    w = torch.softmax(x, 0)
    marginal = posterior.marginal("x")
    assert abs(marginal.mean.item() - (w * x).sum().item()) < 1e-6  # float32 values: the mean to float32 precision
    assert abs(marginal.variance.item() - (w * (x - (w * x).sum()) ** 2).sum().item()) < 1e-6


def test_sites_that_only_some_runs_make():
    posterior = Enumerate(lambda: geometric(0.5)).run()
    x2 = EmpiricalMarginal(posterior, sites="x_2")
    # x_2 exists when x_0 = x_1 = 1 (prob 1/4); given that, it is a fair coin
    assert abs(x2.missing_mass - 0.75) < 1e-9 and abs(x2.mean.item() - 0.5) < 1e-6
    kept = EmpiricalMarginal(posterior, sites="x_2", missing="keep")
    assert abs(kept.probability(lambda v: v is ABSENT) - 0.75) < 1e-9
    assert not kept.is_numeric


def test_several_sites_stack_or_pair():
    joint = EmpiricalMarginal(Enumerate(dice).run(), sites=["a", "b"])
    assert joint.samples.shape == (16, 2) and torch.allclose(joint.mean, torch.tensor([1.5, 1.5]))
    ragged = EmpiricalMarginal(Enumerate(lambda: geometric(0.5)).run(), sites=["x_0", "x_1"], missing="keep")
    assert not ragged.is_numeric
    assert abs(ragged.probability(lambda v: v[1] is ABSENT) - 0.5) < 1e-9


def test_to_dataframe():
    pytest.importorskip("pandas")
    frame = EmpiricalMarginal(Enumerate(dice).run()).to_dataframe()
    assert list(frame.columns) == ["value", "weight"] and len(frame) == 16
    assert abs(frame["weight"].sum() - 1.0) < 1e-12


# ---- multiple chains, thinning ----------------------------------------------------------------------
def test_mh_chains_and_thinning():
    posterior = MH(weather_at_70, num_samples=30, warmup=10, thin=3, num_chains=2).run()
    assert len(posterior.traces) == 60
    assert posterior.chain_ids == [0] * 30 + [1] * 30
    assert len(posterior.acceptance_rates) == 2
    assert all(0.0 <= r <= 1.0 for r in posterior.acceptance_rates)


# ---- the 0.1-era spellings -------------------------------------------------------------------------
def test_observe_and_marginal_of_importance():
    def model(data):
        cloudy = pyro.sample("cloudy", dist.bernoulli, torch.tensor([0.3]))
        mean, sd = (55.0, 10.0) if cloudy.item() else (75.0, 15.0)
        pyro.observe("temp", dist.normal, data, torch.tensor([mean]), torch.tensor([sd]))
        return "cloudy" if cloudy.item() else "sunny"

    marginal = Marginal(Importance(model, num_samples=3000))
    assert marginal(torch.tensor([70.0])) in ("cloudy", "sunny")
    exact = Marginal(Search(model))
    assert abs(exact.log_pdf("cloudy", torch.tensor([70.0])).exp().item() - P_CLOUDY_AT_70) < 1e-6
    assert exact.support(torch.tensor([70.0])) == ["cloudy", "sunny"]
    estimate = marginal.marginal(torch.tensor([70.0])).probability("cloudy")
    # IS from the prior, 3000 samples: se = sqrt(0.104 / 3000) = 0.0059 (see test_weather)
    assert abs(estimate - P_CLOUDY_AT_70) < 5 * math.sqrt(0.104 / 3000)


def test_a_marginal_is_a_distribution_for_nested_inference():
    inner = EmpiricalMarginal(Enumerate(dice).run())

    def outer():
        total = pyro.sample("total", inner)
        pyro.factor("even", 0.0 if int(total.item()) % 2 == 0 else -math.inf)
        return total

    marginal = EmpiricalMarginal(Enumerate(outer).run())
    # even totals 0, 2, 4, 6 have weights 1, 3, 3, 1 out of 8
    assert [round(p * 8, 6) for p in marginal.probs.tolist()] == [1.0, 3.0, 3.0, 1.0]


def test_marginals_of_dict_return_values_do_not_depend_on_key_order():
    # Two coins returned as a dict whose key order depends on a third coin: the content does not.
    def model():
        a = pyro.sample("a", dist.Bernoulli(0.5)).item()
        b = pyro.sample("b", dist.Bernoulli(0.5)).item()
        a_first = pyro.sample("order", dist.Bernoulli(0.5)).item() == 1.0
        return {"a": a, "b": b} if a_first else {"b": b, "a": a}

    marginal = EmpiricalMarginal(Enumerate(model).run())
    assert len(marginal.support) == 4  # four outcomes, not one per (outcome, key order)
    assert marginal.probs.tolist() == pytest.approx([0.25] * 4)
    assert marginal.log_prob({"b": 1.0, "a": 1.0}).exp().item() == pytest.approx(0.25)
    assert marginal.probability({"a": 0.0, "b": 1.0}) == pytest.approx(0.25)


def test_the_store_adds_the_last_run_again_with_only_the_sites_that_run_made():
    from ppl_kernel.infer.store import RunStore

    store = RunStore()
    store.add({"x": torch.tensor(1.0), "y": "tails"}, log_weight=-2.0, chain_id=1)
    store.add({"x": torch.tensor(2.0)}, log_weight=-1.0, chain_id=4)
    store.add_last_again()
    assert store.column("x").tensor().tolist() == [1.0, 2.0, 2.0]
    assert store.column("y").row_list() == [0]  # the repeated run made no y
    assert store.log_weight_list() == [-2.0, -1.0, -1.0] and store.chain_id_list() == [1, 4, 4]


def test_mh_stores_each_kept_state_and_its_joint_probability_as_the_chain_stood():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(x, 0.1), obs=torch.tensor(2.0))  # few proposals accepted: many repeats
        return x

    pyro.set_rng_seed(3)
    posterior = MH(model, num_samples=300).run()
    stored = [float(v) for v in EmpiricalMarginal(posterior).values]
    for i in (0, 150, 299):
        trace = posterior.trace_of_run(i)  # replayed from the stored values
        assert trace["x"].value.item() == stored[i]
        assert posterior._log_joints[i] == pytest.approx(trace.log_prob_sum().item())
    assert 0 < posterior.acceptance_rate < 0.5 and len(set(stored)) < 300  # states were repeated


def test_changing_a_batched_marginals_tensors_in_place_leaves_the_posterior_as_it_was():
    def coin():
        return pyro.sample("c", dist.Bernoulli(0.5))

    posterior = Importance(coin, num_samples=200, vectorize=True).run()
    assert posterior.vectorized
    before = EmpiricalMarginal(posterior, "c").samples.clone()
    EmpiricalMarginal(posterior, "c").samples.add_(7.0)
    posterior.log_weights_tensor().add_(1.0)
    assert torch.equal(EmpiricalMarginal(posterior, "c").samples, before)
    assert torch.equal(posterior.log_weights_tensor(), torch.zeros(200, dtype=torch.float64))
