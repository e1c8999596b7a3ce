"""A live view's weights stay finite when a later run's weight is beyond a double's range."""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import Importance

from ppl_kernel_jupyter import LiveProgress
from ppl_kernel_jupyter.live_weights import REBASE, LiveWeights


def test_new_weights_are_relative_to_the_first_runs_best():
    weights, restart = LiveWeights().take(torch.tensor([-2.0, -3.0]), torch.tensor([-2.0, -3.0]))
    assert not restart and weights.tolist() == [1.0, math.exp(-1.0)]


def test_a_run_far_above_the_reference_starts_the_view_over_with_every_weight_finite():
    live = LiveWeights()
    live.take(torch.tensor([0.0]), torch.tensor([0.0]))
    every = torch.tensor([0.0, REBASE + 100.0])
    weights, restart = live.take(every[1:], every)
    assert restart and weights[1] == 1.0 and weights[0] == math.exp(-700.0)  # all runs, against the far one


def test_live_progress_panels_follow_a_run_whose_weight_would_overflow():
    runs = []

    def model():
        runs.append(None)
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("jump", 800.0 if len(runs) == 150 else 0.0)  # exp(800) overflows a double
        return x

    live = LiveProgress(display=False)
    posterior = Importance(model, num_samples=300, progress=live).run()
    panel = next(p for p in live.widget.panels if p["name"] == "x")
    heaviest = posterior.store.column("x").tensor()[149].item()
    assert math.isfinite(panel["mean"]) and abs(panel["mean"] - heaviest) < 1e-9
    assert live.widget.estimate["points"][-1][1] == panel["mean"]
