"""Pyro's boosting BBVI tutorial: SVI steps on the RELBO (a custom loss that traces the guide, replays a
blocked mixture approximation at its draw and scores it), ppl_kernel against pyro-ppl in one run.

    python bench/bench_boosting_bbvi.py [rounds]

The model, guide, RELBO and mixture are written once, against whichever library is passed in; each timed
call takes 20 steps fitting the second component against a one-component mixture. The two libraries are
timed in turns and the best rate of each is kept. Ratio = ours / pyro-ppl (above 1: faster). One torch thread.
"""

import os
import sys
from functools import partial

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import paired_rates, peer_pyro, report

STEPS = 20


def make_steps(pyro, dist, poutine, infer, optim):
    """A function taking STEPS RELBO steps with one library's modules."""
    constraints = torch.distributions.constraints

    def model(data):
        z = pyro.sample("z", dist.Normal(torch.tensor([0.0]), torch.tensor([5.0])))
        with pyro.plate("data", len(data)):
            pyro.sample("x", dist.Normal(z * z, torch.tensor([0.1])), obs=data)

    def component(data, index):
        loc = pyro.param(f"loc_{index}", torch.tensor([0.0]))
        scale = pyro.param(f"scale_{index}", torch.tensor([1.0]), constraints.positive)
        pyro.sample("z", dist.Normal(loc, scale))

    def mixture(data, components, weights):
        return components[pyro.sample("assignment", dist.Categorical(weights))](data)

    def relbo(model, guide, data, approximation):
        traced_guide = poutine.trace(guide)
        loss = infer.Trace_ELBO(max_plate_nesting=1).differentiable_loss(model, traced_guide, data)
        replayed = poutine.trace(poutine.replay(poutine.block(approximation, expose=["z"]), traced_guide.trace))
        return loss + replayed.get_trace(data).log_prob_sum()

    pyro.set_rng_seed(0)
    data = torch.distributions.Normal(torch.tensor([4.0]), torch.tensor([0.1])).sample((100,))
    approximation = partial(mixture, components=[partial(component, index=0)], weights=torch.tensor([1.0]))

    def steps():
        pyro.clear_param_store()
        svi = infer.SVI(model, partial(component, index=1), optim.Adam({"lr": 0.01}), loss=relbo)
        for _ in range(STEPS):
            svi.step(data, approximation=approximation)

    return steps


def main():
    torch.set_num_threads(1)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    import ppl_kernel
    import ppl_kernel.distributions
    import ppl_kernel.infer
    import ppl_kernel.optim

    ours = make_steps(ppl_kernel, ppl_kernel.distributions, ppl_kernel.poutine, ppl_kernel.infer, ppl_kernel.optim)
    pyro = peer_pyro("distributions", "infer", "optim", "poutine")
    peer = None if pyro is None else make_steps(pyro, pyro.distributions, pyro.poutine, pyro.infer, pyro.optim)
    rate, peer_rate = paired_rates((ours, 5), (peer, 5) if peer is not None else None, rounds=rounds)
    report([("boosting BBVI: one RELBO SVI step", rate * STEPS, peer_rate * STEPS if peer_rate else None)],
           "SVI on the RELBO (boosting BBVI tutorial), steps per second")


if __name__ == "__main__":
    main()
