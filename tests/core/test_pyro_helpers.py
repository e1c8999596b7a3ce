"""Pyro's small helpers that tutorials use: ``plate_stack``, ``validation_enabled``, ``poutine.lift`` and the
``pyro.distributions.constraints`` module path."""

import importlib

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.errors import InvalidParameterError


def test_plate_stack_makes_one_plate_per_size_right_to_left():
    with poutine.trace() as tracer:
        with pyro.plate_stack("batch", (4, 2, 3), rightmost_dim=-2):
            pyro.sample("x", dist.Normal(0.0, 1.0))
    site = tracer.trace["x"]
    assert site.value.shape == (4, 2, 3, 1)
    assert sorted((f.name, f.dim, f.size) for f in site.cond_indep_stack) == [
        ("batch_0", -2, 3), ("batch_1", -3, 2), ("batch_2", -4, 4)]


def test_validation_enabled_switches_checks_for_the_block_only():
    def score():
        return poutine.trace(lambda: pyro.sample("s", dist.Beta(2.0, 2.0), obs=torch.tensor(1.5))).get_trace().log_prob_sum()

    with pyro.validation_enabled(False):
        with pyro.validation_enabled(False):
            pass
        assert torch.isnan(score())  # unchecked, even after the nested block ended
    with pytest.raises(InvalidParameterError, match="site 's'"):
        score()


def test_lift_turns_a_param_into_a_latent_site_drawn_once_per_run():
    pyro.clear_param_store()

    def model():
        a = pyro.param("w", torch.tensor(0.0))
        b = pyro.param("w")
        return a, b, pyro.param("kept", torch.tensor(7.0))

    tr = poutine.trace(poutine.lift(model, prior={"w": dist.Normal(0.0, 1.0)})).get_trace()
    a, b, kept = tr.return_value
    assert tr["w"].kind == "latent" and torch.equal(a, b)
    assert tr["kept"].type == "param" and kept.item() == 7.0
    assert "w" not in pyro.get_param_store()  # lifted: never created in the store


def test_lift_with_one_prior_lifts_every_param():
    def model():
        return pyro.param("u", torch.tensor(0.0)), pyro.param("v", torch.tensor(0.0))

    tr = poutine.trace(poutine.lift(model, prior=dist.Uniform(2.0, 3.0))).get_trace()
    assert all(2.0 <= tr[name].value.item() <= 3.0 and tr[name].kind == "latent" for name in ("u", "v"))


def test_lift_without_a_prior_distribution_says_what_to_give():
    with pytest.raises(TypeError, match=r"poutine.lift needs prior=.*got function"):
        poutine.lift(lambda: None, prior=lambda: None)


def test_constraints_import_by_module_path_and_are_torchs_objects():
    module = importlib.import_module("ppl_kernel.distributions.constraints")
    assert module.positive is torch.distributions.constraints.positive and dist.constraints is module
