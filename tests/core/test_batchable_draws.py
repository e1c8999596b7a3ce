"""Draws of the families whose own torch samplers vmap refuses (distributions/batchable.py): they run batched,
one draw per run, with the family's distribution; where they call torch's own sampler, with torch's draws.

Each moment check has the tolerance 5 standard errors of a mean of n draws, 5 * sd / sqrt(n); for the Cauchy,
which has no mean, of a proportion."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, EmpiricalMarginal
from ppl_kernel.vectorize import run_batched

N = 20_000


@pytest.mark.parametrize("ours, theirs", [
    (dist.Gamma(torch.full((500,), 0.7), 2.0), torch.distributions.Gamma(torch.full((500,), 0.7), 2.0)),
    (dist.Chi2(torch.full((500,), 3.0)), torch.distributions.Chi2(torch.full((500,), 3.0))),
    (dist.Beta(torch.full((500,), 0.5), 3.0), torch.distributions.Beta(torch.full((500,), 0.5), 3.0)),
    (dist.Dirichlet(torch.ones(500, 3)), torch.distributions.Dirichlet(torch.ones(500, 3))),
])
def test_a_draw_by_torchs_own_sampler_is_torchs_draw_for_the_same_seed(ours, theirs):
    torch.manual_seed(0)
    a = ours.sample((2,))
    torch.manual_seed(0)
    b = theirs.sample((2,))
    assert a.shape == b.shape and torch.equal(a, b)


# family, (mean, sd) of the drawn value (of its first coordinate for the vector families)
MOMENTS = [
    (lambda: dist.Gamma(3.0, 2.0), (1.5, math.sqrt(3) / 2)),
    (lambda: dist.Chi2(4.0), (4.0, math.sqrt(8))),
    (lambda: dist.InverseGamma(5.0, 2.0), (0.5, math.sqrt(4 / (16 * 3)))),
    (lambda: dist.NegativeBinomial(4.0, 0.3), (4 * 0.3 / 0.7, math.sqrt(4 * 0.3) / 0.7)),
    (lambda: dist.Beta(2.0, 6.0), (0.25, math.sqrt(12 / (64 * 9)))),
    (lambda: dist.Dirichlet(torch.tensor([1.0, 2.0, 3.0])), (1 / 6, math.sqrt(1 * 5 / (36 * 7)))),
    (lambda: dist.Exponential(2.0), (0.5, 0.5)),
    (lambda: dist.Laplace(1.0, 2.0), (1.0, 2 * math.sqrt(2))),
    (lambda: dist.Geometric(0.3), (0.7 / 0.3, math.sqrt(0.7) / 0.3)),
    (lambda: dist.StudentT(5.0, 1.0, 2.0), (1.0, 2 * math.sqrt(5 / 3))),
    (lambda: dist.MultivariateNormal(torch.tensor([1.0, -1.0]), torch.tensor([[4.0, 1.0], [1.0, 2.0]])), (1.0, 2.0)),
    # the count of the first of three outcomes (probabilities 1/4, 1/4, 1/2) in 5 draws: Binomial(5, 1/4)
    (lambda: dist.Multinomial(5, torch.tensor([1.0, 1.0, 2.0])), (1.25, math.sqrt(5 * 0.25 * 0.75))),
]


@pytest.mark.parametrize("family, moments", MOMENTS)
def test_a_batched_run_draws_each_run_from_the_family(family, moments):
    pyro.set_rng_seed(0)
    trace = run_batched(lambda: pyro.sample("x", family()), N)
    x = trace.nodes["x"]["value"]
    x = x[..., 0] if x.dim() == 2 else x
    mean, sd = moments
    assert x.shape == (N,) and x.double().std().item() > sd / 2  # a draw per run: one shared draw has no spread
    assert abs(x.double().mean().item() - mean) < 5 * sd / math.sqrt(N), (family(), x.mean())


def test_multinomial_counts_add_up_to_the_total_in_every_run():
    counts = run_batched(lambda: pyro.sample("x", dist.Multinomial(7, torch.ones(4))), 1000).nodes["x"]["value"]
    assert counts.shape == (1000, 4) and counts.dtype == torch.float32 and bool((counts.sum(-1) == 7).all())
    torch.manual_seed(0)
    plain = dist.Multinomial(7, torch.ones(4)).sample((3, 2))
    assert plain.shape == (3, 2, 4) and bool((plain.sum(-1) == 7).all())


def test_a_batched_cauchy_and_half_cauchy_have_their_quartiles():
    pyro.set_rng_seed(1)
    x = run_batched(lambda: pyro.sample("x", dist.Cauchy(1.0, 2.0)), N).nodes["x"]["value"]
    # P(X < loc + scale) = 3/4 for a Cauchy; P(|X| < scale) = 1/2 for a half-Cauchy
    assert abs((x < 3.0).double().mean().item() - 0.75) < 5 * math.sqrt(0.75 * 0.25 / N)
    x = run_batched(lambda: pyro.sample("x", dist.HalfCauchy(2.0)), N).nodes["x"]["value"]
    assert bool((x >= 0).all()) and abs((x < 2.0).double().mean().item() - 0.5) < 5 * math.sqrt(0.25 / N)


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
