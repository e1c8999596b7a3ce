"""Normal.log_prob in few passes (distributions/normal.py) gives torch's values and gradients, batched or not."""

import pytest
import torch

import ppl_kernel.distributions as dist


def torch_log_prob(loc, scale, value):
    return torch.distributions.Normal(loc, scale).log_prob(value)


def params(seed, shape=(5,)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * 3, torch.rand(shape, generator=g) * 4 + 0.1, torch.randn(shape, generator=g) * 5


def test_log_densities_equal_torchs_with_broadcasting():
    loc, scale, value = params(0)
    ours = dist.Normal(loc, scale).log_prob(value.reshape(1, 5).expand(3, 5))
    assert ours.shape == (3, 5)
    # the same formula, rounded differently: a few float32 ulps of values of order 10
    assert torch.allclose(ours, torch_log_prob(loc, scale, value).expand(3, 5), rtol=1e-6, atol=1e-5)


def test_float64_parameters_score_in_float64():
    loc, scale, value = (t.double() for t in params(1))
    ours = dist.Normal(loc, scale).log_prob(value)
    assert ours.dtype == torch.float64
    assert torch.allclose(ours, torch_log_prob(loc, scale, value), rtol=1e-13, atol=1e-13)


def test_gradients_equal_torchs():
    loc, scale, value = (t.requires_grad_() for t in params(2))
    dist.Normal(loc, scale).log_prob(value).sum().backward()
    ours = [t.grad.clone() for t in (loc, scale, value)]
    for t in (loc, scale, value):
        t.grad = None
    torch_log_prob(loc, scale, value).sum().backward()
    for mine, theirs in zip(ours, (loc.grad, scale.grad, value.grad), strict=True):
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batched", ["loc", "scale", "value"])
def test_under_vmap_any_one_batched_argument_scores_as_torch_does(batched):
    loc, scale, value = params(3)
    args = {"loc": loc, "scale": scale, "value": value}
    fixed = {name: t[0] for name, t in args.items() if name != batched}  # the others: one per-run scalar

    def one(x):
        kw = dict(fixed, **{batched: x})
        return dist.Normal(kw["loc"], kw["scale"]).log_prob(kw["value"])

    ours = torch.func.vmap(one)(args[batched])
    kw = dict(fixed, **{batched: args[batched]})
    assert torch.allclose(ours, torch_log_prob(kw["loc"], kw["scale"], kw["value"]), rtol=1e-6, atol=1e-5)
