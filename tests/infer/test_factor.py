"""Hard and soft factors: x, y ~ flip(0.5) with a factor when neither is true, under every method.

Hard (-inf): P(x) = 2/3. Soft (-2): P(x) = 2 / (3 + e^-2).
"""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, EmpiricalMarginal, Enumerate, Importance, Rejection

from .models import P_X_HARD, P_X_SOFT, either_coin
from .stats import batch_means_se, snis_se

CASES = [(-math.inf, P_X_HARD), (-2.0, P_X_SOFT)]


@pytest.mark.parametrize("log_factor, p_x", CASES)
def test_enumerate_is_exact(log_factor, p_x):
    posterior = Enumerate(either_coin(log_factor)).run()
    assert abs(EmpiricalMarginal(posterior).mean.item() - p_x) < 1e-6
    # p(data) = the prior mass kept: 3/4 + e^factor / 4
    assert abs(posterior.log_marginal_likelihood - math.log(0.75 + math.exp(log_factor) / 4)) < 1e-6
    # a hard factor cuts the impossible path: it is not stored
    assert len(posterior.traces) == (3 if log_factor == -math.inf else 4)


@pytest.mark.parametrize("log_factor, p_x", CASES)
def test_importance_within_its_error(log_factor, p_x):
    marginal = EmpiricalMarginal(Importance(either_coin(log_factor), num_samples=4000).run())
    # se of the self-normalized estimate ~ sqrt(p (1 - p) / 3000) = 0.0086 -> 5 se = 0.043
    assert abs(marginal.mean.item() - p_x) < 5 * snis_se(marginal, lambda x: x.item())


@pytest.mark.parametrize("log_factor, p_x", CASES)
def test_mh_within_its_error(log_factor, p_x):
    posterior = MH(either_coin(log_factor), num_samples=4000, warmup=100).run()
    xs = EmpiricalMarginal(posterior).samples
    assert abs(xs.mean().item() - p_x) < 5 * batch_means_se(xs)


@pytest.mark.parametrize("log_factor, p_x", CASES)
def test_rejection_within_its_error(log_factor, p_x):
    n = 3000
    posterior = Rejection(either_coin(log_factor), num_samples=n).run()
    xs = EmpiricalMarginal(posterior).samples
    # independent exact draws: se = sqrt(p (1 - p) / n) = 0.0086 -> 5 se = 0.043
    assert abs(xs.mean().item() - p_x) < 5 * math.sqrt(p_x * (1 - p_x) / n)
    kept = 0.75 + math.exp(log_factor) / 4
    assert abs(posterior.acceptance_rate - kept) < 5 * math.sqrt(kept * (1 - kept) / posterior.tries)


def test_rejection_with_a_positive_factor_needs_a_bound():
    def model():
        b = pyro.sample("b", dist.Bernoulli(0.5))
        pyro.factor("bonus", 1.0 if b.item() else 0.0)
        return b

    with pytest.raises(ValueError) as e:
        Rejection(model, num_samples=10).run()
    message = str(e.value)
    assert "log-weight 1" in message and "max_log_weight=0" in message and "'bonus' (+1)" in message
    assert "Rejection(model, max_log_weight=B)" in message
    # With the bound the answer is exact: P(b) = e / (1 + e); 2000 draws, se = 0.0098
    posterior = Rejection(model, num_samples=2000, max_log_weight=1.0).run()
    p = math.e / (1 + math.e)
    assert abs(EmpiricalMarginal(posterior).mean.item() - p) < 5 * math.sqrt(p * (1 - p) / 2000)
    # log Z = log(rate) + 1 with rate = (1 + e) / (2e); the log of a rate has se sqrt((1 - r) / (r tries))
    rate = (1 + math.e) / (2 * math.e)
    log_se = math.sqrt((1 - rate) / (rate * posterior.tries))
    assert abs(posterior.log_marginal_likelihood - math.log((1 + math.e) / 2)) < 5 * log_se


def test_mh_rejects_a_proposal_into_an_impossible_run():
    posterior = MH(either_coin(-math.inf), num_samples=500).run()
    for trace in posterior.traces:
        assert trace["x"].value.item() or trace["y"].value.item()
    assert torch.isfinite(torch.tensor(posterior.acceptance_rate))
