"""Conjugate models: the posteriors match their closed forms (normal-normal, Beta-Bernoulli)."""

import math

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, EmpiricalMarginal, Importance

from .models import (
    NORMAL_DATA, NORMAL_POST_MEAN, NORMAL_POST_VAR, POST_A, POST_B, beta_cdf, beta_mean_var, coin, normal_normal,
)
from .stats import batch_means_se, snis_se


def test_importance_normal_normal_mean_and_variance():
    marginal = EmpiricalMarginal(Importance(normal_normal, num_samples=6000).run())
    mean, var = marginal.mean.item(), marginal.variance.item()
    # se from the weighted samples themselves (delta method for self-normalized IS)
    assert abs(mean - NORMAL_POST_MEAN) < 5 * snis_se(marginal, lambda x: x.item())
    assert abs(var - NORMAL_POST_VAR) < 5 * snis_se(marginal, lambda x: (x.item() - NORMAL_POST_MEAN) ** 2)


def test_importance_with_a_guide_normal_normal():
    def guide():
        pyro.sample("x", dist.Normal(0.7, 0.8))

    posterior = Importance(normal_normal, guide=guide, num_samples=3000).run()
    marginal = EmpiricalMarginal(posterior)
    assert abs(marginal.mean.item() - NORMAL_POST_MEAN) < 5 * snis_se(marginal, lambda x: x.item())
    assert abs(marginal.variance.item() - NORMAL_POST_VAR) < 5 * snis_se(
        marginal, lambda x: (x.item() - NORMAL_POST_MEAN) ** 2)
    # A guide close to the posterior (N(0.8, 0.577)) keeps most of the samples' worth.
    assert posterior.get_ESS() > 0.5 * 3000
    # log p(data): y ~ N(0, 1 + 1) jointly with covariance [[2, 1], [1, 2]]
    y = NORMAL_DATA.tolist()
    det, quad = 3.0, (2 * y[0] ** 2 - 2 * y[0] * y[1] + 2 * y[1] ** 2) / 3.0
    log_z = -math.log(2 * math.pi) - 0.5 * math.log(det) - 0.5 * quad
    # relative se of the mean weight = sqrt(n / ESS - 1) / sqrt(n) (ESS from the weights)
    rel = math.sqrt(3000 / posterior.get_ESS() - 1) / math.sqrt(3000)
    assert abs(posterior.log_marginal_likelihood - log_z) < 5 * rel


def test_mh_normal_normal_mean_and_variance():
    posterior = MH(normal_normal, num_samples=4000, warmup=200).run()
    xs = EmpiricalMarginal(posterior).samples
    assert abs(xs.mean().item() - NORMAL_POST_MEAN) < 5 * batch_means_se(xs)
    squares = (xs - NORMAL_POST_MEAN) ** 2
    assert abs(squares.mean().item() - NORMAL_POST_VAR) < 5 * batch_means_se(squares)
    assert 0.0 < posterior.acceptance_rate < 1.0


def test_importance_beta_bernoulli_matches_the_beta_posterior():
    marginal = EmpiricalMarginal(Importance(coin, num_samples=3000).run())
    mean, var = beta_mean_var(POST_A, POST_B)
    assert abs(marginal.mean.item() - mean) < 5 * snis_se(marginal, lambda p: p.item())
    assert abs(marginal.variance.item() - var) < 5 * snis_se(marginal, lambda p: (p.item() - mean) ** 2)
    below = beta_cdf(0.5, POST_A, POST_B)
    estimate = marginal.probability(lambda p: p.item() < 0.5)
    assert abs(estimate - below) < 5 * snis_se(marginal, lambda p: p.item() < 0.5)


def test_mh_beta_bernoulli_matches_the_beta_posterior():
    posterior = MH(coin, num_samples=3000, warmup=200).run()
    ps = EmpiricalMarginal(posterior, sites="p").samples
    mean, var = beta_mean_var(POST_A, POST_B)
    assert abs(ps.mean().item() - mean) < 5 * batch_means_se(ps)
    assert abs(((ps - mean) ** 2).mean().item() - var) < 5 * batch_means_se((ps - mean) ** 2)
    below = (ps < 0.5).double()
    assert abs(below.mean().item() - beta_cdf(0.5, POST_A, POST_B)) < 5 * batch_means_se(below)


def test_beta_cdf_helper_is_right():
    # Beta(2, 2) has cdf 3x^2 - 2x^3; the midpoint rule's error is far below the tests' tolerances.
    assert abs(beta_cdf(0.3, 2.0, 2.0) - (3 * 0.09 - 2 * 0.027)) < 1e-6
    assert math.isclose(beta_cdf(1.0, 4.0, 3.0), 1.0, abs_tol=1e-6)
