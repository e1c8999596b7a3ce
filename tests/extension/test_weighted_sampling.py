"""%sample and %%model of a conditioned model show its posterior (importance weighting); --prior shows the prior."""

import math

import pytest
import torch

from .conftest import cell, last_run

# A coin of unknown bias p ~ Uniform(0, 1), seen to land heads 7 times in 10: p | data ~ Beta(8, 4).
COIN = """\
%%model coin {opts}
p = pyro.sample("p", dist.Uniform(0.0, 1.0))
pyro.sample("heads", dist.Binomial(10, p), obs=torch.tensor(7.0))
return p
"""
POSTERIOR_MEAN = 8 / 12
POSTERIOR_SD = math.sqrt(8 * 4 / (12 ** 2 * 13))  # Beta(a, b): sqrt(ab / ((a + b)^2 (a + b + 1)))
PRIOR_MEAN, PRIOR_SD = 0.5, math.sqrt(1 / 12)
N = 2000


def test_a_conditioned_coins_panel_shows_its_posterior_mean(shell):
    cell(shell, COIN.format(opts=f"--samples {N} --seed 0 -o coin_runs"))
    posterior = shell.user_ns["coin_runs"]
    panel = last_run(shell).widget.panel("p")
    ess = posterior.get_ESS()
    # Self-normalised importance sampling: the mean's standard error is about sd / sqrt(ESS).
    standard_error = POSTERIOR_SD / math.sqrt(ess)
    assert abs(panel["mean"] - POSTERIOR_MEAN) < 5 * standard_error
    assert last_run(shell).widget.weighted
    assert N / 10 < ess < N  # weighted runs: fewer effective samples than runs


def test_a_conditioned_model_sampled_with_prior_shows_the_prior(shell):
    cell(shell, COIN.format(opts="--no-show"))
    cell(shell, f"%sample coin {N} --prior --seed 0 -o coin_prior")
    panel = last_run(shell).widget.panel("p")
    standard_error = PRIOR_SD / math.sqrt(N)  # unweighted runs: sd / sqrt(n)
    assert abs(panel["mean"] - PRIOR_MEAN) < 5 * standard_error
    assert not last_run(shell).widget.weighted
    assert shell.user_ns["coin_prior"].get_ESS() == pytest.approx(N)


def test_a_model_conditioned_with_poutine_condition_is_weighted_too(shell):
    cell(shell, """\
def free_coin():
    p = pyro.sample("p", dist.Uniform(0.0, 1.0))
    pyro.sample("heads", dist.Binomial(10, p))
    return p
conditioned = poutine.condition(free_coin, data={"heads": torch.tensor(7.0)})
""")
    cell(shell, f"%sample conditioned {N} --seed 1 -o cond_runs")
    ess = shell.user_ns["cond_runs"].get_ESS()
    mean = last_run(shell).widget.panel("p")["mean"]
    assert abs(mean - POSTERIOR_MEAN) < 5 * POSTERIOR_SD / math.sqrt(ess)  # as above: sd / sqrt(ESS)


def test_a_model_with_a_factor_is_weighted(shell):
    # factor(log 2) when x is 1: P(x = 1) goes from 1/2 to 2/3.
    cell(shell, f"""%%model tilted --samples {N} --seed 2 -o tilted_runs
x = pyro.sample("x", dist.Bernoulli(0.5))
pyro.factor("tilt", 0.6931471805599453 * x.item())
return x
""")
    bars = {b["label"]: b["count"] for b in last_run(shell).widget.panel("x")["bars"]}
    share = bars["1"] / (bars["0"] + bars["1"])
    ess = shell.user_ns["tilted_runs"].get_ESS()
    # A weighted share's standard error is about sqrt(p (1 - p) / ESS).
    assert abs(share - 2 / 3) < 5 * math.sqrt((2 / 3) * (1 / 3) / ess)


def test_unconditioned_runs_have_weight_one(shell):
    cell(shell, "%%model plain --samples 200 --seed 0 -o plain_runs\nreturn pyro.sample('x', dist.Normal(0.0, 1.0))\n")
    assert not last_run(shell).widget.weighted
    assert torch.equal(shell.user_ns["plain_runs"].log_weights_tensor(), torch.zeros(200, dtype=torch.float64))
