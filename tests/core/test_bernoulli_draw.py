"""Bernoulli draws outside the scalar fast path are uniforms compared with the probabilities (rand < p): each
way a draw is made (one at a time, a tensor of probabilities, a plate, a batched run, a vmap, a given generator)
comes out 1 with probability p.

Every frequency check has the same tolerance: 5 standard errors of a proportion, 5 * sqrt(p (1 - p) / n)."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.distributions.bernoulli import bernoulli_draw
from ppl_kernel.settings import drawing_from
from ppl_kernel.vectorize import run_batched


def assert_frequency(draws, p):
    """The share of ones in ``draws`` is p, within 5 standard errors of a proportion of len(draws) draws."""
    n = draws.numel()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(draws.double().mean().item() - p) < 5 * se


def test_one_draw_at_a_time_is_one_with_probability_p():
    pyro.set_rng_seed(0)
    d = dist.Bernoulli(logits=torch.tensor(math.log(0.3 / 0.7)))  # logits: torch's sampler, not the fast path
    draws = torch.stack([d.sample() for _ in range(20_000)])
    assert draws.shape == (20_000,)
    assert_frequency(draws, 0.3)


def test_a_tensor_of_probabilities_draws_each_element_with_its_own_probability():
    pyro.set_rng_seed(1)
    probs = torch.tensor([0.05, 0.5, 0.9])
    draws = dist.Bernoulli(probs).sample((40_000,))
    assert draws.shape == (40_000, 3) and draws.dtype == torch.float32
    for column, p in zip(draws.unbind(1), probs.tolist(), strict=True):
        assert_frequency(column, p)


def test_float64_probabilities_draw_float64_values_with_their_probability():
    pyro.set_rng_seed(2)
    draws = dist.Bernoulli(torch.full((50_000,), 0.7, dtype=torch.float64)).sample()
    assert draws.dtype == torch.float64
    assert_frequency(draws, 0.7)


def test_a_plate_of_draws_is_one_with_probability_p():
    pyro.set_rng_seed(3)

    def model():
        with pyro.plate("coins", 50_000):
            return pyro.sample("c", dist.Bernoulli(torch.tensor(0.3)))

    assert_frequency(model(), 0.3)


def test_a_batched_run_draws_each_run_independently_with_probability_p():
    pyro.set_rng_seed(4)
    trace = run_batched(lambda: pyro.sample("c", dist.Bernoulli(torch.tensor(0.3))), 50_000)
    assert_frequency(trace["c"].value, 0.3)


def test_under_vmap_with_different_randomness_each_run_draws_with_probability_p():
    torch.manual_seed(5)
    d = dist.Bernoulli(torch.tensor(0.2))
    draws = torch.func.vmap(lambda _: d.sample(), randomness="different")(torch.empty(50_000, 0))
    assert_frequency(draws, 0.2)


def test_a_given_generator_draws_with_probability_p_and_repeats_from_its_seed():
    first = bernoulli_draw(torch.tensor(0.3), (50_000,), generator=torch.Generator().manual_seed(6))
    again = bernoulli_draw(torch.tensor(0.3), (50_000,), generator=torch.Generator().manual_seed(6))
    assert_frequency(first, 0.3)
    assert torch.equal(first, again)


def test_a_threads_own_generator_makes_plate_draws_repeat_and_leaves_the_default_generator_alone():
    def model():
        with pyro.plate("coins", 50_000):
            return pyro.sample("c", dist.Bernoulli(torch.tensor(0.3)))

    pyro.set_rng_seed(7)
    state = torch.get_rng_state()
    with drawing_from(torch.Generator().manual_seed(8)):
        first = model()
    with drawing_from(torch.Generator().manual_seed(8)):
        again = model()
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, again)
    assert_frequency(first, 0.3)


def test_a_draw_is_a_uniform_of_the_probabilities_dtype_compared_with_them():
    probs = torch.tensor([0.1, 0.6, 0.95], dtype=torch.float64)
    torch.manual_seed(9)
    uniforms = torch.rand((1000, 3), dtype=torch.float64)
    torch.manual_seed(9)
    draws = dist.Bernoulli(probs).sample((1000,))
    assert torch.equal(draws, (uniforms < probs).double())


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 3e-7), (torch.float64, 1e-12)])
def test_bernoulli_log_prob_and_its_gradient_are_torchs(dtype, tol):
    logits = torch.tensor([-30.0, -3.0, -0.2, 0.0, 2.5, 40.0], dtype=dtype, requires_grad=True)
    value = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], dtype=dtype)
    ours, theirs = dist.Bernoulli(logits=logits).log_prob(value), torch.distributions.Bernoulli(logits=logits).log_prob(value)
    # float32: torch's fused loss and ours round differently, within a few ulps of values of order 1 (1.2e-7 each)
    assert (ours - theirs).abs().max().item() < tol * max(1.0, theirs.abs().max().item())
    (g_ours,), (g_theirs,) = torch.autograd.grad(ours.sum(), logits), torch.autograd.grad(theirs.sum(), logits)
    assert (g_ours - g_theirs).abs().max().item() < tol


def test_bernoulli_log_prob_under_vmap_is_the_per_run_one():
    probs = torch.tensor([0.1, 0.5, 0.9])
    values = torch.tensor([1.0, 0.0, 0.0])
    batched = torch.func.vmap(lambda p, v: dist.Bernoulli(p).log_prob(v))(probs, values)
    one_by_one = torch.stack([torch.distributions.Bernoulli(p).log_prob(v) for p, v in zip(probs, values, strict=True)])
    assert torch.allclose(batched, one_by_one, atol=3e-7)
