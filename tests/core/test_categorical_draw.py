"""Categorical draws outside the scalar fast path are by inverse CDF (categorical.py): each way a draw is made
(a batch of probability vectors, logits, a plate, a batched run, a given generator) draws outcome k with
probability p_k, never an outcome of probability zero, as torch's long indices of the right shape.

Every frequency check has the same tolerance: 5 standard errors of a proportion, 5 * sqrt(p (1 - p) / n)."""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.distributions.categorical import categorical_draw
from ppl_kernel.vectorize import run_batched


def assert_frequencies(draws, probs):
    """The share of each outcome in ``draws`` is its probability, within 5 standard errors of a proportion."""
    n = draws.numel()
    counts = torch.bincount(draws.reshape(-1), minlength=len(probs)).tolist()
    for k, p in enumerate(probs):
        assert abs(counts[k] / n - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (k, counts, probs)
        if p == 0:
            assert counts[k] == 0, (k, counts)


def test_a_batch_of_probability_vectors_draws_each_row_from_its_own():
    pyro.set_rng_seed(0)
    probs = torch.tensor([[0.2, 0.0, 0.8], [0.0, 0.0, 1.0], [1.0, 1.0, 2.0]])  # the last row unnormalised
    draws = dist.Categorical(probs).sample((20_000,))
    assert draws.shape == (20_000, 3) and draws.dtype == torch.long
    for column, row in zip(draws.unbind(1), probs, strict=True):
        assert_frequencies(column, (row / row.sum()).tolist())


def test_logits_and_float64_probabilities_draw_with_their_probabilities():
    pyro.set_rng_seed(1)
    logits = torch.tensor([0.5, -1.0, 2.0])
    assert_frequencies(dist.Categorical(logits=logits).expand([40_000]).sample(), torch.softmax(logits, 0).tolist())
    probs = torch.tensor([0.25, 0.75, 0.0], dtype=torch.float64)
    assert_frequencies(dist.Categorical(probs).expand([40_000]).sample(), probs.tolist())


def test_a_plate_and_a_batched_run_draw_independently_per_run():
    pyro.set_rng_seed(2)
    die = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 5.0])

    def plate_model():
        with pyro.plate("rolls", 30_000):
            return pyro.sample("roll", dist.Categorical(die))

    def one_roll():
        return pyro.sample("roll", dist.Categorical(die))

    expected = (die / die.sum()).tolist()
    assert_frequencies(plate_model(), expected)
    trace = run_batched(one_roll, 30_000)
    assert_frequencies(trace.nodes["roll"]["value"], expected)


def test_a_given_generator_makes_the_draws_repeatable():
    probs = torch.tensor([0.1, 0.6, 0.3])
    first = categorical_draw(probs, (1000,), generator=torch.Generator().manual_seed(5))
    second = categorical_draw(probs, (1000,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


def test_the_largest_uniform_stays_below_the_total_so_trailing_impossible_outcomes_are_never_drawn():
    # torch.rand's largest value is 1 - 2^-p; times any total it stays below that total in the same precision
    for dtype, bits in ((torch.float32, 24), (torch.float64, 53)):
        top = torch.tensor(1.0 - 2.0 ** -bits, dtype=dtype)
        for total in torch.rand(10_000, dtype=dtype) * 100 + torch.finfo(dtype).tiny:
            assert top * total < total
