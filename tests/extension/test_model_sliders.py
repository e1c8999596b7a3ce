"""interact(model, p=(0, 1, 0.05)): sliders that re-sample the model, cancel the run in flight, throttle."""

import math

import ipywidgets
import pytest

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel_jupyter import interact

N = 2000


def coin(p=0.5):
    return pyro.sample("heads", dist.Bernoulli(p))


def counter(n, scale=1.0):
    return pyro.sample("k", dist.Poisson(n * scale))


def test_moving_a_slider_samples_the_model_with_the_new_value():
    sliders = interact(coin, p=(0, 1, 0.05), num_samples=N, display=False, seed=0)
    sliders.set(p=0.9).wait()
    heads = [trace.nodes["heads"]["value"].item() for trace in sliders.posterior.traces]
    assert len(heads) == N and sliders.title == "coin(p=0.9)"
    # Bernoulli(0.9) mean of N draws: SE = sqrt(0.9 * 0.1 / N) = 0.0067; 5 SE = 0.034.
    assert abs(sum(heads) / N - 0.9) < 5 * math.sqrt(0.9 * 0.1 / N)


def test_a_move_cancels_the_run_in_flight():
    sliders = interact(coin, p=(0, 1, 0.05), num_samples=10**7, throttle=0.0, display=False, background=True)
    first = sliders.run
    sliders.set(p=0.2)
    first.wait(30)
    assert first.status == "stopped" and first.posterior.partial
    assert sliders.run is not first and sliders.run.kwargs == {"p": 0.2}
    sliders.close()
    sliders.run.wait(30)


def test_quick_moves_are_gathered_into_one_run_with_the_latest_values():
    sliders = interact(coin, p=(0, 1, 0.05), num_samples=50, throttle=0.5, display=False, background=True)
    for p in (0.1, 0.2, 0.3, 0.4):  # all within the throttle of the first run's start
        sliders.set(p=p)
    sliders.wait()
    assert sliders.runs_started == 2 and sliders.title == "coin(p=0.4)"


def test_whole_number_ranges_give_integer_sliders_and_lists_give_choices():
    sliders = interact(counter, n=(1, 20), scale=[0.5, 1.0, 2.0], num_samples=20, display=False)
    assert isinstance(sliders.sliders["n"], ipywidgets.IntSlider)
    assert isinstance(sliders.sliders["scale"], ipywidgets.Dropdown)
    assert sliders.values == {"n": 10, "scale": 1.0}  # n: the middle of its range; scale: the model's default
    sliders.wait()


def test_a_slider_starts_at_the_models_default_and_the_first_run_ends_before_interact_returns():
    sliders = interact(coin, p=(0, 1, 0.05), num_samples=10, display=False)
    assert sliders.values == {"p": 0.5}
    assert sliders.run.status == "done" and len(sliders.posterior) == 10


def test_the_output_ends_as_the_static_figure_titled_with_the_values(shell):
    outputs = []
    original = shell.display_pub.publish

    def record(data, metadata=None, **kwargs):
        outputs.append(data)
        return original(data, metadata, **kwargs)

    shell.user_ns.update(coin=coin, interact=interact)
    shell.display_pub.publish = record
    try:
        result = shell.run_cell("sliders = interact(coin, p=(0, 1, 0.05), num_samples=100)")
        first = outputs[-1]
        shell.user_ns["sliders"].set(p=0.75).wait()
    finally:
        shell.display_pub.publish = original
    assert result.success
    assert first["text/plain"].startswith("coin(p=0.5): 100 runs")  # the first run ended before the cell did
    final = outputs[-1]
    # What a saved notebook keeps of the panels: the figure of the last state, no widget (it needs a kernel).
    assert "application/vnd.jupyter.widget-view+json" not in final
    assert {"application/vnd.vegalite.v5+json", "image/png"} <= set(final)
    assert final["text/plain"].startswith("coin(p=0.75): 100 runs")


def test_an_argument_the_model_lacks_is_named_with_the_ones_it_has():
    with pytest.raises(TypeError, match=r"coin has no argument 'q'; its arguments are \['p'\]"):
        interact(coin, q=(0, 1), display=False)


def test_a_range_that_is_not_low_high_step_says_how_to_write_it():
    with pytest.raises(ValueError, match=r"give a range \(low, high\) or \(low, high, step\)"):
        interact(coin, p="0 to 1", display=False)
    with pytest.raises(ValueError, match="the low end must be below the high end"):
        interact(coin, p=(1, 0), display=False)


def test_interact_without_sliders_says_what_to_name():
    with pytest.raises(ValueError, match=r"name the arguments to slide"):
        interact(coin, display=False)
