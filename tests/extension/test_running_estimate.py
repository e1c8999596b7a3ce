"""The running estimate beside the live panels: what it follows, how it is weighted, what a notebook keeps."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, SMC, Enumerate, Importance, expectation, infer

from ppl_kernel_jupyter import LiveProgress
from ppl_kernel_jupyter.histogram_figure import static_bundle, vegalite_spec
from ppl_kernel_jupyter.live_sampling import LiveSampling
from ppl_kernel_jupyter.running_estimate import RunningEstimate

VEGALITE = "application/vnd.vegalite.v5+json"


def coin_with_data():
    p = pyro.sample("p", dist.Beta(2.0, 2.0))
    with pyro.plate("flips", 4):
        pyro.sample("flip", dist.Bernoulli(p), obs=torch.tensor([1.0, 1.0, 1.0, 0.0]))
    return p


def two_coins():
    a = pyro.sample("a", dist.Bernoulli(0.3))
    b = pyro.sample("b", dist.Bernoulli(0.6))
    pyro.factor("at_least_one", 0.0 if (a + b).item() >= 1 else -math.inf)
    return a + b


@pytest.fixture(autouse=True)
def _fresh_seed():
    pyro.set_rng_seed(7)


def test_weighted_estimate_ends_within_five_standard_errors_of_the_exact_posterior_mean():
    live = LiveProgress(display=False)
    Importance(coin_with_data, num_samples=4000, progress=live).run()
    runs, mean, se = live.widget.estimate["points"][-1]
    assert runs == 4000
    # Posterior Beta(5, 3): mean 0.625. se is the weighted sd / sqrt(ESS) (about 0.16 / sqrt(2900) ~ 0.003);
    # 5 standard errors leave a chance of about 6e-7 of a false failure.
    assert abs(mean - 0.625) < 5 * se


def test_standard_error_is_the_weighted_sd_over_the_square_root_of_the_effective_sample_size():
    posterior = Importance(coin_with_data, num_samples=2000).run()
    estimate = RunningEstimate("p")
    estimate.add_runs(posterior.store, 0, 2000, posterior.log_weights_tensor())
    w = torch.exp(posterior.log_weights_tensor() - posterior.log_weights_tensor().max())
    x = posterior.store.column("p").tensor().double()
    mean = (w * x).sum() / w.sum()
    sd = torch.sqrt((w * (x - mean) ** 2).sum() / w.sum())
    ess = w.sum() ** 2 / (w * w).sum()
    _, got_mean, got_se = estimate.points[-1]
    assert got_mean == pytest.approx(mean.item(), rel=1e-9)
    assert got_se == pytest.approx((sd / ess.sqrt()).item(), rel=1e-9)


def test_adding_runs_in_pieces_draws_the_same_curve_as_adding_them_at_once():
    posterior = Importance(coin_with_data, num_samples=3000).run()
    log_weights = posterior.log_weights_tensor()
    whole, pieces = RunningEstimate(), RunningEstimate()
    whole.add_runs(posterior.store, 0, 3000, log_weights)
    for start in range(0, 3000, 700):
        stop = min(start + 700, 3000)
        pieces.add_runs(posterior.store, start, stop, log_weights[start:stop])
    grid = {p[0]: p for p in whole.points}
    # Every grid point of the whole curve is on the curve drawn piece by piece (which also has the pieces' ends).
    for runs, mean, _se in pieces.points:
        if runs in grid:
            assert mean == pytest.approx(grid[runs][1], rel=1e-9)
    assert set(grid) <= {p[0] for p in pieces.points}
    assert pieces.points[-1] == pytest.approx(whole.points[-1], rel=1e-9)


def test_points_are_on_a_geometric_grid_of_run_counts():
    posterior = Importance(coin_with_data, num_samples=10_000).run()
    estimate = RunningEstimate()
    estimate.add_runs(posterior.store, 0, 10_000, posterior.log_weights_tensor())
    runs = [p[0] for p in estimate.points]
    assert runs[0] == 1 and runs[-1] == 10_000 and runs == sorted(set(runs))
    # The first ten runs one by one, then a point each time the count grows by GRID = 1.1 (rounded up):
    # at most log(1000) / log(1.1) ~ 73 more up to 10,000, a little fewer for the rounding.
    assert 60 <= len(runs) <= 10 + 73 + 1


def test_huge_log_weights_neither_overflow_nor_change_the_estimate():
    from ppl_kernel.infer.store import RunStore

    store = RunStore()
    for x, log_weight in [(1.0, 0.0), (3.0, 800.0), (5.0, 800.0)]:
        store.add({"x": torch.tensor(x)}, log_weight)
    estimate = RunningEstimate("x")
    # One run at a time: the second run's weight is exp(800) times the first's (beyond a double's range),
    # so the sums are rescaled to it; the first run then weighs exp(-800), i.e. nothing.
    for run, log_weight in enumerate([0.0, 800.0, 800.0]):
        estimate.add_runs(store, run, run + 1, [log_weight])
    _, mean, se = estimate.points[-1]
    assert mean == pytest.approx(4.0) and se == pytest.approx(1.0 / math.sqrt(2.0))


def test_enumeration_draws_no_band_and_its_result_as_the_exact_line():
    live = LiveProgress(display=False)
    posterior = Enumerate(two_coins, progress=live).run()
    state = live.widget.estimate
    assert state["band"] is False and all(se is None for _, _, se in state["points"])
    exact = expectation(infer(two_coins, method="enumerate"))
    assert state["exact"] == pytest.approx(exact, rel=1e-9)
    assert state["exact_label"] == "exact (enumerated)"
    assert state["points"][-1][0] == len(posterior)  # the possible paths (a and b both 0 is impossible)


def test_a_bernoulli_site_is_estimated_as_the_probability_it_is_one():
    live = LiveProgress(display=False, estimate="a")
    Importance(two_coins, num_samples=3000, progress=live).run()
    state = live.widget.estimate
    assert state["label"] == "P(a = 1)"
    _, mean, se = state["points"][-1]
    # P(a = 1 | a or b) = 0.3 / (1 - 0.7 * 0.4) = 0.41667; se ~ sqrt(.24 / 2160) ~ 0.011; 5 se.
    assert abs(mean - 0.3 / 0.72) < 5 * se


def test_a_chain_is_flagged_as_correlated_and_smc_is_not():
    mh = LiveProgress(display=False)
    MH(coin_with_data, num_samples=300, progress=mh).run()
    smc = LiveProgress(display=False)
    SMC(coin_with_data, num_particles=200, progress=smc).run()
    assert mh.widget.estimate["correlated"] is True
    assert smc.widget.estimate["correlated"] is False


def test_a_string_valued_return_falls_back_to_the_first_latent_number():
    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        return "cloudy" if cloudy.item() else "sunny"

    live = LiveProgress(display=False)
    Importance(weather, num_samples=200, progress=live).run()
    assert live.widget.estimate["site"] == "cloudy"
    assert live.widget.estimate["label"] == "P(cloudy = 1)"


def test_the_kept_figure_has_the_running_estimate_with_its_exact_line():
    live = LiveProgress(display=False, exact=0.625)
    Importance(coin_with_data, num_samples=500, progress=live).run()
    state = dict(live.data.state(), estimate=live.widget.estimate)
    spec = vegalite_spec(state, "coin")
    first = spec["concat"][0]
    assert first["title"]["text"] == "running estimate of mean of the return value"
    assert [layer["mark"]["type"] for layer in first["layer"]] == ["area", "line", "rule"]
    assert first["layer"][2]["data"]["values"] == [{"exact": 0.625}]
    text = static_bundle(state, "coin", "done")["text/plain"]
    assert "running estimate of mean of the return value:" in text and "after 500 runs (exact 0.625)" in text


def test_live_sampling_keeps_the_estimate_in_its_static_output():
    run = LiveSampling(coin_with_data, num_samples=400, seed=1, display=False, exact=0.625)
    run.run()
    state = run.state()
    assert state["estimate"]["points"][-1][0] == 400
    assert state["estimate"]["exact"] == 0.625
    assert run.widget.estimate == state["estimate"]
    assert VEGALITE in static_bundle(state, run.title, "done")
