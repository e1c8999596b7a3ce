"""AutoLowRankMultivariateNormal, AutoGuideList and AutoLaplaceApproximation on a model whose posterior is
known exactly: x ~ Normal(1, 2), y ~ Normal(x, 2), both latent, so the posterior is the prior, a Gaussian
with mean (1, 1) and covariance [[4, 4], [4, 8]] (correlation 0.71)."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.errors import GuideError
from ppl_kernel.infer import SVI, Trace_ELBO
from ppl_kernel.infer.autoguide import (
    AutoDelta, AutoGuideList, AutoLaplaceApproximation, AutoLowRankMultivariateNormal, AutoNormal,
)
from ppl_kernel.optim import Adam

COV = torch.tensor([[4.0, 4.0], [4.0, 8.0]])


def chain():
    x = pyro.sample("x", dist.Normal(1.0, 2.0))
    pyro.sample("y", dist.Normal(x, 2.0))


def fit(model, guide, steps, lr):
    svi = SVI(model, guide, Adam({"lr": lr}), Trace_ELBO())
    for _ in range(steps):
        svi.step()


@pytest.fixture(autouse=True)
def fresh_store():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)


def test_laplace_approximation_is_exact_for_a_gaussian_posterior():
    guide = AutoLaplaceApproximation(chain)
    fit(chain, guide, steps=500, lr=0.1)  # a Delta guide: deterministic steps to the mode
    gaussian = guide.laplace_approximation()
    median = gaussian.median()
    assert median["x"].item() == pytest.approx(1.0, abs=1e-3) and median["y"].item() == pytest.approx(1.0, abs=1e-3)
    scale_tril = pyro.param("AutoMultivariateNormal.scale_tril").detach()
    assert torch.allclose(scale_tril @ scale_tril.T, COV, atol=1e-3)


def test_laplace_approximation_at_a_minimum_of_the_density_says_to_train_longer():
    def bowl():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("push", 3.0 * x**2)  # -log p = x^2 / 2 - 3 x^2: curving down at its stationary point 0

    guide = AutoLaplaceApproximation(bowl, init_loc_fn=lambda site: torch.tensor(0.0))
    with pytest.raises(GuideError, match=r"not positive definite.*Train the guide longer"):
        guide.laplace_approximation()


def test_low_rank_guide_learns_the_strong_correlation():
    guide = AutoLowRankMultivariateNormal(chain, rank=1)
    fit(chain, guide, steps=1500, lr=0.03)
    store = pyro.get_param_store()
    scale, factor = store["AutoLowRankMultivariateNormal.scale"], store["AutoLowRankMultivariateNormal.cov_factor"]
    cov = (factor * scale.unsqueeze(-1)) @ (factor * scale.unsqueeze(-1)).T + torch.diag(scale**2)
    correlation = (cov[0, 1] / (cov[0, 0] * cov[1, 1]).sqrt()).item()
    # A mean-field guide has correlation 0; the exact posterior's is 4 / sqrt(4 * 8) = 0.707.
    assert correlation > 0.6, correlation


def test_low_rank_rank_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="rank must be a positive integer, got 0"):
        AutoLowRankMultivariateNormal(chain, rank=0)


def test_guide_list_trains_each_part_on_its_own_sites():
    def model():
        a = pyro.sample("a", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(a, 1.0), obs=torch.tensor(2.0))
        pyro.sample("b", dist.Normal(3.0, 1.0))

    guide = AutoGuideList(model)
    guide.append(AutoDelta(poutine.block(model, expose=["a"])))
    guide.append(AutoNormal(poutine.block(model, hide=["a"])))
    fit(model, guide, steps=400, lr=0.05)
    median = guide.median()
    assert median["a"].item() == pytest.approx(1.0, abs=0.05)  # the MAP of a: the posterior mode 2 / 2
    assert median["b"].item() == pytest.approx(3.0, abs=0.3)  # b's posterior is its prior Normal(3, 1)


def test_guide_list_without_parts_says_how_to_add_one():
    with pytest.raises(ValueError, match=r"has no guides yet: append one per group of sites"):
        AutoGuideList(chain)()
