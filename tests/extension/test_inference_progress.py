"""Inference runs drawn live: LiveProgress as the progress callback of Importance and MH, in a real shell."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, EmpiricalMarginal, Importance

from ppl_kernel_jupyter import LiveProgress


def coin_with_data():
    p = pyro.sample("p", dist.Beta(2.0, 2.0))
    with pyro.plate("flips", 4):
        pyro.sample("flip", dist.Bernoulli(p), obs=torch.tensor([1.0, 1.0, 1.0, 0.0]))
    return p


def panel(widget, name):
    return next(p for p in widget.panels if p["name"] == name)


def test_importance_panels_hold_every_sample_weighted_like_the_posterior():
    live = LiveProgress(display=False)
    posterior = Importance(coin_with_data, num_samples=3000, progress=live).run()
    w = live.widget
    assert w.status == "done" and w.runs == 3000 and w.weighted
    p = panel(w, "p")
    assert p["runs"] == 3000
    # The panel's weighted mean is the importance estimate of E[p | data] (Beta(5, 3): 0.625).
    assert abs(p["mean"] - EmpiricalMarginal(posterior, "p").mean.item()) < 1e-6
    # IS from the prior with 3000 draws: ESS ~ 1500, posterior sd 0.16 -> se ~ 0.0041, 5 se = 0.021
    assert abs(p["mean"] - 0.625) < 5 * 0.161 / math.sqrt(posterior.get_ESS())


def test_mh_panels_fill_in_and_a_stop_keeps_what_was_drawn():
    calls = []

    class StopEarly(LiveProgress):
        def __call__(self, posterior, done, total):
            super().__call__(posterior, done, total)
            calls.append((done, self.widget.status, self.widget.runs))
            if done > 0 and posterior.running:
                raise KeyboardInterrupt  # what a notebook's stop does, raised for real

    live = StopEarly(display=False)
    posterior = MH(coin_with_data, num_samples=200_000, warmup=0, progress=live).run()
    assert posterior.partial and 0 < len(posterior.traces) < 200_000
    assert live.widget.status == "stopped" and live.widget.runs == len(posterior.traces)
    running = [runs for _, status, runs in calls if status == "running"]
    assert running and running[-1] > 0  # the panels had filled in while the chain ran


def test_live_progress_output_ends_as_the_static_figure_without_the_widget():
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "ppl_kernel")
    shell.user_ns.update(coin_with_data=coin_with_data, Importance=Importance, LiveProgress=LiveProgress)
    outputs = []
    original = shell.display_pub.publish

    def record(data, metadata=None, **kwargs):
        outputs.append(data)
        return original(data, metadata, **kwargs)

    shell.display_pub.publish = record
    try:
        result = shell.run_cell("post = Importance(coin_with_data, num_samples=300, progress=LiveProgress()).run()")
    finally:
        shell.display_pub.publish = original
    assert result.success
    final = outputs[-1]
    # The live widget is gone from what the notebook keeps (it needs a kernel); the figure stays.
    assert "application/vnd.jupyter.widget-view+json" not in final
    assert {"application/vnd.vegalite.v5+json", "image/png"} <= set(final)
    assert "300 runs" in final["text/plain"]


@pytest.fixture(autouse=True)
def _fresh_seed():
    pyro.set_rng_seed(3)
