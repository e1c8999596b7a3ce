"""poutine.enum, poutine.markov and config_enumerate: where enumerated values go, and which dims are reused."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.errors import EnumerationError
from ppl_kernel.infer import config_enumerate


def enumerated_trace(model, first_available_dim, *args):
    return poutine.trace(poutine.enum(model, first_available_dim=first_available_dim)).get_trace(*args)


def test_each_enumerated_site_takes_the_next_dim_to_the_left():
    def model():
        pyro.sample("a", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        pyro.sample("b", dist.Categorical(torch.ones(3)), infer={"enumerate": "parallel"})

    tr = enumerated_trace(model, -2)
    assert tr["a"].value.shape == (2, 1) and tr["b"].value.shape == (3, 1, 1)
    assert (tr["a"].infer["_enumerate_dim"], tr["b"].infer["_enumerate_dim"]) == (-2, -3)


def test_a_site_may_ask_for_its_dim():
    def model():
        pyro.sample("a", dist.Bernoulli(0.5), infer={"enumerate": "parallel", "dim": -4})

    assert enumerated_trace(model, -1)["a"].value.shape == (2, 1, 1, 1)


def test_asking_for_a_dim_another_site_holds_is_an_error_naming_both():
    def model():
        pyro.sample("a", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        pyro.sample("b", dist.Bernoulli(0.5), infer={"enumerate": "parallel", "dim": -1})

    with pytest.raises(EnumerationError, match="site 'b'.*dim -1.*site 'a' holds it"):
        enumerated_trace(model, -1)


def test_each_run_starts_with_every_dim_free():
    def model():
        return pyro.sample("a", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})

    enumerated = poutine.enum(model, first_available_dim=-1)
    assert enumerated().shape == enumerated().shape == (2,)


def test_markov_frees_the_dims_of_steps_past_its_history():
    def chain(history):
        shapes = []
        x = torch.tensor(0)
        for t in pyro.markov(range(5), history=history):
            x = pyro.sample(f"x_{t}", dist.Categorical(torch.tensor([[0.9, 0.1], [0.2, 0.8]])[x]),
                            infer={"enumerate": "parallel"})
            shapes.append(x.dim())
        return shapes

    assert poutine.enum(chain, first_available_dim=-1)(1) == [1, 2, 1, 2, 1]
    assert poutine.enum(chain, first_available_dim=-1)(2) == [1, 2, 3, 1, 2]


def test_sites_outside_a_markov_loop_keep_their_dim():
    def model():
        g = pyro.sample("g", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        dims = []
        for t in pyro.markov(range(3)):
            x = pyro.sample(f"x_{t}", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
            dims.append(x.dim())
        return g.dim(), dims

    assert poutine.enum(model, first_available_dim=-1)() == (1, [2, 3, 2])


def test_config_enumerate_marks_discrete_latent_sites_only_and_a_sites_own_choice_wins():
    @config_enumerate(default="sequential")
    def model():
        pyro.sample("coin", dist.Bernoulli(0.5))
        pyro.sample("die", dist.Categorical(torch.ones(6)), infer={"enumerate": "parallel"})
        pyro.sample("height", dist.Normal(0.0, 1.0))
        pyro.sample("seen", dist.Bernoulli(0.5), obs=torch.tensor(1.0))

    tr = poutine.trace(model).get_trace()
    assert [tr[n].infer.get("enumerate") for n in ("coin", "die", "height", "seen")] == \
        ["sequential", "parallel", None, None]


def test_config_enumerate_rejects_an_unknown_strategy():
    with pytest.raises(ValueError, match="'parallel' or 'sequential'"):
        config_enumerate(lambda: None, default="everything")
