"""PyroModule, PyroSample, PyroParam with Pyro's semantics: full names, one draw per call, the parameter
store holding the module's own tensors (so SVI trains the module)."""

import torch
from torch import nn
from torch.distributions import constraints

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import MCMC, NUTS, SVI, Trace_ELBO
from ppl_kernel.infer.autoguide import AutoNormal
from ppl_kernel.infer.mcmc.diagnostics import effective_sample_size
from ppl_kernel.nn import PyroModule, PyroParam, PyroSample, pyro_method


class BayesianRegression(PyroModule):
    def __init__(self, in_features):
        super().__init__()
        self.linear = PyroModule[nn.Linear](in_features, 1)
        self.linear.weight = PyroSample(dist.Normal(0.0, 10.0).expand([1, in_features]).to_event(2))
        self.linear.bias = PyroSample(dist.Normal(0.0, 10.0).expand([1]).to_event(1))

    def forward(self, x, y=None):
        sigma = pyro.sample("sigma", dist.Uniform(0.0, 10.0))
        mean = self.linear(x).squeeze(-1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("obs", dist.Normal(mean, sigma), obs=y)
        return mean


def sample_names(trace):
    return [s.name for s in trace if s.type == "sample"]


def test_pyro_module_of_a_torch_class_is_cached_and_named():
    assert PyroModule[nn.Linear] is PyroModule[nn.Linear]
    assert PyroModule[nn.Linear].__name__ == "PyroLinear"
    assert issubclass(PyroModule[nn.Linear], nn.Linear)


def test_pyro_sample_attributes_are_sites_with_full_names():
    tr = poutine.trace(BayesianRegression(2)).get_trace(torch.randn(5, 2))
    assert sample_names(tr) == ["sigma", "linear.weight", "linear.bias", "obs"]


def test_an_attribute_read_twice_in_one_call_is_one_draw():
    class Twice(PyroModule):
        def __init__(self):
            super().__init__()
            self.z = PyroSample(dist.Normal(0.0, 1.0))

        def forward(self):
            return self.z, self.z

    a, b = Twice()()
    assert a is b


def test_each_call_draws_afresh():
    class One(PyroModule):
        def __init__(self):
            super().__init__()
            self.z = PyroSample(dist.Normal(0.0, 1.0))

        def forward(self):
            return self.z

    module = One()
    assert module().item() != module().item()


def test_pyro_sample_prior_may_depend_on_the_module():
    class Shifted(PyroModule):
        def __init__(self):
            super().__init__()
            self.loc = 100.0
            self.z = PyroSample(lambda self: dist.Normal(self.loc, 0.001))

        def forward(self):
            return self.z

    assert abs(Shifted()().item() - 100.0) < 0.01


def test_pyro_param_is_constrained_and_stored_under_its_full_name():
    class Scaled(PyroModule):
        def __init__(self):
            super().__init__()
            self.scale = PyroParam(torch.tensor(2.0), constraints.positive)

        def forward(self):
            return self.scale

    module = Scaled()
    assert module().item() == 2.0
    store = pyro.get_param_store()
    assert "scale" in store
    assert store.get_unconstrained("scale") is module.scale_unconstrained


def test_torch_parameters_are_the_stores_own_tensors():
    class Net(PyroModule):
        def __init__(self):
            super().__init__()
            self.linear = PyroModule[nn.Linear](2, 1)

        def forward(self, x):
            return self.linear(x)

    net = Net()
    net(torch.ones(1, 2))
    assert pyro.get_param_store().get_unconstrained("linear.weight") is net.linear._parameters["weight"]


def test_svi_trains_the_modules_parameters():
    class Net(PyroModule):
        def __init__(self):
            super().__init__()
            self.linear = PyroModule[nn.Linear](1, 1)

        def forward(self, x, y):
            with pyro.plate("data", len(y)):
                pyro.sample("y", dist.Normal(self.linear(x).squeeze(-1), 0.1), obs=y)

    net = Net()
    before = net.linear._parameters["weight"].detach().clone()
    svi = SVI(net, lambda x, y: None, pyro.optim.Adam({"lr": 0.05}), Trace_ELBO())
    x = torch.linspace(-1, 1, 20)[:, None]
    for _ in range(5):
        svi.step(x, 3.0 * x.squeeze(-1))
    assert not torch.equal(net.linear._parameters["weight"].detach(), before)


def test_pyro_method_caches_draws_within_the_method():
    class WithMethod(PyroModule):
        def __init__(self):
            super().__init__()
            self.z = PyroSample(dist.Normal(0.0, 1.0))

        @pyro_method
        def pair(self):
            return self.z, self.z

    a, b = WithMethod().pair()
    assert a is b


def test_autonormal_guides_the_modules_sites_by_full_name():
    x = torch.randn(30, 2)
    y = x @ torch.tensor([1.0, -2.0]) + 0.5 + 0.1 * torch.randn(30)
    model = BayesianRegression(2)
    guide = AutoNormal(model)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.03}), Trace_ELBO())
    for _ in range(3):
        svi.step(x, y)
    # The guide found the module's sample sites by their full names.
    store = pyro.get_param_store()
    assert store["AutoNormal.locs.linear.weight"].shape == (1, 2)
    assert {n for n in store if n.startswith("AutoNormal.locs.")} == {
        "AutoNormal.locs.sigma", "AutoNormal.locs.linear.weight", "AutoNormal.locs.linear.bias"}


def test_bayesian_regression_through_nuts_matches_least_squares():
    torch.manual_seed(0)
    x = torch.randn(40, 2)
    y = x @ torch.tensor([1.0, -2.0]) + 0.5 + 0.3 * torch.randn(40)
    mcmc = MCMC(NUTS(BayesianRegression(2)), num_samples=300, warmup_steps=200)
    mcmc.run(x, y)
    draws = mcmc.get_samples()
    design = torch.cat([x, torch.ones(40, 1)], 1)
    ls = torch.linalg.lstsq(design, y[:, None]).solution.squeeze()
    coefficients = torch.cat([draws["linear.weight"].reshape(-1, 2), draws["linear.bias"].reshape(-1, 1)], 1)
    # Priors N(0, 10) are flat next to the data: the posterior mean is the least-squares fit, up to a shift of
    # order prior precision / data precision (1e-2 / 440, negligible). Each coefficient's mean is within 5
    # standard errors, sd / sqrt(ESS), with the chain's own ESS.
    ess = effective_sample_size(coefficients.unsqueeze(0))
    se = coefficients.std(0) / ess.sqrt()
    assert bool(((coefficients.mean(0) - ls).abs() < 5 * se).all())
