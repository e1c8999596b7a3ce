"""Every construct of the seed tutorial runs with only its imports changed, and means what it says.

Tolerances are 5 standard errors of the estimate (SE written next to each assertion).
"""

import math

import torch
from torch.autograd import Variable

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine

from .seed_models import (
    geometric, geometric_modern, ice_cream_sales, ice_cream_sales_modern, make_normal_normal, weather,
    weather_modern,
)

N = 4000


def test_primitive_normal_draws_a_sample_of_the_parameters_shape():
    mu = Variable(torch.zeros(1))
    sigma = Variable(torch.ones(1))
    x = dist.normal(mu, sigma)
    assert isinstance(x, torch.Tensor) and x.shape == (1,)
    draws = torch.cat([dist.normal(mu, sigma) for _ in range(N)])
    # mean of N(0,1) draws: SE = 1/sqrt(N) = 0.0158 -> 5 SE = 0.079
    assert abs(draws.mean().item()) < 5 / math.sqrt(N)
    # sample variance: SE ~ sqrt(2/N) = 0.0224 -> 5 SE = 0.112
    assert abs(draws.var().item() - 1.0) < 5 * math.sqrt(2 / N)


def test_log_pdf_matches_the_closed_form():
    mu, sigma = Variable(torch.zeros(1)), Variable(torch.ones(1))
    x = torch.tensor([0.7])
    expected = -0.5 * 0.7**2 - 0.5 * math.log(2 * math.pi)
    assert abs(dist.normal.log_pdf(x, mu, sigma).item() - expected) < 1e-6
    xs = torch.tensor([0.1, -2.0])
    per_element = dist.normal.batch_log_pdf(xs, torch.zeros(2), torch.ones(2))
    assert per_element.shape == (2,)
    assert abs(dist.normal.log_pdf(xs, torch.zeros(2), torch.ones(2)).item() - per_element.sum().item()) < 1e-6
    assert abs(dist.bernoulli.log_pdf(torch.ones(1), torch.tensor([0.3])).item() - math.log(0.3)) < 1e-6


def test_parameters_may_be_numbers_lists_tensors_or_variables():
    for mu, sigma in [(0.0, 1.0), ([0.0], [1.0]), (torch.zeros(1), torch.ones(1)), (Variable(torch.zeros(1)), 1.0)]:
        x = dist.normal(mu, sigma)
        assert torch.isfinite(dist.normal.log_pdf(x, mu, sigma))
    assert dist.uniform(0.0, 2.0).item() < 2.0
    assert dist.categorical(torch.tensor([0.0, 1.0])).item() == 1
    assert dist.beta(2.0, 2.0).item() < 1.0
    assert dist.gamma(2.0, 1.0).item() > 0
    assert dist.exponential(1.0).item() > 0
    k = dist.poisson(3.0)
    assert k.item() >= 0 and k.item() == round(k.item())  # a count, as a float tensor
    assert dist.cauchy(0.0, 1.0).shape == ()
    assert dist.lognormal(0.0, 1.0).item() > 0
    assert abs(dist.dirichlet(torch.ones(3)).sum().item() - 1.0) < 1e-5
    assert dist.multinomial(10, torch.tensor([0.5, 0.5])).sum().item() == 10
    assert dist.delta(torch.tensor(3.0)).item() == 3.0


def test_every_primitive_scores_as_torch_does():
    cases = [
        (dist.bernoulli, (torch.tensor(0.3),), torch.tensor(1.0), torch.distributions.Bernoulli(torch.tensor(0.3))),
        (dist.normal, (1.0, 2.0), torch.tensor(0.5), torch.distributions.Normal(1.0, 2.0)),
        (dist.uniform, (0.0, 4.0), torch.tensor(1.0), torch.distributions.Uniform(0.0, 4.0)),
        (dist.beta, (2.0, 3.0), torch.tensor(0.4), torch.distributions.Beta(2.0, 3.0)),
        (dist.gamma, (2.0, 3.0), torch.tensor(0.4), torch.distributions.Gamma(2.0, 3.0)),
        (dist.exponential, (2.0,), torch.tensor(0.4), torch.distributions.Exponential(2.0)),
        (dist.poisson, (2.0,), torch.tensor(3.0), torch.distributions.Poisson(2.0)),
        (dist.cauchy, (0.0, 1.0), torch.tensor(3.0), torch.distributions.Cauchy(0.0, 1.0)),
        (dist.lognormal, (0.0, 1.0), torch.tensor(3.0), torch.distributions.LogNormal(0.0, 1.0)),
    ]
    for prim, params, x, reference in cases:
        assert torch.allclose(prim.log_pdf(x, *params), reference.log_prob(x)), prim


def test_sample_statement_returns_a_named_sample():
    mu, sigma = Variable(torch.zeros(1)), Variable(torch.ones(1))
    x = pyro.sample("my_sample", dist.normal, mu, sigma)
    assert x.shape == (1,)
    tr = poutine.trace(lambda: pyro.sample("my_sample", dist.normal, mu, sigma)).get_trace()
    assert list(tr.nodes) == ["my_sample", "_RETURN"]
    assert isinstance(tr["my_sample"]["fn"], torch.distributions.Normal)


def test_sample_from_an_arbitrary_stochastic_function_runs_it():
    def fn(a, b):
        return pyro.sample("inner", dist.normal, a, b)

    tr = poutine.trace(lambda: pyro.sample("my_sample", fn, 0.0, 1.0)).get_trace()
    assert "inner" in tr and tr.return_value is tr["inner"].value


def _weather_statistics(model):
    runs = [model() for _ in range(N)]
    cloudy_temps = [float(t) for c, t in runs if c == "cloudy"]
    sunny_temps = [float(t) for c, t in runs if c == "sunny"]
    frac = len(cloudy_temps) / N
    # P(cloudy) = 0.3: SE = sqrt(0.3*0.7/N) = 0.0072 -> 5 SE = 0.036
    assert abs(frac - 0.3) < 5 * math.sqrt(0.21 / N)
    # conditional means: SE = sd / sqrt(n_branch)
    assert abs(sum(cloudy_temps) / len(cloudy_temps) - 55.0) < 5 * 10.0 / math.sqrt(len(cloudy_temps))
    assert abs(sum(sunny_temps) / len(sunny_temps) - 75.0) < 5 * 15.0 / math.sqrt(len(sunny_temps))


def test_weather_is_cloudy_30_percent_with_branch_means_55_and_75():
    _weather_statistics(weather)


def test_weather_in_todays_pyro_style_means_the_same():
    _weather_statistics(weather_modern)


def _ice_cream_statistics(model):
    sales = torch.tensor([float(model()) for _ in range(N)])
    p_hot = 0.7 * (1 - 0.5 * (1 + math.erf((80 - 75) / (15 * math.sqrt(2)))))  # sunny and temp > 80
    mean = 50 + 150 * p_hot
    var = 10.0**2 + 150**2 * p_hot * (1 - p_hot)
    # SE of the mean = sqrt(var / N) ~ 1.05 -> 5 SE ~ 5.3
    assert abs(sales.mean().item() - mean) < 5 * math.sqrt(var / N)


def test_ice_cream_sales_composes_weather():
    _ice_cream_statistics(ice_cream_sales)
    _ice_cream_statistics(ice_cream_sales_modern)


def _geometric_statistics(model, p):
    counts = torch.tensor([float(model(p)) for _ in range(N)])
    # successes before the first failure: mean p/(1-p) = 1, variance p/(1-p)^2 = 2 for p = 0.5
    assert abs(counts.mean().item() - 1.0) < 5 * math.sqrt(2.0 / N)  # 5 SE = 0.11
    # P(count = 0) = 0.5: SE = sqrt(0.25/N) = 0.0079
    assert abs((counts == 0).float().mean().item() - 0.5) < 5 * math.sqrt(0.25 / N)


def test_geometric_recursion_ends_at_random_with_the_right_distribution():
    _geometric_statistics(geometric, Variable(torch.Tensor([0.5])))
    _geometric_statistics(geometric_modern, 0.5)


def test_geometric_names_its_sites_dynamically():
    pyro.set_rng_seed(1)
    lengths = set()
    for _ in range(50):
        tr = poutine.trace(geometric).get_trace(Variable(torch.Tensor([0.5])))
        names = [s.name for s in tr]
        assert names == ["x_{}".format(t) for t in range(len(names))]
        lengths.add(len(names))
    assert len(lengths) > 2  # different runs, different numbers of sites


def test_make_normal_normal_returns_a_stochastic_function():
    samples = torch.cat([make_normal_normal()(Variable(torch.ones(1))) for _ in range(N)])
    # y = z1*z2, z ~ N(mu, 1), mu ~ N(0, 1): E[y] = E[mu^2] = 1, Var[y] = E[2mu^2 + 1] + Var[mu^2] = 3 + 2 = 5
    assert abs(samples.mean().item() - 1.0) < 5 * math.sqrt(5.0 / N)  # 5 SE = 0.18
    tr = poutine.trace(lambda: make_normal_normal()(Variable(torch.ones(1)))).get_trace()
    assert [s.name for s in tr] == ["mu_latent", "z1", "z2"]


def test_todays_pyro_style_obs_and_item():
    def model(data):
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        with pyro.plate("flips", len(data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=data)
        return p.item()

    data = torch.tensor([1.0, 0.0, 1.0])
    tr = poutine.trace(model).get_trace(data)
    assert tr["obs"].is_observed and torch.equal(tr["obs"].value, data)
    assert tr["obs"].log_prob.shape == (3,)
    assert isinstance(tr.return_value, float)


def test_observe_is_the_old_spelling_of_obs():
    tr = poutine.trace(lambda: pyro.observe("y", dist.normal, torch.tensor([1.0]), torch.zeros(1), torch.ones(1))).get_trace()
    assert tr["y"].is_observed and tr["y"].value.item() == 1.0


def test_stochastic_functions_can_be_methods_and_modules():
    class Coin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = 0.5

        def forward(self):
            return pyro.sample("flip", dist.Bernoulli(self.p))

    tr = poutine.trace(Coin()).get_trace()
    assert "flip" in tr
    assert tr.root.name == "Coin"
