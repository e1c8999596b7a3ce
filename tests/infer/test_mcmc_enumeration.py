"""MCMC on a model with enumerated discrete sites: HMC/NUTS move the continuous sites of the model with the
discrete ones summed out exactly."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.errors import DiscreteLatentError
from ppl_kernel.infer import MCMC, NUTS, config_enumerate
from ppl_kernel.infer.mcmc.model_density import ModelDensity

DATA = torch.tensor([-1.0, -0.5, 2.0, 2.5, 3.0])


@config_enumerate
def mixture(data):
    loc = pyro.sample("loc", dist.Normal(0.0, 5.0))
    with pyro.plate("data", len(data)):
        z = pyro.sample("z", dist.Bernoulli(0.3))
        pyro.sample("obs", dist.Normal(z * loc, 1.0), obs=data)


def test_the_potential_is_minus_the_log_density_with_the_discrete_site_summed_out():
    density = ModelDensity(mixture, (DATA,))
    assert density.sites == ["loc"]  # z is summed out, not moved
    loc = torch.tensor(2.2)
    components = dist.Normal(torch.stack([torch.zeros(()), loc]), 1.0)
    mixture_lp = dist.MixtureSameFamily(dist.Categorical(torch.tensor([0.7, 0.3])), components).log_prob(DATA)
    exact = dist.Normal(0.0, 5.0).log_prob(loc) + mixture_lp.sum()
    assert density.potential(density.pack({"loc": loc})).item() == pytest.approx(-exact.item(), rel=1e-6)


def test_nuts_posterior_mean_of_the_continuous_site_matches_quadrature():
    pyro.set_rng_seed(0)
    mcmc = MCMC(NUTS(mixture), num_samples=200, warmup_steps=100)
    mcmc.run(DATA)
    draws = mcmc.get_samples()["loc"]
    grid = torch.linspace(-10.0, 10.0, 4001)
    density = ModelDensity(mixture, (DATA,))
    log_post = torch.stack([-density.potential(density.pack({"loc": g})) for g in grid])
    weights = (log_post - log_post.max()).exp()
    mean = (weights * grid).sum() / weights.sum()
    sd = ((weights * (grid - mean) ** 2).sum() / weights.sum()).sqrt()
    ess = mcmc.diagnostics()["loc"]["n_eff"]
    # the chain mean is within 5 standard errors (posterior sd / sqrt(effective sample size)) of the exact mean
    assert abs(draws.mean() - mean) < 5 * sd / torch.as_tensor(ess).float().sqrt()


def test_a_discrete_site_not_marked_for_enumeration_is_an_error_saying_how_to_mark_it():
    def model():
        pyro.sample("z", dist.Bernoulli(0.3))

    with pytest.raises(DiscreteLatentError, match="site 'z'.*config_enumerate"):
        ModelDensity(model)
