"""``poutine.reparam`` with ``LocScaleReparam``: what the decentered site is, and the errors that say how to use it."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer.reparam import LocScaleReparam


def hierarchical():
    scale = pyro.sample("scale", dist.HalfNormal(1.0))
    with pyro.plate("groups", 3):
        return pyro.sample("theta", dist.Normal(torch.tensor([1.0, 2.0, 3.0]), scale))


def test_decentered_site_is_standard_normal_and_the_original_is_deterministic():
    tr = poutine.trace(poutine.reparam(hierarchical, config={"theta": LocScaleReparam(0.0)})).get_trace()
    noise = tr["theta_decentered"]
    assert noise.kind == "latent" and noise.fn.batch_shape == (3,)
    assert torch.equal(noise.fn.mean, torch.zeros(3)) and torch.equal(noise.fn.stddev, torch.ones(3))
    assert tr["theta"].kind == "deterministic"
    expected = torch.tensor([1.0, 2.0, 3.0]) + tr["scale"].value * noise.value
    assert torch.allclose(tr["theta"].value, expected)
    # The joint density is counted once: at the noise, not again at theta.
    assert torch.allclose(tr.log_prob_sum(), tr["scale"].log_prob_sum() + noise.log_prob_sum())


def test_partial_centering_keeps_the_same_distribution_of_the_original_site():
    pyro.set_rng_seed(0)
    model = poutine.reparam(lambda: pyro.sample("x", dist.Normal(2.0, 3.0).expand([20000])),
                            config={"x": LocScaleReparam(0.3)})
    x = model()
    # 20000 draws of Normal(2, 3): mean SE 3/sqrt(20000) = 0.021, sd SE about 3/sqrt(40000) = 0.015; 5 SE.
    assert abs(x.mean().item() - 2.0) < 5 * 0.021 and abs(x.std().item() - 3.0) < 5 * 0.015


def test_centered_one_leaves_the_site_unchanged():
    tr = poutine.trace(poutine.reparam(hierarchical, config={"theta": LocScaleReparam(1.0)})).get_trace()
    assert "theta_decentered" not in tr and tr["theta"].kind == "latent"


def test_learned_centering_is_a_parameter_in_the_unit_interval():
    pyro.clear_param_store()
    poutine.reparam(hierarchical, config=lambda msg: LocScaleReparam() if msg["name"] == "theta" else None)()
    centered = pyro.param("theta_centered")
    assert centered.shape == (3,) and torch.equal(centered, torch.full((3,), 0.5))


def test_reparam_of_an_observed_site_says_to_leave_it_out():
    def model():
        pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(0.5))

    with pytest.raises(NotImplementedError, match=r"site 'y'.*latent sites only; leave observed sites out"):
        poutine.reparam(model, config={"y": LocScaleReparam(0.0)})()


def test_reparam_without_config_says_what_to_give():
    with pytest.raises(TypeError, match=r"config=\{'x': LocScaleReparam\(0.0\)\}"):
        poutine.reparam(hierarchical)


def test_centered_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match=r"centered must lie in \[0, 1\]"):
        LocScaleReparam(1.5)


def test_a_family_without_loc_and_scale_is_named():
    model = lambda: pyro.sample("g", dist.Gamma(2.0, 1.0))  # noqa: E731
    with pytest.raises(TypeError, match=r"site 'g': Gamma has no loc and scale"):
        poutine.reparam(model, config={"g": LocScaleReparam(0.0)})()
