"""A subsampled plate's minibatch is a site: the model replayed against the guide uses the guide's."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine

DATA = torch.arange(100.0)


def vectorized(scale):
    with pyro.plate("data", 100, subsample_size=5) as idx:
        pyro.sample("z", dist.Normal(DATA[idx], scale))


def sequential(scale):
    for i in pyro.plate("data", 100, subsample_size=3):
        pyro.sample(f"z_{i}", dist.Normal(DATA[i], scale))


def test_model_replayed_against_guide_scores_the_guides_minibatch():
    guide_trace = poutine.trace(vectorized).get_trace(0.01)
    model_trace = poutine.trace(poutine.replay(vectorized, trace=guide_trace)).get_trace(1.0)
    chosen = guide_trace["data"].value
    assert torch.equal(model_trace["data"].value, chosen)
    assert torch.equal(model_trace["z"].fn.loc, DATA[chosen])


def test_sequential_plate_replays_the_guides_minibatch():
    guide_trace = poutine.trace(sequential).get_trace(0.01)
    model_trace = poutine.trace(poutine.replay(sequential, trace=guide_trace)).get_trace(1.0)
    guide_sites = [s.name for s in guide_trace if s.type == "sample"]
    model_sites = [s.name for s in model_trace if s.type == "sample"]
    assert model_sites == guide_sites


def test_minibatch_is_recorded_under_the_plates_name():
    tr = poutine.trace(vectorized).get_trace(1.0)
    assert tr["data"].type == "subsample"
    assert tr["data"].value.shape == (5,)
    assert tr.stochastic_nodes == ["z"]


def test_a_full_plate_records_no_minibatch():
    def model():
        with pyro.plate("data", 4):
            pyro.sample("z", dist.Normal(0.0, 1.0))

    assert list(poutine.trace(model).get_trace().nodes) == ["z", "_RETURN"]


def test_elbo_of_a_subsampled_model_matches_the_full_data_kl():
    # q(z_i) = N(d_i, 0.1), p(z_i) = N(d_i, 1) for 100 data, 5 a step scaled by 100/5: -ELBO is an unbiased
    # estimate of 100 * KL(q || p) only if model and guide score the same data (else each term pays
    # (d_i - d_j)^2 / 2 for mismatched data, hundreds of nats more).
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(0.0, 0.1), torch.distributions.Normal(0.0, 1.0))
    loss = pyro.infer.Trace_ELBO(num_particles=200).loss(lambda: vectorized(1.0), lambda: vectorized(0.1))
    # Per particle the estimate is 20 * sum over 5 data of (log q - log p); each term has sd
    # sqrt(Var[(z^2 (1 - 0.01)/0.02)]) ~= 0.99 / 0.02 * 0.01 * sqrt(2) = 0.70 nats, so a particle has sd
    # 20 * sqrt(5) * 0.70 = 31; over 200 particles the mean's sd is 2.2; 5 sd = 11.
    assert abs(loss - 100 * kl.item()) < 11.0


def test_a_per_datum_param_in_a_subsampled_plate_is_the_minibatchs_slice():
    with pyro.plate("data", 100, subsample_size=5) as idx:
        locs = pyro.param("locs", torch.arange(100.0), event_dim=0)
    assert torch.equal(locs, idx.to(locs.dtype))


def test_a_per_datum_param_with_event_dims_is_sliced_left_of_them():
    with pyro.plate("data", 10, subsample_size=3) as idx:
        table = pyro.param("table", torch.arange(20.0).reshape(10, 2), event_dim=1)
    assert torch.equal(table, torch.arange(20.0).reshape(10, 2)[idx])


def test_the_sliced_param_still_trains_the_whole_parameter():
    with pyro.plate("data", 10, subsample_size=3) as idx:
        locs = pyro.param("locs", torch.zeros(10), event_dim=0)
    locs.sum().backward()
    grad = pyro.get_param_store().get_unconstrained("locs").grad
    assert grad[idx].tolist() == [1.0, 1.0, 1.0] and grad.sum().item() == 3.0


def test_a_per_datum_param_of_the_wrong_size_is_an_error_naming_the_plate():
    with pytest.raises(ValueError, match=r"param 'locs' inside plate 'data' \(size 100.*shape \(50,\)"):
        with pyro.plate("data", 100, subsample_size=5):
            pyro.param("locs", torch.zeros(50), event_dim=0)
