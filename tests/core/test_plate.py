"""plate: vectorized and sequential conditional independence, as in Pyro."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine


def test_vectorized_plate_broadcasts_and_marks_sites():
    def model():
        with pyro.plate("data", 5) as idx:
            x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return idx, x

    tr = poutine.trace(model).get_trace()
    idx, x = tr.return_value
    assert idx.tolist() == [0, 1, 2, 3, 4] and x.shape == (5,)
    (frame,) = tr["x"].cond_indep_stack
    assert (frame.name, frame.dim, frame.size) == ("data", -1, 5)
    assert tr["x"].log_prob.shape == (5,)


def test_nested_plates_take_dims_from_the_right():
    def model():
        with pyro.plate("rows", 3):
            with pyro.plate("cols", 4):
                return pyro.sample("x", dist.Normal(0.0, 1.0))

    tr = poutine.trace(model).get_trace()
    assert tr["x"].value.shape == (4, 3)
    assert [(f.name, f.dim) for f in tr["x"].cond_indep_stack] == [("rows", -1), ("cols", -2)]  # outermost first, as in Pyro


def test_explicit_dims_are_honoured():
    def model():
        with pyro.plate("rows", 3, dim=-2):
            with pyro.plate("cols", 4, dim=-1):
                return pyro.sample("x", dist.Normal(0.0, 1.0))

    assert model().shape == (3, 4)


def test_subsampling_scales_the_log_prob():
    data = torch.arange(10.0)

    def model():
        with pyro.plate("data", 10, subsample_size=2) as idx:
            pyro.sample("obs", dist.Normal(0.0, 1.0), obs=data[idx])
        return idx

    tr = poutine.trace(model).get_trace()
    idx = tr.return_value
    expected = 5.0 * dist.Normal(0.0, 1.0).log_prob(data[idx])
    assert torch.allclose(tr["obs"].log_prob, expected)


def test_sequential_plate_iterates_and_marks_each_site():
    def model():
        for i in pyro.plate("loop", 3):
            pyro.sample(f"x_{i}", dist.Normal(0.0, 1.0))

    tr = poutine.trace(model).get_trace()
    assert [s.name for s in tr] == ["x_0", "x_1", "x_2"]
    assert [s.cond_indep_stack[0].counter for s in tr] == [0, 1, 2]
    assert all(s.cond_indep_stack[0].dim is None for s in tr)


def test_a_batch_shape_that_does_not_fit_the_plate_is_explained():
    def model():
        with pyro.plate("data", 3):
            pyro.sample("x", dist.Normal(torch.zeros(2), 1.0))

    with pytest.raises(ValueError, match=r"site 'x' inside plate 'data' \(size 3, dim -1\)"):
        model()


def test_plate_observations_of_the_plate_size():
    data = torch.tensor([1.0, 0.0, 1.0, 1.0])

    def model():
        p = pyro.sample("p", dist.Beta(1.0, 1.0))
        with pyro.plate("flips", len(data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=data)

    tr = poutine.trace(model).get_trace()
    p = tr["p"].value
    assert torch.allclose(tr["obs"].log_prob_sum(), 3 * p.log() + (1 - p).log())
