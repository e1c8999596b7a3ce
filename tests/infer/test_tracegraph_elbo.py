"""``TraceGraph_ELBO``: the same expected gradient as ``Trace_ELBO`` on a model with discrete guide sites, with
lower variance (a site is charged only for the terms downstream of it), and Pyro's import path."""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import Trace_ELBO, TraceGraph_ELBO

X1, X2 = torch.tensor(2.5), torch.tensor(0.5)


def model():
    z1 = pyro.sample("z1", dist.Bernoulli(0.3))
    pyro.sample("x1", dist.Normal(3.0 * z1, 1.0), obs=X1)
    z2 = pyro.sample("z2", dist.Bernoulli(0.6))
    pyro.sample("x2", dist.Normal(3.0 * z2, 1.0), obs=X2)


def make_guide(p1, p2):
    def guide():
        pyro.sample("z1", dist.Bernoulli(p1))
        pyro.sample("z2", dist.Bernoulli(p2))

    return guide


def exact_gradient(p1, p2):
    """d(-ELBO)/d(p1, p2) by summing over the four values of (z1, z2)."""
    elbo = 0.0
    for z1 in (0.0, 1.0):
        for z2 in (0.0, 1.0):
            z1t, z2t = torch.tensor(z1), torch.tensor(z2)
            log_q = dist.Bernoulli(p1).log_prob(z1t) + dist.Bernoulli(p2).log_prob(z2t)
            log_p = (dist.Bernoulli(0.3).log_prob(z1t) + dist.Normal(3.0 * z1, 1.0).log_prob(X1)
                     + dist.Bernoulli(0.6).log_prob(z2t) + dist.Normal(3.0 * z2, 1.0).log_prob(X2))
            elbo = elbo + log_q.exp() * (log_p - log_q)
    return torch.autograd.grad(-elbo, (p1, p2))


def gradient_draws(elbo, p1, p2, n):
    guide = make_guide(p1, p2)
    draws = [torch.stack(torch.autograd.grad(elbo.differentiable_loss(model, guide), (p1, p2))) for _ in range(n)]
    return torch.stack(draws)  # n x 2


def test_tracegraph_gradient_is_unbiased_with_lower_variance_than_trace_elbo():
    p1 = torch.tensor(0.5, requires_grad=True)
    p2 = torch.tensor(0.4, requires_grad=True)
    exact = torch.stack(exact_gradient(p1, p2))
    n = 2000
    pyro.set_rng_seed(0)
    trace = gradient_draws(Trace_ELBO(), p1, p2, n)
    pyro.set_rng_seed(0)
    graph = gradient_draws(TraceGraph_ELBO(), p1, p2, n)
    for draws in (trace, graph):  # both unbiased: each mean within 5 standard errors (sd / sqrt(n)) of the truth
        se = draws.std(0) / math.sqrt(n)
        assert ((draws.mean(0) - exact).abs() < 5 * se).all(), (draws.mean(0), exact, se)
    # z2's gradient: Trace_ELBO also charges it with z1's and x1's terms, which come before z2 and only add
    # noise. The variance ratio of two samples of n has a relative SE of about 2 / sqrt(n) = 0.045; the
    # measured ratio must lie 5 of those below 1.
    ratio = (graph[:, 1].var() / trace[:, 1].var()).item()
    assert ratio < 1 - 5 * 2 / math.sqrt(n), ratio
    # z1 comes first in both runs: nothing is upstream of it, so both charge it the same.
    assert torch.allclose(graph[:, 0], trace[:, 0])


def test_tracegraph_elbo_is_importable_by_its_pyro_path():
    import importlib

    assert importlib.import_module("ppl_kernel.infer").TraceGraph_ELBO is TraceGraph_ELBO
