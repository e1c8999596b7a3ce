"""TraceEnum_ELBO SVI steps per second: ppl_kernel against pyro-ppl in one process, on the same model source.

    python bench/bench_traceenum.py

Cases: the GMM tutorial's collapsed mixture (5 points, 2 components, AutoDelta-like point guide written
by hand), the same with the assignments enumerated in the guide, and a 20-step HMM under markov with
the transition and emission matrices as parameters. The two libraries are timed in turns (common.paired_rates)
after a warm-up. Ratio = ours / pyro-ppl (above 1: faster). One torch thread.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import paired_rates, report

import ppl_kernel
import ppl_kernel.distributions
import ppl_kernel.infer
import ppl_kernel.optim

DATA = torch.tensor([0.0, 1.0, 10.0, 11.0, 12.0])
OBS = torch.tensor([0, 1, 3, 2, 1, 0, 0, 3, 2, 2, 1, 0, 3, 3, 1, 0, 2, 1, 1, 0])


def make_cases(pyro, dist, infer, optim, constraints):
    @infer.config_enumerate
    def gmm(data):
        weights = pyro.sample("weights", dist.Dirichlet(0.5 * torch.ones(2)))
        scale = pyro.sample("scale", dist.LogNormal(0.0, 2.0))
        with pyro.plate("components", 2):
            locs = pyro.sample("locs", dist.Normal(0.0, 10.0))
        with pyro.plate("data", len(data)):
            a = pyro.sample("assignment", dist.Categorical(weights))
            pyro.sample("obs", dist.Normal(locs[a], scale), obs=data)

    def point_guide(data):
        w = pyro.param("w", torch.ones(2) / 2, constraint=constraints.simplex)
        s = pyro.param("s", torch.tensor(3.0), constraint=constraints.positive)
        m = pyro.param("m", torch.tensor([1.0, 10.0]))
        pyro.sample("weights", dist.Delta(w, event_dim=1))
        pyro.sample("scale", dist.Delta(s))
        with pyro.plate("components", 2):
            pyro.sample("locs", dist.Delta(m))

    @infer.config_enumerate
    def full_guide(data):
        point_guide(data)
        with pyro.plate("data", len(data)):
            p = pyro.param("assignment_probs", torch.ones(len(data), 2) / 2, constraint=constraints.simplex)
            pyro.sample("assignment", dist.Categorical(p))

    def hmm(obs):
        T = pyro.param("T", torch.ones(3, 3) / 3 + torch.eye(3), constraint=constraints.simplex)
        E = pyro.param("E", torch.ones(3, 4) / 4 + torch.eye(3, 4), constraint=constraints.simplex)
        x = 0
        for t in pyro.markov(range(len(obs))):
            x = pyro.sample(f"x_{t}", dist.Categorical(T[x]), infer={"enumerate": "parallel"})
            pyro.sample(f"y_{t}", dist.Categorical(E[x]), obs=obs[t])

    def nothing(obs):
        pass

    def stepper(model, guide, args, nesting):
        def setup():
            pyro.clear_param_store()
            svi = infer.SVI(model, guide, optim.Adam({"lr": 0.05}), loss=infer.TraceEnum_ELBO(max_plate_nesting=nesting))
            for _ in range(5):
                svi.step(*args)
            return lambda: svi.step(*args)
        return setup

    return {
        "GMM, assignments summed out in the model": stepper(gmm, point_guide, (DATA,), 1),
        "GMM, assignments enumerated in the guide": stepper(gmm, full_guide, (DATA,), 1),
        "HMM, 20 steps under markov": stepper(hmm, nothing, (OBS,), 0),
    }


def main():
    torch.set_num_threads(1)
    from torch.distributions import constraints

    ours = make_cases(ppl_kernel, ppl_kernel.distributions, ppl_kernel.infer, ppl_kernel.optim, constraints)
    try:
        import pyro
        import pyro.distributions
        import pyro.infer
        import pyro.optim

        peer = make_cases(pyro, pyro.distributions, pyro.infer, pyro.optim, constraints)
    except ImportError:
        peer = None
    rows = []
    for name, setup in ours.items():
        step = setup()
        peer_step = peer[name]() if peer else None
        mine, theirs = paired_rates((step, 30), (peer_step, 30) if peer_step else None, rounds=5)
        rows.append((name, mine, theirs))
    report(rows, "TraceEnum_ELBO SVI steps per second")


if __name__ == "__main__":
    main()
