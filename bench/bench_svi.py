"""SVI steps per second: ppl_kernel against pyro-ppl in one process, on the same model source.

    python bench/bench_svi.py [steps]

Cases: Pyro's scale example (guess 8.5, measurement 9.5) with the tutorial's hand-written guide and
with AutoNormal, the Beta-Bernoulli coin (ten flips in a plate, Beta guide), and a discrete latent
site learned by the score function. Each library's parameter store is cleared before its case; the
two libraries are timed in turns, five times each, after a warm-up, and the best rate of each is
kept. Ratio = ours / pyro-ppl (above 1: faster). One torch thread, as suits these tiny tensors.
"""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import peer_pyro, report

import ppl_kernel
import ppl_kernel.distributions
import ppl_kernel.optim
from ppl_kernel.infer.autoguide import AutoNormal
from ppl_kernel.infer.elbo import Trace_ELBO
from ppl_kernel.infer.svi import SVI

HEADS = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]


def make_cases(pyro, dist, optim, svi_class, elbo_class, auto_normal, constraints):
    """The models and guides, written once against whichever library is passed in."""

    def scale(guess):
        weight = pyro.sample("weight", dist.Normal(guess, 1.0))
        return pyro.sample("measurement", dist.Normal(weight, 0.75), obs=torch.tensor(9.5))

    def scale_guide(guess):
        a = pyro.param("a", torch.tensor(guess))
        b = pyro.param("b", torch.tensor(1.0))
        return pyro.sample("weight", dist.Normal(a, torch.abs(b)))

    data = torch.tensor(HEADS)

    def coin(data):
        f = pyro.sample("fairness", dist.Beta(10.0, 10.0))
        with pyro.plate("flips", len(data)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def coin_guide(data):
        alpha = pyro.param("alpha_q", torch.tensor(15.0), constraint=constraints.positive)
        beta = pyro.param("beta_q", torch.tensor(15.0), constraint=constraints.positive)
        pyro.sample("fairness", dist.Beta(alpha, beta))

    def switch():
        z = pyro.sample("z", dist.Bernoulli(0.3))
        pyro.sample("y", dist.Normal(2.0 * z, 1.0), obs=torch.tensor(1.5))

    def switch_guide():
        q = pyro.param("q", torch.tensor(0.5), constraint=constraints.unit_interval)
        pyro.sample("z", dist.Bernoulli(q))

    def stepper(model, guide, args, lr):
        def setup():
            pyro.clear_param_store()
            svi = svi_class(model, guide(model) if guide is auto_normal else guide, optim.Adam({"lr": lr}),
                            loss=elbo_class())
            for _ in range(20):  # warm-up: parameters and optimizers exist, caches are filled
                svi.step(*args)
            return lambda: svi.step(*args)
        return setup

    return {
        "scale, hand-written guide (Adam)": stepper(scale, scale_guide, (8.5,), 0.003),
        "scale, AutoNormal": stepper(scale, auto_normal, (8.5,), 0.01),
        "coin: Beta guide, 10 flips in a plate": stepper(coin, coin_guide, (data,), 0.0005),
        "discrete latent (score function)": stepper(switch, switch_guide, (), 0.01),
    }


def interleaved_rates(steppers, number, repeat=5):
    """Best steps/s of each stepper, timing them in turns (ours, pyro, ours, ...) so that a busy spell of
    the machine hits both rather than whichever happened to run then."""
    best = [float("inf")] * len(steppers)
    for _ in range(repeat):
        for i, step in enumerate(steppers):
            start = time.perf_counter()
            for _ in range(number):
                step()
            best[i] = min(best[i], time.perf_counter() - start)
    return [number / b for b in best]


def main(n=500):
    torch.set_num_threads(1)
    from torch.distributions import constraints

    ours = make_cases(ppl_kernel, ppl_kernel.distributions, ppl_kernel.optim, SVI, Trace_ELBO, AutoNormal,
                      constraints)
    pyro = peer_pyro("distributions", "infer", "infer.autoguide", "optim")
    peer = {} if pyro is None else make_cases(pyro, pyro.distributions, pyro.optim, pyro.infer.SVI,
                                              pyro.infer.Trace_ELBO, pyro.infer.autoguide.AutoNormal, constraints)
    rows = []
    for name, setup in ours.items():
        if name in peer:
            ours_rate, peer_rate = interleaved_rates([setup(), peer[name]()], n)
        else:
            (ours_rate,), peer_rate = interleaved_rates([setup()], n), None
        rows.append((name, ours_rate, peer_rate))
    report(rows, "SVI steps per second (ratio = ours / pyro-ppl " + (pyro.__version__ if peer else "absent") + ")")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
