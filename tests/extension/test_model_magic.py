"""%%model cells become stochastic functions; sampling them fills the histogram widget."""

import math
import time

import pytest
import torch

from ppl_kernel import poutine
from ppl_kernel.infer import TracePosterior

from .conftest import GEOMETRIC, ICE_CREAM, MAKE_NORMAL_NORMAL, NORMAL_PRODUCT, WEATHER, cell, last_run


def define_seed_models(shell):
    for text in (WEATHER, ICE_CREAM, GEOMETRIC, NORMAL_PRODUCT, MAKE_NORMAL_NORMAL):
        cell(shell, text.format(opts="--no-show"))


# ---- the defined functions are stochastic functions ------------------------------------------------
def test_weather_cell_defines_a_function_that_poutine_traces(shell):
    define_seed_models(shell)
    weather = shell.user_ns["weather"]
    tr = poutine.trace(weather).get_trace()
    assert [s.name for s in tr] == ["cloudy", "temp"]
    assert tr.root.name == "weather"
    cloudy, temp = tr.return_value
    assert cloudy in ("cloudy", "sunny") and isinstance(temp.item(), float)
    assert weather.__ppl_source__.startswith("def weather():\n    cloudy = pyro.sample(")


def test_ice_cream_sales_calls_weather_and_its_sites_hang_under_that_call(shell):
    define_seed_models(shell)
    tr = poutine.trace(shell.user_ns["ice_cream_sales"]).get_trace()
    assert [s.name for s in tr] == ["cloudy", "temp", "ice_cream"]
    (weather_call,) = tr.root.calls
    assert weather_call.name == "weather"
    assert [s.name for s in weather_call.sites] == ["cloudy", "temp"]
    assert [s.name for s in tr.root.sites] == ["ice_cream"]


def test_geometric_recurses_by_its_own_name_with_one_site_per_level(shell):
    define_seed_models(shell)
    torch.manual_seed(3)
    geometric = shell.user_ns["geometric"]
    tr = poutine.trace(geometric).get_trace(torch.tensor([0.7]))
    names = [s.name for s in tr]
    assert names == [f"x_{t}" for t in range(len(names))]
    depth = 0
    node = tr.root
    while node.calls:
        (node,) = node.calls
        depth += 1
    assert depth == len(names) - 1  # one nested geometric(p, t+1) call per extra level
    assert tr.return_value.item() == len(names) - 1  # the number of successes before the first failure


def test_make_normal_normal_returns_a_function_that_uses_its_latent(shell):
    define_seed_models(shell)
    ns = shell.user_ns
    tr = poutine.trace(lambda: ns["make_normal_normal"]()(torch.ones(1))).get_trace()
    assert [s.name for s in tr] == ["mu_latent", "z1", "z2"]
    # the returned lambda is a call of its own, made after make_normal_normal returned
    assert [c.name for c in tr.root.walk()][1:] == ["make_normal_normal", "make_normal_normal.<lambda>", "normal_product"]


def test_a_function_with_required_arguments_is_only_defined(shell):
    cell(shell, GEOMETRIC.format(opts=""))
    assert callable(shell.user_ns["geometric"])
    assert shell.magics_manager.registry["ModelMagics"].runs == []


# ---- histograms after sampling -------------------------------------------------------------------
def test_weather_histograms_hold_the_expected_counts(shell):
    cell(shell, WEATHER.format(opts="--samples 2000 --seed 0 -o weather_runs"))
    run = last_run(shell)
    posterior = shell.user_ns["weather_runs"]
    assert isinstance(posterior, TracePosterior) and len(posterior) == 2000 and not posterior.partial
    w = run.widget
    assert w.status == "done" and w.runs == 2000
    cloudy = w.panel("cloudy")
    counts = {b["label"]: b["count"] for b in cloudy["bars"]}
    assert cloudy["runs"] == 2000 and sum(counts.values()) == 2000
    # The widget's counts are exactly the posterior's.
    n_cloudy = sum(int(tr["cloudy"].value.item()) for tr in posterior.traces)
    assert counts["1"] == n_cloudy
    # P(cloudy) = 0.3; sd of the frequency over 2000 runs is sqrt(0.3*0.7/2000) = 0.0102: 5 sigma = 0.051.
    assert abs(n_cloudy / 2000 - 0.3) < 0.051
    temp = w.panel("temp")
    assert temp["kind"] == "hist" and sum(temp["counts"]) == 2000
    # temp is a mixture 0.3 N(55,10) + 0.7 N(75,15): mean 69, sd sqrt(30+157.5+84) = 16.5;
    # the sample mean's sd is 16.5/sqrt(2000) = 0.37: 5 sigma = 1.85.
    assert abs(temp["mean"] - 69.0) < 1.85
    # The return value (a tuple) is shown per element; its string element counts match the site.
    ret0 = {b["label"]: b["count"] for b in w.panel("return[0]")["bars"]}
    assert ret0 == {"sunny": 2000 - n_cloudy, "cloudy": n_cloudy}


def test_geometric_histograms_count_how_many_runs_made_each_level(shell):
    cell(shell, GEOMETRIC.format(opts='--args "torch.tensor([0.5])" --samples 4000 --seed 1 -o g'))
    w = last_run(shell).widget
    assert w.panel("x_0")["runs"] == 4000
    levels = [p for p in w.panels if p["name"].startswith("x_")]
    for here, deeper in zip(levels, levels[1:], strict=False):
        ones = {b["label"]: b["count"] for b in here["bars"]}.get("1", 0)
        assert deeper["runs"] == ones  # level t+1 is made exactly by the runs whose x_t was 1
        assert here["runs"] < 4000 or here["name"] == "x_0"
    # P(reach level 1) = 0.5: sd of the count over 4000 runs is sqrt(4000/4) = 31.6: 5 sigma = 158.
    assert abs(w.panel("x_1")["runs"] - 2000) < 158
    (group,) = w.groups
    assert group["pattern"] == "x_{i}"
    assert group["members"] == [p["name"] for p in levels]
    assert group["runs"] == [p["runs"] for p in levels]
    ret = w.panel("return")
    assert ret["kind"] == "bars"
    # The number of successes before a failure with p = 0.5 has mean 1, sd sqrt(2):
    # the sample mean's sd is sqrt(2/4000) = 0.0224: 5 sigma = 0.112.
    assert abs(ret["mean"] - 1.0) < 0.112
    assert sum(b["count"] for b in ret["bars"]) == 4000


def test_the_run_leaves_a_png_and_a_text_summary_in_the_output(shell):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        cell(shell, WEATHER.format(opts="--samples 300 --seed 0"))
    bundles = [o.data for o in captured.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in b for b in bundles)
    final = bundles[-1]
    assert final["image/png"].startswith("iVBOR")  # base64 of the PNG signature
    assert final["text/plain"].startswith("weather: 300 runs from the prior (done)")
    assert "application/vnd.jupyter.widget-view+json" not in final  # a reopened notebook could not draw it
    assert "cloudy" in final["text/plain"] and "temp" in final["text/plain"]


# ---- stopping keeps the samples -------------------------------------------------------------------
def test_a_kernel_interrupt_ends_sampling_and_keeps_the_runs(shell):
    cell(shell, "calls = [0]")
    result = cell(shell, """%%model impatient --samples 1000 -o partial_runs
calls[0] += 1
if calls[0] == 251:
    raise KeyboardInterrupt  # what a kernel interrupt raises in the running code
return pyro.sample("x", dist.Normal(0.0, 1.0))
""")
    assert result.error_in_exec is None
    posterior = shell.user_ns["partial_runs"]
    assert len(posterior) == 250 and posterior.partial
    w = last_run(shell).widget
    assert w.status == "interrupted" and w.runs == 250 and w.panel("x")["runs"] == 250


def test_stop_button_ends_a_background_run_and_keeps_the_runs(shell):
    cell(shell, """%%model endless --background --samples 100000000 -o bg_runs
return pyro.sample("x", dist.Normal(0.0, 1.0))
""")
    run = last_run(shell)
    deadline = time.monotonic() + 30
    while len(run.posterior.traces) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    # The notebook stays usable while the background run goes on.
    assert run.thread.is_alive()
    assert cell(shell, "1 + 1").result == 2
    run.widget.set_state({"stop_requested": True})  # what a click on Stop sends
    run.wait(30)
    assert not run.thread.is_alive()
    posterior = shell.user_ns["bg_runs"]
    assert posterior.partial and 300 <= len(posterior) < 100000000
    assert run.widget.status == "stopped"
    assert run.widget.runs == len(posterior) == run.widget.panel("x")["runs"]


def test_background_runs_use_their_own_handler_stack(shell):
    from ppl_kernel.runtime import get_stack

    cell(shell, """%%model spin --background --samples 100000000
return pyro.sample("x", dist.Normal(0.0, 1.0))
""")
    run = last_run(shell)
    while len(run.posterior.traces) < 50:
        time.sleep(0.01)
    assert get_stack() == []  # the background thread's trace handler is not on this thread's stack
    tr = poutine.trace(lambda: __import__("ppl_kernel").sample("y", __import__("ppl_kernel").distributions.Normal(0.0, 1.0))).get_trace()
    assert [s.name for s in tr] == ["y"]
    run.stop()
    run.wait(30)
    assert not run.thread.is_alive()


# ---- %sample and %trace ---------------------------------------------------------------------------
def test_sample_line_magic_samples_a_call_n_times(shell):
    define_seed_models(shell)
    cell(shell, "%sample --seed 2 -o g geometric(torch.tensor([0.5])) 300")
    posterior = shell.user_ns["g"]
    assert len(posterior) == 300
    assert last_run(shell).widget.panel("x_0")["runs"] == 300


def test_sample_line_magic_takes_a_model_by_name(shell):
    define_seed_models(shell)
    cell(shell, "%sample -o w weather 120")
    assert len(shell.user_ns["w"]) == 120


def test_trace_line_magic_shows_a_static_call_tree_that_a_saved_notebook_keeps(shell):
    from IPython.utils.capture import capture_output

    define_seed_models(shell)
    with capture_output() as shown:
        cell(shell, "%trace --seed 3 geometric(torch.tensor([0.7]))")
    [output] = shown.outputs
    # No widget view: a notebook saved right after this cell must draw the tree with no kernel.
    assert sorted(output.data) == ["text/html", "text/plain"]
    assert 'class="ppl-tree ppl-tree-static"' in output.data["text/html"] and "<details open" in output.data["text/html"]
    tree = shell.magics_manager.registry["ModelMagics"].trees[-1]
    assert tree.tree["name"] == "geometric" and tree.tree["children"][0]["name"] == "x_0"


def test_trace_live_shows_the_call_tree_widget_and_resamples(shell):
    define_seed_models(shell)
    cell(shell, "%trace --live --seed 3 geometric(torch.tensor([0.7]))")
    tree = shell.magics_manager.registry["ModelMagics"].trees[-1]
    root = tree.tree
    assert root["kind"] == "call" and root["name"] == "geometric"
    assert root["children"][0]["name"] == "x_0" and root["children"][0]["dist"].startswith("Bernoulli")
    first = tree.trace
    tree._on_message(tree, {"type": "resample"}, [])  # what the resample button sends
    assert tree.run == 2 and tree.trace is not first


def test_model_trace_option_shows_one_run(shell):
    cell(shell, WEATHER.format(opts="--trace --samples 0"))
    tree = shell.magics_manager.registry["ModelMagics"].trees[-1]
    assert [c["name"] for c in tree.tree["children"]] == ["cloudy", "temp"]
    assert all(c["log_prob"] is not None for c in tree.tree["children"])


def test_model_trace_option_with_a_seed_shows_the_same_run_each_time(shell):
    temps = []
    for _ in range(2):
        cell(shell, WEATHER.format(opts="--trace --samples 5 --seed 3"))
        temps.append(shell.magics_manager.registry["ModelMagics"].trees[-1].trace.nodes["temp"]["value"].item())
    assert temps[0] == temps[1]


def test_posterior_log_weights_make_weighted_panels(shell):
    from ppl_kernel_jupyter.posterior_display import posterior_data

    def coin():
        import ppl_kernel as pyro
        import ppl_kernel.distributions as dist

        return pyro.sample("c", dist.Bernoulli(0.5))

    post = TracePosterior(coin)
    # substitute fixes the value and keeps the site latent (condition would make it observed data).
    heads = poutine.trace(poutine.substitute(coin, data={"c": torch.tensor(1.0)})).get_trace()
    tails = poutine.trace(poutine.substitute(coin, data={"c": torch.tensor(0.0)})).get_trace()
    post.add(heads, math.log(3.0))
    post.add(tails, 0.0)
    state = posterior_data(post).state()
    panel = state["panels"][0]
    probs = {b["label"]: b["count"] for b in panel["bars"]}
    assert probs == pytest.approx({"0": 0.25, "1": 0.75})
    assert state["weighted"]


# ---- things display themselves --------------------------------------------------------------------
def test_a_trace_displays_as_its_static_call_tree_with_text(shell):
    define_seed_models(shell)
    tr = poutine.trace(shell.user_ns["ice_cream_sales"]).get_trace()
    data, _ = shell.display_formatter.format(tr)
    # No widget view: a reopened notebook has no kernel to draw one.
    assert "application/vnd.jupyter.widget-view+json" not in data
    assert data["text/plain"] == str(tr) and data["text/plain"].startswith("ice_cream_sales()")
    assert 'class="ppl-tree ppl-tree-static"' in data["text/html"] and "weather()" in data["text/html"]


def test_an_empirical_marginal_displays_a_static_figure_of_its_weighted_values(shell):
    from IPython.utils.capture import capture_output

    from ppl_kernel.infer import EmpiricalMarginal

    cell(shell, GEOMETRIC.format(opts='--args "torch.tensor([0.5])" --samples 400 --seed 4 -o g4'))
    marginal = EmpiricalMarginal(shell.user_ns["g4"])
    with capture_output() as captured:
        shell.display_formatter.format(marginal)
    text = captured.outputs[-1].data["text/plain"]
    assert "marginal of the return values: 400 values" in text
    bundle = captured.outputs[0].data
    assert "application/vnd.jupyter.widget-view+json" not in bundle and "application/vnd.vegalite.v5+json" in bundle
    # The panel's bars are the marginal's own probabilities.
    from ppl_kernel_jupyter.posterior_display import marginal_data

    bars = {b["label"]: b["count"] for b in marginal_data(marginal).state()["panels"][0]["bars"]}
    expected = {str(int(v.item())): p for v, p in zip(marginal.support, marginal.probs.tolist(), strict=True)}
    assert bars == pytest.approx(expected)


def test_the_marginal_of_an_enumeration_is_titled_exact_not_importance_weighted(shell):
    from IPython.utils.capture import capture_output

    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist
    from ppl_kernel.infer import EmpiricalMarginal, Enumerate

    def weather_at_70():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        pyro.sample("temp", dist.Normal(55.0 if cloudy.item() else 75.0, 10.0 if cloudy.item() else 15.0),
                    obs=torch.tensor(70.0))

    marginal = EmpiricalMarginal(Enumerate(weather_at_70).run(), sites="cloudy")
    with capture_output() as captured:
        shell.display_formatter.format(marginal)
    title = captured.outputs[0].data["application/vnd.vegalite.v5+json"]["title"]["text"]
    assert "exact (enumerated, 2 paths)" in title and "importance weighted" not in title and "ESS" not in title


def test_unload_removes_the_magics_and_formatters(shell):
    shell.run_line_magic("unload_ext", "ppl_kernel")
    try:
        assert "model" not in shell.magics_manager.magics["cell"]
        assert "sample" not in shell.magics_manager.magics["line"]
    finally:
        shell.run_line_magic("load_ext", "ppl_kernel")
    assert "model" in shell.magics_manager.magics["cell"]
