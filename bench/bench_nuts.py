"""NUTS effective samples per second: ppl_kernel against pyro-ppl in one process, on the same model source.

    python bench/bench_nuts.py [num_samples]

Cases: a Bayesian linear regression (intercept, two slopes and a HalfNormal noise scale, 50 data) and a
10-d correlated Gaussian (diagonal mass matrix). Each library runs one chain of NUTS with the same warmup
and number of draws; the two are run in turns, twice each, and the best rate is kept. The rate is the
smallest effective sample size over the model's scalar parameters (one estimator, ours, for both
libraries' draws) divided by the wall time of warmup and sampling. Ratio = ours / pyro-ppl (above 1:
faster). One torch thread, as suits these small tensors.
"""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import report  # noqa: E402

import ppl_kernel  # noqa: E402
import ppl_kernel.distributions  # noqa: E402
from ppl_kernel.infer import MCMC as OurMCMC  # noqa: E402
from ppl_kernel.infer import NUTS as OurNUTS  # noqa: E402
from ppl_kernel.infer.mcmc.diagnostics import effective_sample_size  # noqa: E402


def make_cases(pyro, dist):
    """The models, written once against whichever library is passed in."""
    torch.manual_seed(0)
    x = torch.randn(50, 2)
    y = 1.0 + x @ torch.tensor([2.0, -1.0]) + 0.5 * torch.randn(50)

    def regression(x, y):
        a = pyro.sample("a", dist.Normal(0.0, 10.0))
        b = pyro.sample("b", dist.Normal(torch.zeros(2), 10.0).to_event(1))
        sigma = pyro.sample("sigma", dist.HalfNormal(5.0))
        with pyro.plate("data", len(y)):
            pyro.sample("y", dist.Normal(a + x @ b, sigma), obs=y)

    idx = torch.arange(10.0)
    cov = 0.9 ** (idx[:, None] - idx[None, :]).abs()

    def gaussian_10d():
        pyro.sample("z", dist.MultivariateNormal(torch.zeros(10), cov))

    return [("regression (4 params, 50 data)", regression, (x, y)), ("10-d correlated Gaussian", gaussian_10d, ())]


def ess_per_second(mcmc_class, nuts_class, model, args, num_samples):
    kwargs = {"disable_progbar": True} if mcmc_class is not OurMCMC else {}
    mcmc = mcmc_class(nuts_class(model), num_samples=num_samples, warmup_steps=num_samples // 2, **kwargs)
    start = time.perf_counter()
    mcmc.run(*args)
    seconds = time.perf_counter() - start
    ess = min(float(effective_sample_size(v.reshape(1, v.shape[0], -1)).min())
              for v in mcmc.get_samples().values())
    return ess / seconds


def main():
    num_samples = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    torch.set_num_threads(1)
    import pyro
    import pyro.distributions as pdist
    from pyro.infer import MCMC as PyroMCMC
    from pyro.infer import NUTS as PyroNUTS

    ours = make_cases(ppl_kernel, ppl_kernel.distributions)
    peer = make_cases(pyro, pdist)
    rows = []
    for (name, our_model, args), (_, peer_model, _) in zip(ours, peer, strict=True):
        best_ours = best_peer = 0.0
        for round_ in range(2):
            ppl_kernel.set_rng_seed(round_)
            best_ours = max(best_ours, ess_per_second(OurMCMC, OurNUTS, our_model, args, num_samples))
            pyro.set_rng_seed(round_)
            best_peer = max(best_peer, ess_per_second(PyroMCMC, PyroNUTS, peer_model, args, num_samples))
        rows.append((name, best_ours, best_peer))
    report(rows, f"NUTS effective samples per second ({num_samples} draws, {num_samples // 2} warmup, one chain)")


if __name__ == "__main__":
    main()
