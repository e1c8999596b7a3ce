"""Pyro's tensor shapes tutorial: plates put batch dims on the right, parallel enumeration puts enumerated
values in dims to the left of them (``max_plate_nesting``), ``format_shapes`` shows both, and models written
with broadcasting and ``...`` indexing run either way."""

import math

import pytest
import torch


def enumerated_model():
    import pyro
    from pyro.distributions import Bernoulli, Categorical, Normal
    from pyro.infer import config_enumerate

    @config_enumerate
    def model():
        p = pyro.param("p", torch.arange(6.0) / 6)
        locs = pyro.param("locs", torch.tensor([-1.0, 1.0]))
        a = pyro.sample("a", Categorical(torch.ones(6) / 6))
        b = pyro.sample("b", Bernoulli(p[a]))  # depends on a
        with pyro.plate("rows", 4):
            c = pyro.sample("c", Bernoulli(0.3))
            with pyro.plate("cols", 5):
                d = pyro.sample("d", Bernoulli(0.4))
                e = pyro.sample("e", Normal(locs[d.long()].unsqueeze(-1), torch.arange(1.0, 8.0)).to_event(1))
        return a, b, c, d, e

    return model


def test_enumerated_values_sit_left_of_the_plate_dims():
    import pyro.poutine as poutine

    a, b, c, d, e = poutine.enum(enumerated_model(), first_available_dim=-3)()
    # enumerated dims | 2 plate dims | event dims
    assert a.shape == (6, 1, 1)
    assert b.shape == (2, 1, 1, 1)
    assert c.shape == (2, 1, 1, 1, 1)
    assert d.shape == (2, 1, 1, 1, 1, 1)
    assert e.shape == (2, 1, 1, 1, 5, 4, 7)  # drawn, not enumerated: the plates' sizes, and its event


def test_format_shapes_of_an_enumerated_trace_shows_each_dim():
    import pyro.poutine as poutine

    tr = poutine.trace(poutine.enum(enumerated_model(), first_available_dim=-3)).get_trace()
    tr.compute_log_prob()
    lines = tr.format_shapes().splitlines()
    assert "       e dist 2 1 1 1 5 4 | 7" in lines
    assert "     log_prob 2 1 1 1 5 4 |" in lines


def test_trace_enum_elbo_sums_out_every_enumerated_site():
    import pyro
    from pyro.infer import TraceEnum_ELBO

    pyro.clear_param_store()
    model = enumerated_model()
    loss = TraceEnum_ELBO(max_plate_nesting=2).loss(model, model)
    assert math.isfinite(loss)


def pixel_model(width=8, height=10):
    import pyro
    from pyro.distributions import Bernoulli
    from pyro.distributions.util import broadcast_shape
    from torch.distributions import constraints

    lit = torch.tensor([[3, 2], [3, 5], [3, 9], [7, 1]])

    def run(observe):
        p_x = pyro.param("p_x", torch.tensor(0.1), constraint=constraints.unit_interval)
        p_y = pyro.param("p_y", torch.tensor(0.1), constraint=constraints.unit_interval)
        x_axis, y_axis = pyro.plate("x_axis", width, dim=-2), pyro.plate("y_axis", height, dim=-1)
        with x_axis:
            x_on = pyro.sample("x_on", Bernoulli(p_x))
        with y_axis:
            y_on = pyro.sample("y_on", Bernoulli(p_y))
        p = 0.1 + 0.5 * x_on * y_on  # broadcasting works with and without enumeration
        pixels = p.new_zeros(broadcast_shape(p.shape, (width, height)))
        for x, y in lit:
            pixels[..., x, y] = 1  # ... leaves room for enumeration dims on the left
        if observe:
            with x_axis, y_axis:
                pyro.sample("pixels", Bernoulli(p), obs=pixels)
        return pixels.shape

    return run


@pytest.mark.parametrize("enumerated", [False, True])
def test_broadcasting_and_ellipsis_indexing_run_with_and_without_enumeration(enumerated):
    import pyro
    from pyro.infer import Trace_ELBO, TraceEnum_ELBO, config_enumerate

    run = pixel_model()
    guide = (lambda: run(False))
    if enumerated:
        guide = config_enumerate(guide, "parallel")
    pyro.clear_param_store()
    elbo = TraceEnum_ELBO(max_plate_nesting=2) if enumerated else Trace_ELBO()
    assert math.isfinite(elbo.loss(lambda: run(True), guide))
