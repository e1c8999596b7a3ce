"""A conditioned model's panels draw the prior beside the posterior: the same runs, counted without their weights."""

import math

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
import torch
from ppl_kernel import poutine
from ppl_kernel_jupyter.histogram_data import HistogramData
from ppl_kernel_jupyter.histogram_figure import VEGALITE, static_bundle, summary_text

from .conftest import cell, last_run

# p ~ Uniform(0, 1), 7 heads in 10 observed: p | data ~ Beta(8, 4).
COIN = """\
%%model coin {opts}
p = pyro.sample("p", dist.Uniform(0.0, 1.0))
pyro.sample("heads", dist.Binomial(10, p), obs=torch.tensor(7.0))
return p
"""
N = 2000


def coin_traces(n, seed):
    pyro.set_rng_seed(seed)

    def coin():
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        k = pyro.sample("k", dist.Binomial(4, p))
        pyro.sample("flip", dist.Bernoulli(p), obs=torch.tensor(1.0))
        return "heads" if k.item() > 2 else "tails"

    return [poutine.trace(coin).get_trace() for _ in range(n)]


def likelihood(trace):
    return float(trace.nodes["p"].value)  # the weight of flip = 1 given p


def states(traces):
    weighted, plain = HistogramData(unweighted_is_prior=True), HistogramData()
    for tr in traces:
        weighted.add(tr, likelihood(tr))
        plain.add(tr)
    return ({p["name"]: p for p in weighted.state()["panels"]}, {p["name"]: p for p in plain.state()["panels"]})


def test_a_continuous_sites_prior_is_its_unweighted_histogram_on_the_same_bins():
    weighted, plain = states(coin_traces(500, seed=1))
    assert weighted["p"]["edges"] == plain["p"]["edges"]
    assert weighted["p"]["prior"] == plain["p"]["counts"]
    assert weighted["p"]["counts"] != plain["p"]["counts"]  # the posterior is weighted


def test_a_discrete_sites_prior_is_counted_on_the_posteriors_bars():
    weighted, plain = states(coin_traces(500, seed=2))
    assert [b["label"] for b in weighted["k"]["bars"]] == [b["label"] for b in plain["k"]["bars"]]
    assert weighted["k"]["prior"] == [b["count"] for b in plain["k"]["bars"]]


def test_a_string_return_values_prior_is_counted_on_the_posteriors_labels():
    weighted, plain = states(coin_traces(500, seed=3))
    plain_counts = {b["label"]: b["count"] for b in plain["return"]["bars"]}
    assert weighted["return"]["prior"] == [plain_counts[b["label"]] for b in weighted["return"]["bars"]]


def test_the_prior_mean_is_the_unweighted_mean():
    weighted, plain = states(coin_traces(500, seed=4))
    assert math.isclose(weighted["p"]["prior_mean"], plain["p"]["mean"], rel_tol=1e-12)
    assert math.isclose(weighted["p"]["prior_sd"], plain["p"]["sd"], rel_tol=1e-12)


def test_weighted_runs_not_drawn_from_the_prior_carry_no_prior():
    # An MH chain or a guide's proposals: their unweighted runs are not the prior.
    data = HistogramData(distribution="posterior")
    for tr in coin_traces(50, seed=5):
        data.add(tr, likelihood(tr))
    assert all(p["prior"] is None for p in data.state()["panels"])


def test_the_figure_layers_the_prior_outline_over_the_posterior_with_one_legend():
    data = HistogramData(unweighted_is_prior=True)
    for tr in coin_traces(300, seed=6):
        data.add(tr, likelihood(tr))
    spec = static_bundle(data.state(), "coin", "done")[VEGALITE]
    panel = next(p for p in spec["concat"] if p["title"]["text"] == "p ~ Beta")
    posterior, prior = panel["layer"]
    assert posterior["encoding"]["color"]["scale"]["domain"] == ["posterior", "prior"]
    assert prior["mark"]["filled"] is False and prior["encoding"]["x"] == posterior["encoding"]["x"]
    # The prior's density integrates to one over the same bins as the posterior's.
    rows = [r for r in panel["data"]["values"] if r["shows"] == "prior"]
    assert math.isclose(sum(r["density"] * (r["hi"] - r["lo"]) for r in rows), 1.0, rel_tol=1e-9)


def test_the_text_summary_says_the_prior_mean_beside_the_posterior_mean():
    data = HistogramData(unweighted_is_prior=True)
    for tr in coin_traces(300, seed=7):
        data.add(tr, likelihood(tr))
    line = next(x for x in summary_text(data.state(), "coin", "done").splitlines() if x.strip().startswith("p "))
    assert "mean " in line and "(prior mean " in line


def test_sampling_a_conditioned_model_shows_the_prior_beside_the_posterior(shell):
    cell(shell, COIN.format(opts=f"--samples {N} --seed 0"))
    panel = last_run(shell).widget.panel("p")
    # The prior's runs are N unweighted draws of Uniform(0, 1): mean 1/2, sd sqrt(1/12), so a standard
    # error of sqrt(1/12) / sqrt(N); 5 of them.
    assert abs(panel["prior_mean"] - 0.5) < 5 * math.sqrt(1 / 12) / math.sqrt(N)
    assert sum(panel["prior"]) == N
    # The posterior beside it is Beta(8, 4), sd sqrt(8 * 4 / (12**2 * 13)); its weighted mean's standard error
    # is about that sd over the square root of the effective sample size.
    ess = last_run(shell).data.ess()
    assert abs(panel["mean"] - 2 / 3) < 5 * math.sqrt(8 * 4 / (12 ** 2 * 13)) / math.sqrt(ess)


def test_sampling_with_prior_draws_no_second_prior(shell):
    cell(shell, COIN.format(opts="--no-show"))
    cell(shell, f"%sample coin {N} --prior --seed 0")
    assert last_run(shell).widget.panel("p")["prior"] is None


def test_the_posteriors_marks_read_as_without_the_prior_and_the_priors_say_prior():
    data = HistogramData(unweighted_is_prior=True)
    for tr in coin_traces(300, seed=8):
        data.add(tr, likelihood(tr))
    spec = static_bundle(data.state(), "coin", "done")[VEGALITE]
    panel = next(p for p in spec["concat"] if p["title"]["text"] == "k ~ Binomial")
    about = {r["shows"]: r["about"] for r in panel["data"]["values"] if r["label"] == "2"}
    assert about["posterior"].startswith("k = 2: probability ") and about["prior"].startswith("k = 2: prior probability ")
