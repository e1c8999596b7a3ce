"""compare(): one site from several inference results in one figure, with the numbers beside it."""

import math
import re

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, EmpiricalMarginal, Enumerate, Importance
from ppl_kernel_jupyter import compare
from ppl_kernel_jupyter.histogram_figure import VEGALITE

DATA = [1.0, 1.0, 0.0, 1.0]


def beta_coin():
    p = pyro.sample("p", dist.Beta(2.0, 2.0))
    for i, y in enumerate(DATA):
        pyro.sample(f"y{i}", dist.Bernoulli(p), obs=torch.tensor(y))
    return p


def two_coins_one_heads_at_least():
    a = pyro.sample("a", dist.Bernoulli(0.5))
    b = pyro.sample("b", dist.Bernoulli(0.5))
    pyro.factor("at_least_one", 0.0 if (a + b).item() >= 1 else -math.inf)
    return a + b


EXACT_HEADS = {1: 2 / 3, 2: 1 / 3}  # P(a + b | a + b >= 1): 2 of the 3 equally likely paths have one head


@pytest.fixture(scope="module")
def three_discrete():
    pyro.set_rng_seed(0)
    return compare(Enumerate(two_coins_one_heads_at_least).run(),
                   Importance(two_coins_one_heads_at_least, num_samples=2000).run(),
                   MH(two_coins_one_heads_at_least, num_samples=2000).run(), exact=EXACT_HEADS)


@pytest.fixture(scope="module")
def three_continuous():
    pyro.set_rng_seed(1)
    results = [Importance(beta_coin, num_samples=3000).run(), MH(beta_coin, num_samples=3000).run(),
               Importance(beta_coin, num_samples=500).run()]
    return compare(*results, site="p", exact=dist.Beta(5.0, 3.0), names=["IS 3000", "MH", "IS 500"])


def test_each_result_is_a_row_named_by_its_algorithm_and_the_exact_answer_last(three_discrete):
    assert [row["method"] for row in three_discrete.rows] == ["Enumerate", "Importance", "MH", "exact"]


def test_an_enumeration_is_exact_and_has_no_error_bars(three_discrete):
    enumerate_row = three_discrete.rows[0]
    assert enumerate_row["exact"] and enumerate_row["ess"] is None
    for value, p in EXACT_HEADS.items():
        assert enumerate_row["P"][value] == pytest.approx(p, abs=1e-6)  # the paths' log-probabilities are float32
        assert enumerate_row["se"][value] == 0.0


def test_sampled_estimates_carry_their_standard_error_and_agree_with_the_exact_answer(three_discrete):
    importance = three_discrete.rows[1]
    for value, exact in EXACT_HEADS.items():
        p = importance["P"][value]
        # The binomial standard error of a weighted proportion: sqrt(p (1 - p) / ESS).
        assert importance["se"][value] == pytest.approx(math.sqrt(p * (1 - p) / importance["ess"]))
        # ESS ~ 1500 (a quarter of the runs weigh 0): SE ~ 0.012; 5 SE = 0.06.
        assert abs(p - exact) < 5 * importance["se"][value]


def test_discrete_values_share_one_axis_with_one_colour_per_method(three_discrete):
    plot = three_discrete.vegalite()
    points = plot["data"]["values"]
    # no heads has probability 0 in every result (a marginal's support leaves out values of weight zero)
    assert {p["value"] for p in points} == {1, 2}
    colour = plot["layer"][0]["encoding"]["color"]["scale"]
    assert colour["domain"] == ["Enumerate", "Importance", "MH", "exact"]
    assert len(set(colour["range"])) == 4


def test_a_few_fractional_values_that_repeat_are_drawn_per_value():
    def bias():
        return pyro.sample("p", dist.Choice([0.1, 0.5, 0.9]))

    pyro.set_rng_seed(5)
    comparison = compare(Enumerate(bias).run(), Importance(bias, num_samples=300).run(), site="p")
    assert comparison.discrete and comparison.keys == [0.1, 0.5, 0.9]
    assert comparison.rows[0]["P"][0.5] == pytest.approx(1 / 3)


def test_continuous_values_are_binned_on_one_grid_of_round_widths(three_continuous):
    edges = three_continuous.edges
    widths = {round(b - a, 9) for a, b in zip(edges[:-1], edges[1:], strict=True)}
    assert len(widths) == 1
    width = widths.pop()
    assert round(width / 10 ** math.floor(math.log10(width)), 9) in (1, 2, 5)
    assert 0.0 <= edges[0] and edges[-1] <= 1.0  # a Beta's support
    for row in three_continuous.rows:
        assert list(row["P"]) == three_continuous.keys
        assert math.fsum(row["P"].values()) == pytest.approx(1.0, abs=1e-6)


def test_importance_means_agree_with_the_exact_beta_posterior_mean(three_continuous):
    # Beta(2, 2) prior, 3 heads and 1 tail: Beta(5, 3), mean 5/8. The table's standard error is sd/sqrt(ESS)
    # (sd ~ 0.16, ESS ~ 2000 -> SE ~ 0.004): each importance estimate is within 5 of them.
    for row in three_continuous.rows:
        if row["method"].startswith("IS"):
            assert abs(row["mean"] - 0.625) < 5 * row["mean_se"]
    assert three_continuous.rows[-1]["mean"] == pytest.approx(0.625)


def test_the_exact_distribution_is_drawn_as_a_density_line(three_continuous):
    spec = three_continuous.vegalite()
    layers = spec["layer"]
    curve = layers[-1]["data"]["values"]
    x, density = curve[len(curve) // 2]["x"], curve[len(curve) // 2]["height"]
    assert density == pytest.approx(dist.Beta(5.0, 3.0).log_prob(torch.tensor(x)).exp().item(), rel=1e-5)


def test_the_table_says_chains_ignore_autocorrelation(three_continuous):
    text = three_continuous.text()
    assert "MH" in text and "(chain)" in text and "ignores autocorrelation" in text


def test_a_marginal_can_stand_for_its_posterior():
    pyro.set_rng_seed(2)
    posterior = Importance(beta_coin, num_samples=200).run()
    comparison = compare(EmpiricalMarginal(posterior, sites="p"), posterior, site="p")
    assert [row["method"] for row in comparison.rows] == ["Importance 1", "Importance 2"]
    assert comparison.rows[0]["P"] == comparison.rows[1]["P"]


def test_a_notebook_shows_the_figure_then_the_table_as_html(shell, three_discrete):
    from IPython.utils.capture import capture_output

    with capture_output() as shown:
        shell.display_formatter.format(three_discrete)
    figure, table = shown.outputs
    assert VEGALITE in figure.data and figure.data["image/png"].startswith("iVBOR")  # base64 of the PNG signature
    # The table is its own output: in one bundle a front end would draw only the Vega-Lite figure.
    assert "text/html" not in figure.data and "<table" in table.data["text/html"]
    rows = table.data["text/html"].split("<tr>")[2:]  # after the header row
    assert [r.split("</span>")[1].split("<")[0] for r in rows] == ["Enumerate", "Importance", "MH", "exact"]


def test_the_tables_text_takes_the_themes_colour(three_discrete):
    # Any text colour of its own would be unreadable in one of the themes (black on dark was 1.7:1);
    # only the methods' squares are coloured.
    text = three_discrete.table_html()
    assert re.findall(r"(?<![-\w])color\s*:", text) == []
    assert text.count("background-color: #") == len(three_discrete.rows)


def test_compare_with_nothing_says_what_to_give():
    with pytest.raises(ValueError, match="at least one inference result"):
        compare()


def test_one_name_per_result_is_required():
    pyro.set_rng_seed(3)
    with pytest.raises(ValueError, match="2 results but 1 names"):
        compare(Importance(beta_coin, num_samples=10).run(), Importance(beta_coin, num_samples=10).run(), names=["a"])


def test_a_site_with_several_numbers_per_run_names_the_fix():
    def vector():
        return pyro.sample("v", dist.Normal(torch.zeros(3), 1.0))

    pyro.set_rng_seed(4)
    with pytest.raises(ValueError, match=r"site 'v' of Importance has values of shape \(3,\).*deterministic"):
        compare(Importance(vector, num_samples=10).run(), site="v")
