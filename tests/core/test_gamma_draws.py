"""Gamma and Beta draws (distributions/gamma.py): torch's very draws for a seed, and they run batched.

Each moment check has the tolerance 5 standard errors of a mean of n draws, 5 * sd / sqrt(n)."""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, EmpiricalMarginal
from ppl_kernel.vectorize import run_batched


def test_a_tensor_draw_is_torchs_draw_for_the_same_seed():
    for ours, theirs in ((dist.Gamma(torch.full((500,), 0.7), 2.0), torch.distributions.Gamma(torch.full((500,), 0.7), 2.0)),
                         (dist.Beta(torch.full((500,), 0.5), 3.0), torch.distributions.Beta(torch.full((500,), 0.5), 3.0))):
        torch.manual_seed(0)
        a = ours.sample((2,))
        torch.manual_seed(0)
        b = theirs.sample((2,))
        assert a.shape == b.shape == (2, 500) and torch.equal(a, b)


def test_a_batched_run_draws_gamma_and_beta_per_run():
    pyro.set_rng_seed(0)

    def model():
        g = pyro.sample("g", dist.Gamma(3.0, 2.0))
        return g, pyro.sample("b", dist.Beta(2.0, 6.0))

    n = 20_000
    trace = run_batched(model, n)
    g, b = trace.nodes["g"]["value"], trace.nodes["b"]["value"]
    assert g.shape == b.shape == (n,) and len(set(g[:100].tolist())) == 100  # one draw per run
    # Gamma(3, rate 2): mean 1.5, sd sqrt(3) / 2; Beta(2, 6): mean 0.25, sd sqrt(2 * 6 / (8^2 * 9))
    assert abs(g.mean().item() - 1.5) < 5 * (math.sqrt(3) / 2) / math.sqrt(n)
    assert abs(b.mean().item() - 0.25) < 5 * math.sqrt(12 / (64 * 9)) / math.sqrt(n)


def test_many_chains_of_a_beta_binomial_coin_run_as_one_batch_and_find_its_posterior():
    def coin():
        p = pyro.sample("p", dist.Beta(1.0, 1.0))
        pyro.sample("heads", dist.Binomial(10, p), obs=torch.tensor(7.0))
        return p

    pyro.set_rng_seed(1)
    posterior = MH(coin, num_samples=300, warmup=200, num_chains=200, vectorize=True).run()
    assert posterior.vectorized
    # exact: Beta(8, 4), mean 2/3, sd 0.131; 200 chains of 300 kept steps are at least 2000 effective draws
    # here: 5 sigma = 5 * 0.131 / sqrt(2000) = 0.015
    assert abs(float(EmpiricalMarginal(posterior).mean) - 2 / 3) < 5 * 0.131 / math.sqrt(2000)
