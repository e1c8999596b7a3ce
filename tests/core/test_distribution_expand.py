"""``expand`` on distributions whose torch constructor sets probs or logits (deferred construction)."""

import torch

import ppl_kernel.distributions as dist


def test_bernoulli_expand_keeps_its_probability():
    d = dist.Bernoulli(0.5).expand([3])
    assert d.batch_shape == (3,)
    assert torch.equal(d.probs, torch.full((3,), 0.5))


def test_geometric_expand_keeps_its_probability():
    d = dist.Geometric(0.3).expand([2])
    assert torch.allclose(d.probs, torch.full((2,), 0.3))
    assert d.sample().shape == (2,)


def test_categorical_expand_by_keeps_its_logits():
    d = dist.Categorical(logits=torch.zeros(4)).expand_by([2])
    assert d.batch_shape == (2,)
    assert torch.allclose(d.probs, torch.full((2, 4), 0.25))
