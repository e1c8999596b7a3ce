"""Pyro's modules tutorial ("Modules in Pyro"): PyroModule by mixin and by PyroModule[...], torch parameters as
param sites, PyroParam with a constraint, PyroSample priors, nested and sequential modules named by path."""

import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_size, out_size):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_size, out_size))
        self.bias = nn.Parameter(torch.randn(out_size))

    def forward(self, input_):
        return self.bias + input_ @ self.weight


def site_summary(trace):
    return [(site["type"], site["name"], tuple(site["value"].shape)) for site in trace.nodes.values()
            if site["type"] in ("param", "sample")]


def test_a_mixin_pyro_module_records_its_torch_parameters_as_params():
    import pyro.poutine as poutine
    from pyro.nn import PyroModule

    class PyroLinear(Linear, PyroModule):
        pass

    linear = PyroLinear(5, 2)
    with poutine.trace() as tr:
        linear(torch.randn(4, 5))
    assert site_summary(tr.trace) == [("param", "bias", (2,)), ("param", "weight", (5, 2))]


def test_pyro_param_and_pyro_sample_attributes():
    import pyro.distributions as dist
    import pyro.poutine as poutine
    from pyro.distributions import constraints
    from pyro.nn import PyroModule, PyroParam, PyroSample

    linear = PyroModule[Linear](5, 2)
    linear.bias = PyroParam(torch.ones(2), constraint=constraints.positive)
    linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([5, 2]).to_event(2))
    with poutine.trace() as tr:
        out = linear(torch.randn(4, 5))
    assert out.shape == (4, 2)
    assert site_summary(tr.trace) == [("param", "bias", (2,)), ("sample", "weight", (5, 2))]
    assert bool((tr.trace.nodes["bias"]["value"] > 0).all())


def test_sequential_children_are_named_by_their_path():
    import pyro
    import pyro.distributions as dist
    import pyro.poutine as poutine
    from pyro.nn import PyroModule

    class Model(PyroModule):
        def __init__(self):
            super().__init__()
            self.net = PyroModule[nn.Sequential](PyroModule[nn.Linear](3, 4), nn.Sigmoid(), PyroModule[nn.Linear](4, 1))

        def forward(self, x, y=None):
            loc = self.net(x).squeeze(-1)
            with pyro.plate("data", len(x)):
                return pyro.sample("obs", dist.Normal(loc, 1.0), obs=y)

    tr = poutine.trace(Model()).get_trace(torch.randn(6, 3))
    params = [name for name, site in tr.nodes.items() if site["type"] == "param"]
    assert params == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    assert set(pyro.get_param_store()) == set(params)
