"""NUTS chains drawn live: LiveProgress as MCMC's progress callback, as for the other algorithms."""

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MCMC, NUTS

from ppl_kernel_jupyter import LiveProgress


def coin_with_data():
    p = pyro.sample("p", dist.Beta(2.0, 2.0))
    with pyro.plate("flips", 4):
        pyro.sample("flip", dist.Bernoulli(p), obs=torch.tensor([1.0, 1.0, 1.0, 0.0]))


def test_live_progress_panels_hold_every_draw_of_every_chain():
    live = LiveProgress(display=False)
    mcmc = MCMC(NUTS(coin_with_data), num_samples=40, warmup_steps=20, num_chains=2, progress=live)
    mcmc.run()
    w = live.widget
    assert w.status == "done" and w.runs == 80
    panel = next(p for p in w.panels if p["name"] == "p")
    assert panel["runs"] == 80
    assert abs(panel["mean"] - mcmc.get_samples()["p"].mean().item()) < 1e-6
    assert w.title == "posterior of coin_with_data"


def test_a_stopped_run_shows_stopped_with_the_draws_so_far():
    live = LiveProgress(display=False)

    def stop_early(kernel, params, stage, i):  # every iteration (progress calls are throttled)
        if i >= 30:
            mcmc.stop()

    mcmc = MCMC(NUTS(coin_with_data), num_samples=100, warmup_steps=20, progress=live, hook_fn=stop_early)
    mcmc.run()
    assert live.widget.status == "stopped"
    assert live.widget.runs == mcmc.get_samples()["p"].shape[0] == 11
