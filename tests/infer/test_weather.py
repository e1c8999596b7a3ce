"""The weather question: if the temperature is 70 degrees, how likely is it to be cloudy?

The seed tutorial's weather model, conditioned on temp = 70, under each algorithm. The exact
answer is 0.3 N(70; 55, 10) / (0.3 N(70; 55, 10) + 0.7 N(70; 75, 15)).
"""

import math

import ppl_kernel as pyro
from ppl_kernel.infer import MH, EmpiricalMarginal, Enumerate, Importance, Marginal, Rejection, Search

from .models import (
    CLOUDY_LIKELIHOOD, EVIDENCE_AT_70, P_CLOUDY_AT_70, SUNNY_LIKELIHOOD, is_cloudy, weather_at_70,
)
from .stats import two_state_chain_se


def test_enumerate_answers_exactly():
    posterior = Enumerate(weather_at_70).run()
    marginal = EmpiricalMarginal(posterior)
    assert len(posterior.traces) == 2
    # float32 log-densities limit the agreement to ~1e-7; the issue asks for 1e-6
    assert abs(marginal.probability(is_cloudy) - P_CLOUDY_AT_70) < 1e-6
    assert abs(posterior.log_marginal_likelihood - math.log(EVIDENCE_AT_70)) < 1e-6


def test_enumerate_marginal_of_the_cloudy_site_is_exact():
    cloudy = EmpiricalMarginal(Enumerate(weather_at_70).run(), sites="cloudy")
    assert abs(cloudy.mean.item() - P_CLOUDY_AT_70) < 1e-6
    assert abs(cloudy.variance.item() - P_CLOUDY_AT_70 * (1 - P_CLOUDY_AT_70)) < 1e-6
    assert abs(cloudy.log_prob([1.0]).exp().item() - P_CLOUDY_AT_70) < 1e-6


def test_search_is_enumerate():
    assert Search is Enumerate
    marginal = EmpiricalMarginal(Search(weather_at_70).run())
    assert abs(marginal.probability(is_cloudy) - P_CLOUDY_AT_70) < 1e-6


def test_importance_agrees_within_its_error():
    n = 5000
    posterior = Importance(weather_at_70, num_samples=n).run()
    estimate = EmpiricalMarginal(posterior).probability(is_cloudy)
    # Self-normalized IS from the prior: the delta-method variance is
    # E_prior[w^2 (f - p)^2] / Z^2 / n with w the likelihood of temp = 70 and f the cloudy indicator:
    # se = sqrt(0.104 / 5000) = 0.0046 -> 5 se = 0.023.
    p = P_CLOUDY_AT_70
    second = 0.3 * CLOUDY_LIKELIHOOD**2 * (1 - p) ** 2 + 0.7 * SUNNY_LIKELIHOOD**2 * p**2
    se = math.sqrt(second / EVIDENCE_AT_70**2 / n)
    assert abs(estimate - p) < 5 * se
    # log Z estimate: relative se of mean(w) is sqrt(E[w^2] / Z^2 - 1) / sqrt(n) = 0.0053 -> 5 se in log space
    rel = math.sqrt((0.3 * CLOUDY_LIKELIHOOD**2 + 0.7 * SUNNY_LIKELIHOOD**2) / EVIDENCE_AT_70**2 - 1) / math.sqrt(n)
    assert abs(posterior.log_marginal_likelihood - math.log(EVIDENCE_AT_70)) < 5 * rel


def test_mh_agrees_within_its_error():
    n = 4000
    posterior = MH(weather_at_70, num_samples=n, warmup=200).run()
    estimate = EmpiricalMarginal(posterior).probability(is_cloudy)
    # The chain on 'cloudy' is a two-state chain: from sunny it proposes cloudy with prior
    # probability 0.3 and accepts with min(1, L_cloudy / L_sunny); from cloudy it proposes sunny with
    # 0.7 and always accepts. se = 0.0076 for 4000 steps -> 5 se = 0.038.
    a = 0.3 * min(1.0, CLOUDY_LIKELIHOOD / SUNNY_LIKELIHOOD)
    b = 0.7 * min(1.0, SUNNY_LIKELIHOOD / CLOUDY_LIKELIHOOD)
    assert abs(a / (a + b) - P_CLOUDY_AT_70) < 1e-12  # the chain's stationary law is the posterior
    se = two_state_chain_se(P_CLOUDY_AT_70, a, b, n)
    assert abs(estimate - P_CLOUDY_AT_70) < 5 * se
    # Acceptance probability per state: from sunny 0.3 r + 0.7 (proposing sunny again is always
    # accepted), r = L_cloudy / L_sunny; from cloudy 1. The rate's variance is the Bernoulli noise
    # E[g (1 - g)] / n plus (g_sunny - g_cloudy)^2 times the variance of the time spent sunny.
    g_sunny, g_cloudy = 0.3 * min(1.0, CLOUDY_LIKELIHOOD / SUNNY_LIKELIHOOD) + 0.7, 1.0
    p = P_CLOUDY_AT_70
    expected_rate = (1 - p) * g_sunny + p * g_cloudy
    rate_se = math.sqrt((1 - p) * g_sunny * (1 - g_sunny) / n + (g_sunny - g_cloudy) ** 2 * se**2)
    assert abs(posterior.acceptance_rate - expected_rate) < 5 * rate_se


def test_rejection_with_a_likelihood_bound_is_exact():
    n = 1500
    # The likelihood of temp = 70 is at most the larger normal peak, 1 / (10 sqrt(2 pi)).
    bound = -math.log(10.0 * math.sqrt(2 * math.pi))
    posterior = Rejection(weather_at_70, num_samples=n, max_log_weight=bound).run()
    estimate = EmpiricalMarginal(posterior).probability(is_cloudy)
    # Independent exact draws: se = sqrt(p (1 - p) / n) = 0.0099 -> 5 se = 0.050
    assert abs(estimate - P_CLOUDY_AT_70) < 5 * math.sqrt(P_CLOUDY_AT_70 * (1 - P_CLOUDY_AT_70) / n)
    # The acceptance rate estimates Z e^-bound; se of a rate over `tries` Bernoulli tries.
    rate = EVIDENCE_AT_70 / math.exp(bound)
    assert abs(posterior.acceptance_rate - rate) < 5 * math.sqrt(rate * (1 - rate) / posterior.tries)


def test_the_old_marginal_spelling_samples_the_answer():
    pyro.set_rng_seed(1)
    marginal = Marginal(Search(weather_at_70))
    draws = [marginal() for _ in range(4000)]
    assert all(d[0] in ("cloudy", "sunny") for d in draws)
    frequency = sum(d[0] == "cloudy" for d in draws) / len(draws)
    # 4000 independent draws from the exact posterior: se = 0.0061 -> 5 se = 0.030
    assert abs(frequency - P_CLOUDY_AT_70) < 5 * math.sqrt(P_CLOUDY_AT_70 * (1 - P_CLOUDY_AT_70) / 4000)
