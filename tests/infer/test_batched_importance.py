"""Importance without a guide runs all its samples as one batched run when asked (``vectorize=True``) and the
model allows it, and one by one (with a warning, the reason kept) when it does not; the answers agree within
their errors. Unasked, it runs the model once per sample, as Pyro does.

The weather question: P(cloudy | temp = 70) = 0.3 N(70; 55, 10) / (0.3 N(70; 55, 10) + 0.7 N(70; 75, 15)).
"""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import EmpiricalMarginal, Importance
import pytest

from ppl_kernel.vectorize import SequentialFallbackWarning

from .models import CLOUDY_LIKELIHOOD, EVIDENCE_AT_70, P_CLOUDY_AT_70, SUNNY_LIKELIHOOD, is_cloudy, weather_at_70


def weather_where():
    cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    mean = torch.where(cloudy == 1, 55.0, 75.0)
    scale = torch.where(cloudy == 1, 10.0, 15.0)
    return pyro.sample("temp", dist.Normal(mean, scale))


batched_weather_at_70 = poutine.condition(weather_where, data={"temp": torch.tensor(70.0)})


def importance_se(n):
    """se of the self-normalized estimate of P(cloudy | 70) from n prior samples (delta method):
    se^2 = E_prior[w^2 (f - p)^2] / Z^2 / n, w the likelihood of temp = 70, f the cloudy indicator."""
    p = P_CLOUDY_AT_70
    second = 0.3 * CLOUDY_LIKELIHOOD**2 * (1 - p) ** 2 + 0.7 * SUNNY_LIKELIHOOD**2 * p**2
    return math.sqrt(second / EVIDENCE_AT_70**2 / n)


def log_z_se(n):
    """se of log mean(w): the relative se of mean(w), sqrt(E[w^2] / Z^2 - 1) / sqrt(n)."""
    second = 0.3 * CLOUDY_LIKELIHOOD**2 + 0.7 * SUNNY_LIKELIHOOD**2
    return math.sqrt(second / EVIDENCE_AT_70**2 - 1) / math.sqrt(n)


def test_importance_runs_a_batchable_model_batched_and_answers_the_weather_question():
    n = 100_000
    posterior = Importance(batched_weather_at_70, num_samples=n, vectorize=True).run()
    assert posterior.vectorized and posterior.batched_trace["cloudy"].value.shape == (n,)
    assert len(posterior.traces) == n and len(posterior.log_weights) == n
    estimate = EmpiricalMarginal(posterior, "cloudy").mean.item()
    # se = importance_se(100000) = 0.0010 -> 5 se = 0.005
    assert abs(estimate - P_CLOUDY_AT_70) < 5 * importance_se(n)
    assert abs(posterior.log_marginal_likelihood - math.log(EVIDENCE_AT_70)) < 5 * log_z_se(n)


def test_importance_runs_the_seed_weather_one_by_one_and_keeps_the_reason():
    n = 4000
    with pytest.warns(SequentialFallbackWarning, match="reads .data of a sampled value"):
        posterior = Importance(weather_at_70, num_samples=n, vectorize=True).run()
    assert not posterior.vectorized
    assert posterior.fallback_reason.startswith("model 'weather' reads .data of a sampled value")
    estimate = EmpiricalMarginal(posterior).probability(is_cloudy)
    # se = importance_se(4000) = 0.0051 -> 5 se = 0.026
    assert abs(estimate - P_CLOUDY_AT_70) < 5 * importance_se(n)


def test_the_batched_and_the_one_by_one_answers_agree():
    n_batched, n_seq = 50_000, 4000
    batched = Importance(batched_weather_at_70, num_samples=n_batched, vectorize=True).run()
    sequential = Importance(weather_at_70, num_samples=n_seq).run()
    a = EmpiricalMarginal(batched, "cloudy").mean.item()
    b = EmpiricalMarginal(sequential, "cloudy").mean.item()
    # two independent estimates: se = sqrt(se_a^2 + se_b^2) = 0.0053 -> 5 se = 0.026
    assert abs(a - b) < 5 * math.hypot(importance_se(n_batched), importance_se(n_seq))


def test_every_reader_of_a_batched_importance_posterior_sees_the_runs():
    posterior = Importance(batched_weather_at_70, num_samples=200, vectorize=True).run()
    marginal = EmpiricalMarginal(posterior, "cloudy")
    weights = posterior.get_normalized_weights()
    by_run = sum(w * tr["cloudy"].value for w, tr in zip(weights.tolist(), posterior.traces, strict=True))
    assert torch.allclose(marginal.weights, weights)
    assert abs(marginal.mean.item() - float(by_run)) < 1e-6
    i = posterior.most_probable_index()
    again = posterior.trace_with_calls(i)  # replays run i with its call tree
    assert again["cloudy"].value == posterior.batched_trace["cloudy"].value[i]
    assert abs(again.log_prob_sum().item() - posterior.traces[i].log_prob_sum().item()) < 1e-5
    posterior.add(posterior.traces[0], posterior.log_weights[0])  # one more run, added one by one
    assert len(posterior.traces) == 201
    before = EmpiricalMarginal(posterior, "cloudy")
    assert before.samples[-1] == before.samples[0] and len(before.samples) == 201


def test_importance_runs_the_model_once_per_sample_unless_asked_to_batch():
    calls = []

    def counted():
        calls.append(1)  # a Python side effect: batching would run it once for all samples
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    Importance(counted, num_samples=50).run()
    assert len(calls) == 50
    calls.clear()
    Importance(counted, num_samples=50, vectorize=True).run()
    assert len(calls) == 1


def test_progress_is_reported_for_a_batched_run():
    calls = []
    Importance(batched_weather_at_70, num_samples=1000, vectorize=True, progress=lambda p, done, total: calls.append((done, total))).run()
    assert calls[0][0] == 0 and calls[-1] == (1000, 1000)


def test_a_column_counts_its_runs_before_a_stop_without_listing_them():
    from ppl_kernel.infer.store import Column

    blocks, rows = Column("x"), Column("y")
    blocks.add_block(0, torch.zeros(5))
    blocks.add_block(5, torch.ones(3))
    for run in (0, 2, 3, 7):
        rows.append(run, torch.tensor(1.0))
    for column in (blocks, rows):
        assert [column.count(stop) for stop in (None, 0, 1, 3, 6, 8, 20)] == \
            [len(column.runs(stop)) for stop in (None, 0, 1, 3, 6, 8, 20)]
