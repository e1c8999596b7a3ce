"""Panels as real plots: stable round bins, the support respected, honest titles, what is left out and why."""

import numpy as np
import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel_jupyter.histogram_data import HistogramData
from ppl_kernel_jupyter.histogram_figure import (
    VEGALITE,
    distribution_title,
    left_out_returns,
    static_bundle,
    vegalite_spec,
)


def fill(model, n, data=None, weight=None):
    data = data or HistogramData()
    for _ in range(n):
        tr = poutine.trace(model).get_trace()
        data.add(tr, 1.0 if weight is None else weight(tr))
    return data


def panel(state, name):
    return next(p for p in state["panels"] if p["name"] == name)


def normal():
    return pyro.sample("x", dist.Normal(0.0, 1.0))


def test_continuous_bins_keep_their_edges_when_more_runs_come_in():
    pyro.set_rng_seed(0)
    data = fill(normal, 200)
    first = panel(data.state(), "x")["edges"]
    fill(normal, 2000, data)
    later = panel(data.state(), "x")["edges"]
    # Every edge of the first frame is still an edge: the range grew at the ends, nothing was re-binned.
    assert set(np.round(first, 9)) <= set(np.round(later, 9))


def test_bin_edges_are_round_numbers():
    pyro.set_rng_seed(1)
    edges = panel(fill(normal, 500).state(), "x")["edges"]
    width = edges[1] - edges[0]
    assert any(width == pytest.approx(w) for w in (0.1, 0.2, 0.5, 1.0))
    assert all(abs(e / width - round(e / width)) < 1e-9 for e in edges)


def test_a_beta_sites_bins_stay_inside_zero_and_one():
    pyro.set_rng_seed(2)
    edges = panel(fill(lambda: pyro.sample("p", dist.Beta(0.5, 0.5)), 2000).state(), "p")["edges"]
    assert edges[0] >= 0.0 and edges[-1] <= 1.0


def test_an_integer_support_is_drawn_as_bars_on_a_probability_axis():
    pyro.set_rng_seed(3)
    state = fill(lambda: pyro.sample("k", dist.Poisson(3.0)), 500).state()
    k = panel(state, "k")
    assert k["kind"] == "bars" and k["dist"] == "Poisson"
    spec = next(s for s in vegalite_spec(state)["concat"] if s["title"]["text"] == "k ~ Poisson")
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["y"]["title"] == "probability"


def test_a_continuous_panel_has_a_density_axis_and_its_bars_integrate_to_one():
    pyro.set_rng_seed(4)
    state = fill(normal, 400).state()
    spec = next(s for s in vegalite_spec(state)["concat"] if s["title"]["text"] == "x ~ Normal")
    assert spec["encoding"]["y"]["title"] == "density"
    area = sum(v["density"] * (v["hi"] - v["lo"]) for v in spec["data"]["values"])
    assert area == pytest.approx(1.0)


def coin_with_data():
    p = pyro.sample("p", dist.Beta(2.0, 2.0))
    pyro.sample("flip", dist.Bernoulli(p), obs=torch.tensor(1.0))
    return p


def test_unweighted_runs_of_a_conditioned_model_are_titled_as_the_prior_that_ignores_the_data():
    pyro.set_rng_seed(5)
    title = distribution_title(fill(coin_with_data, 50).state())
    assert title == "prior (the observations of flip are not used)"


def test_weighted_runs_are_titled_as_the_posterior_given_the_data_with_the_ess():
    pyro.set_rng_seed(6)
    state = fill(coin_with_data, 400, weight=lambda tr: float(tr.nodes["p"].value)).state()
    title = distribution_title(state)
    assert title.startswith("posterior given flip (importance weighted, ESS ") and title.endswith(" of 400)")


def test_a_low_ess_is_flagged_in_words():
    data = HistogramData()
    pyro.set_rng_seed(7)
    # One run carries almost all the weight: ESS is about 1.
    fill(coin_with_data, 300, data, weight=lambda tr: 1e-6)
    fill(coin_with_data, 1, data, weight=lambda tr: 1.0)
    assert "too few effective samples to trust, use MH or a guide" in distribution_title(data.state())


def test_a_return_value_that_repeats_a_site_is_left_out_and_says_why():
    pyro.set_rng_seed(8)
    state = fill(normal, 100).state()
    assert left_out_returns(state) == {"return": "the same as x"}
    assert [s["title"]["text"] for s in vegalite_spec(state)["concat"]] == ["x ~ Normal"]
    assert "return left out: the same as x" in vegalite_spec(state)["title"]["subtitle"]


def test_a_constant_return_value_is_left_out_and_says_so():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        return 2.5

    pyro.set_rng_seed(9)
    assert left_out_returns(fill(model, 50).state()) == {"return": "always 2.5"}


def test_a_family_of_sites_is_one_panel_of_how_often_each_appeared():
    def geometric(t=0):
        if pyro.sample(f"x_{t}", dist.Bernoulli(0.5)).item() == 1:
            return t
        return geometric(t + 1)

    pyro.set_rng_seed(10)
    state = fill(geometric, 300).state()
    titles = [s["title"]["text"] for s in vegalite_spec(state)["concat"]]
    assert sum(t.startswith("x_{i}: ") for t in titles) == 1
    assert not any(t.startswith("x_1 ") or t == "x_1" for t in titles)


def test_the_kept_bundle_has_no_widget_and_asks_for_svg_text():
    pyro.set_rng_seed(11)
    bundle = static_bundle(fill(normal, 50).state(), "normal", "done")
    assert set(bundle) == {VEGALITE, "image/png", "text/plain"}
    assert bundle[VEGALITE]["usermeta"]["embedOptions"]["renderer"] == "svg"
