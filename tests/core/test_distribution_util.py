"""``pyro.distributions.util``'s helpers, and distributions whose values are Python objects."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.distributions.util import (
    broadcast_shape, logsumexp, scale_and_mask, sum_leftmost, sum_rightmost,
)
from ppl_kernel.errors import ObservationError, SiteTypeError, UserDistributionError


def test_broadcast_shape_stretches_size_one_dims():
    assert broadcast_shape((5, 1, 3), (4, 1), ()) == (5, 4, 3)


def test_broadcast_shape_strict_refuses_size_one_stretching():
    with pytest.raises(ValueError, match="cannot be broadcast"):
        broadcast_shape((1, 3), (2, 3), strict=True)


def test_broadcast_shape_names_both_shapes_when_they_clash():
    with pytest.raises(ValueError, match=r"\(2,\) vs \(3,\)"):
        broadcast_shape((2,), (3,))


def test_sum_rightmost_and_leftmost_reduce_the_named_dims():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(sum_rightmost(x, 2), x.sum((-1, -2)))
    assert torch.equal(sum_rightmost(x, -1), x.sum((-1, -2)))  # keep one leftmost dim
    assert torch.equal(sum_leftmost(x, 2), x.sum((0, 1)))
    assert sum_rightmost(2.5, 3) == 2.5


def test_logsumexp_is_stable_for_large_values_and_minus_inf_when_all_are():
    assert logsumexp(torch.tensor([1000.0, 1000.0])).item() == pytest.approx(1000.0 + math.log(2))
    assert logsumexp(torch.full((3,), -math.inf)).item() == -math.inf
    assert logsumexp(torch.zeros(2, 3), dim=0, keepdim=True).shape == (1, 3)


def test_scale_and_mask_zeroes_masked_entries_even_minus_inf():
    out = scale_and_mask(torch.tensor([1.0, -math.inf, 3.0]), 2.0, torch.tensor([True, False, True]))
    assert out.tolist() == [2.0, 0.0, 6.0]


class _Tagged(torch.distributions.Distribution):
    """A user's distribution over Python objects, declaring no support (as the RSA tutorials' marginal)."""

    arg_constraints = {}  # noqa: RUF012

    def sample(self, sample_shape=torch.Size()):
        return ("heads", 1)

    def log_prob(self, value):
        return torch.tensor(0.0 if value == ("heads", 1) else -math.inf)


class _TaggedWithSupport(_Tagged):
    support = torch.distributions.constraints.real


def test_a_user_distribution_without_support_draws_and_observes_python_objects():
    tr = poutine.trace(lambda: (pyro.sample("x", _Tagged()), pyro.sample("y", _Tagged(), obs=("heads", 1)))).get_trace()
    assert tr["x"].value == ("heads", 1) and tr["y"].value == ("heads", 1)
    assert tr.log_prob_sum().item() == 0.0


def test_a_user_distribution_that_declares_a_support_must_still_draw_tensors():
    with pytest.raises(UserDistributionError, match=r"site 'x': _TaggedWithSupport.sample returned tuple"):
        poutine.trace(lambda: pyro.sample("x", _TaggedWithSupport())).get_trace()


def test_pyro_distributions_util_is_importable_by_its_pyro_path():
    import importlib

    assert importlib.import_module("ppl_kernel.distributions.util") is dist.util


def test_a_masked_distribution_inside_a_plate_scores_only_the_kept_data():
    def model():
        with pyro.plate("data", 3):
            pyro.sample("y", dist.Normal(0.0, 1.0).mask(torch.tensor([True, False, True])), obs=torch.zeros(3))

    lp = poutine.trace(model).get_trace()["y"].log_prob
    assert lp[1].item() == 0.0 and lp[0].item() == pytest.approx(-0.9189385, abs=1e-6) and lp.shape == (3,)


def test_mask_with_a_number_says_to_give_a_bool():
    with pytest.raises(TypeError, match=r"Normal.mask\(mask\): mask must be a bool or a boolean tensor, got float"):
        dist.Normal(0.0, 1.0).mask(0.0)


def test_empirical_weighs_equal_samples_together_and_draws_by_weight():
    samples = torch.tensor([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    d = dist.Empirical(samples, torch.log(torch.tensor([1.0, 2.0, 1.0])))
    assert d.event_shape == (2,) and d.batch_shape == ()
    assert d.log_prob(torch.tensor([0.0, 1.0])).exp().item() == pytest.approx(0.5)
    assert d.log_prob(torch.tensor([[2.0, 3.0], [9.0, 9.0]])).exp().tolist() == pytest.approx([0.5, 0.0])
    assert torch.allclose(d.mean, torch.tensor([1.0, 2.0]))
    assert torch.allclose(d.variance, torch.tensor([1.0, 1.0]))
    pyro.set_rng_seed(0)
    draws = d.sample((4000,))
    # P(first sample row) = 0.5: 4000 draws have SE sqrt(0.25 / 4000) = 0.0079; 5 SE.
    assert abs((draws[:, 0] == 0.0).double().mean().item() - 0.5) < 5 * 0.0079


def test_empirical_with_mismatched_weights_says_one_per_sample():
    with pytest.raises(ValueError, match="3 samples but 2 log-weights"):
        dist.Empirical(torch.zeros(3), torch.zeros(2))


def test_obs_mask_observes_where_true_and_draws_the_rest():
    data = torch.tensor([1.0, 2.0, 3.0])
    keep = torch.tensor([True, False, True])

    def model():
        with pyro.plate("data", 3):
            return pyro.sample("y", dist.Normal(0.0, 1.0), obs=data, obs_mask=keep)

    tr = poutine.trace(model).get_trace()
    y = tr.return_value
    assert y[0].item() == 1.0 and y[2].item() == 3.0 and y[1].item() != 2.0
    assert tr["y_observed"].kind == "observed" and tr["y_unobserved"].kind == "latent" and tr["y"].kind == "deterministic"
    # Each element is scored once: by the observed site where kept, by the latent site elsewhere.
    normal = torch.distributions.Normal(0.0, 1.0)
    assert torch.allclose(tr["y_observed"].log_prob, torch.where(keep, normal.log_prob(data), torch.tensor(0.0)))
    assert tr["y_unobserved"].log_prob[0].item() == 0.0 and tr["y_unobserved"].log_prob[1].item() != 0.0


def test_obs_mask_that_is_not_boolean_says_how_to_make_one():
    with pytest.raises(SiteTypeError, match=r"site 'y': obs_mask must be a boolean tensor.*~torch.isnan\(data\)"):
        pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.zeros(2), obs_mask=torch.ones(2))


def test_obs_mask_without_obs_says_to_pass_the_data():
    with pytest.raises(ObservationError, match=r"site 'y': obs_mask was given without obs"):
        pyro.sample("y", dist.Normal(0.0, 1.0), obs_mask=torch.ones(2, dtype=torch.bool))
