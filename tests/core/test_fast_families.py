"""The scalar fast path (distributions/scoring.py's FAST table) draws and scores exactly as torch does.

One test per family: from the same seed, the fast draw equals torch's own draw (value, dtype, shape), and
the fast score equals torch's log_prob, for parameters given as numbers, as 0-dim tensors (a parameter
computed from an earlier site) and as float64 tensors. A family added to the table without a case here
fails test_every_fast_family_has_an_equivalence_case.
"""

import math

import pytest
import torch

import ppl_kernel.distributions as dist
from ppl_kernel.distributions.bernoulli import bernoulli_draw
from ppl_kernel.distributions.scoring import FAST, draw_from, fast_log_prob
from ppl_kernel.errors import InvalidParameterError
from ppl_kernel.runtime import Site, site_log_prob_float

F64 = torch.float64

CASES = {
    dist.Normal: [(0.5, 2.0), (torch.tensor(0.5), 2.0), (torch.tensor(-1.0), torch.tensor(0.3)),
                  (torch.tensor(0.5, dtype=F64), 2.0)],
    dist.Bernoulli: [(0.3,), (torch.tensor(0.7),), (torch.tensor(0.2, dtype=F64),)],
    dist.Uniform: [(-1.0, 3.0), (torch.tensor(0.0), 1.5), (2, torch.tensor(4.0, dtype=F64))],
    dist.Unit: [(-2.5,), (0.0,), (-math.inf,)],
    dist.Categorical: [(torch.ones(3),), (torch.tensor([0.2, 0.0, 0.8]),), (torch.tensor([1.0, 3.0], dtype=F64),)],
    dist.Beta: [(2.0, 3.0), (torch.tensor(0.5), 0.5), (torch.tensor(1.0, dtype=F64), 2.0)],
    dist.Binomial: [(10, 0.3), (torch.tensor(5.0), torch.tensor(0.5)), (20, torch.tensor(0.9, dtype=F64))],
    dist.Gamma: [(2.0, 1.0), (torch.tensor(0.5), 2.0), (3.0, torch.tensor(0.5, dtype=F64))],
    dist.Poisson: [(3.0,), (torch.tensor(0.5),), (torch.tensor(7.0, dtype=F64),)],
    dist.Exponential: [(1.0,), (torch.tensor(2.5),), (torch.tensor(0.1, dtype=F64),)],
    dist.HalfNormal: [(1.5,), (torch.tensor(0.5),), (torch.tensor(2.0, dtype=F64),)],
    dist.LogNormal: [(0.0, 1.0), (torch.tensor(0.5), 0.3), (torch.tensor(-1.0, dtype=F64), 2.0)],
    dist.HalfCauchy: [(1.0,), (torch.tensor(0.3),), (torch.tensor(4.0, dtype=F64),)],
}


def test_every_fast_family_has_an_equivalence_case():
    assert set(FAST) == set(CASES)


def _torch_twin(fast_class, args):
    return fast_class._torch_class(*args)


def _check_draws_and_scores(fast_class, same_draws=True):
    for args in CASES[fast_class]:
        for seed in range(5):
            torch.manual_seed(seed)
            fast = draw_from(fast_class(*args))
            torch.manual_seed(seed)
            twin = _torch_twin(fast_class, args)
            expected = twin.sample()  # the fast path draws as torch's sample (rsample rounds loc + eps * scale)
            assert fast.dtype == expected.dtype and fast.shape == expected.shape, args
            if same_draws:
                # Equal up to one rounding: torch.normal from numbers computes loc + scale * z in double,
                # from tensors in the tensor's dtype, so the two may differ in the last bit.
                tolerance = 2 * torch.finfo(expected.dtype).eps * max(1.0, expected.abs().max().item()
                                                                      if expected.numel() else 0.0)
                assert torch.allclose(fast, expected, rtol=0, atol=tolerance), (args, fast, expected)
            lp = fast_log_prob(fast_class(*args), fast)
            assert lp is not None, args  # the fast path applied
            reference = twin.log_prob(fast).double().item()
            assert lp == pytest.approx(reference, rel=1e-6, abs=1e-6), (args, lp, reference)
            # the site's log_prob tensor, as torch's: its dtype too (a Categorical's index scores in float)
            site_lp = Site("sample", "x", fast_class(*args), (), {}, fast).log_prob
            assert site_lp.dtype == twin.log_prob(fast).dtype, args
            assert site_lp.double().item() == pytest.approx(reference, rel=1e-6, abs=1e-6), args


def test_normal_fast_path_equals_torch():
    _check_draws_and_scores(dist.Normal)


def test_bernoulli_fast_path_equals_torch():
    # In-place bernoulli_(p) reads torch's generator otherwise than torch.bernoulli(tensor) (and costs half as
    # much): the same distribution, other draws from one seed. So: scores exactly, draws by frequency.
    _check_draws_and_scores(dist.Bernoulli, same_draws=False)
    n = 20_000
    for args in CASES[dist.Bernoulli]:
        p = float(args[0])
        mean = sum(draw_from(dist.Bernoulli(*args)).item() for _ in range(n)) / n
        assert abs(mean - p) < 5 * math.sqrt(p * (1 - p) / n), (args, mean)  # 5 binomial standard errors


def test_uniform_fast_path_equals_torch():
    _check_draws_and_scores(dist.Uniform)


def test_unit_fast_path_equals_torch():
    _check_draws_and_scores(dist.Unit)


def test_a_parameter_with_gradient_takes_torch_path_and_keeps_its_gradient():
    loc = torch.tensor(0.5, requires_grad=True)
    x = draw_from(dist.Normal(loc, 1.0))
    assert x.requires_grad
    assert fast_log_prob(dist.Normal(loc, 1.0), torch.tensor(0.1)) is None


def test_invalid_scale_of_an_observed_site_names_the_site_and_parameter():
    site = Site("sample", "y", dist.Normal(torch.tensor(1.0), 0.0), (), {}, torch.tensor(2.0), True)
    with pytest.raises(InvalidParameterError) as e:
        site_log_prob_float(site)
    assert "site 'y'" in str(e.value) and "'scale'" in str(e.value)


def test_a_nan_factor_leaves_the_fast_path_and_scores_nan():
    # NaN is no log-probability: the fast path declines, torch's log_prob gives NaN, and inference names the
    # factor (infer/sites.nan_score_error; tests/infer/test_mh.py).
    site = Site("sample", "bonus", dist.Unit(math.nan), (), {}, torch.empty(0), True)
    assert fast_log_prob(site.fn, site.value) is None
    assert math.isnan(site_log_prob_float(site))


def test_categorical_fast_path_equals_torch():
    # An inverse-CDF draw from one float64 uniform reads torch's generator otherwise than torch's multinomial:
    # the same distribution, other draws from one seed. So: scores exactly, draws by frequency.
    _check_draws_and_scores(dist.Categorical, same_draws=False)
    n = 20_000
    for probs in (torch.tensor([0.2, 0.0, 0.8]), torch.tensor([1.0, 1.0, 1.0, 5.0])):
        counts = torch.bincount(torch.stack([draw_from(dist.Categorical(probs)) for _ in range(n)]),
                                minlength=len(probs))
        expected = probs / probs.sum()
        for count, p in zip(counts.tolist(), expected.tolist(), strict=True):
            assert abs(count / n - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (probs, counts)  # 5 binomial s.e.
        assert counts[expected == 0].sum() == 0  # an outcome of probability zero is never drawn


def test_categorical_from_logits_draws_and_scores_as_torch():
    logits = torch.tensor([0.5, -1.0, 2.0])
    reference = torch.distributions.Categorical(logits=logits)
    for v in range(3):
        assert fast_log_prob(dist.Categorical(logits=logits), torch.tensor(v)) == pytest.approx(
            reference.log_prob(torch.tensor(v)).item(), rel=1e-6)
    n = 20_000
    counts = torch.bincount(torch.stack([draw_from(dist.Categorical(logits=logits)) for _ in range(n)]), minlength=3)
    for count, p in zip(counts.tolist(), reference.probs.tolist(), strict=True):
        assert abs(count / n - p) < 5 * math.sqrt(p * (1 - p) / n)  # 5 binomial standard errors


def test_a_probabilities_tensor_changed_in_place_is_read_again():
    probs = torch.tensor([1.0, 0.0])
    assert draw_from(dist.Categorical(probs)).item() == 0
    probs[0], probs[1] = 0.0, 1.0  # the same tensor object, a new version
    assert draw_from(dist.Categorical(probs)).item() == 1
    assert fast_log_prob(dist.Categorical(probs), torch.tensor(0)) == -math.inf


def test_probabilities_made_in_inference_mode_are_read_every_time():
    # an inference tensor has no version counter, so its table cannot be kept
    with torch.inference_mode():
        probs = torch.tensor([1.0, 0.0])
        assert draw_from(dist.Categorical(probs)).item() == 0
        probs[0], probs[1] = 0.0, 1.0  # in place, unseen
        assert draw_from(dist.Categorical(probs)).item() == 1
    assert fast_log_prob(dist.Categorical(probs), torch.tensor(0)) == -math.inf


def test_a_batch_of_categoricals_or_invalid_probabilities_go_through_torch():
    batch = draw_from(dist.Categorical(torch.ones(4, 3)))
    assert batch.shape == (4,) and batch.dtype == torch.long
    assert fast_log_prob(dist.Categorical(torch.ones(4, 3)), torch.tensor(0)) is None
    with pytest.raises(ValueError, match="probs"):  # torch's validation names the parameter
        draw_from(dist.Categorical(torch.tensor([0.5, -0.5, 1.0])))
    assert fast_log_prob(dist.Categorical(torch.ones(3)), torch.tensor(3)) is None  # outside the support: torch's


def test_an_integer_observation_scores_in_floating_point():
    # (the fast path's score once took the value's dtype: an observed torch.tensor(1) scored log 0.3 as -1)
    site = Site("sample", "y", dist.Bernoulli(0.3), (), {}, torch.tensor(1), True)
    assert site.log_prob.dtype == torch.get_default_dtype()
    assert site.log_prob.item() == pytest.approx(math.log(0.3), rel=1e-6)


@pytest.mark.parametrize("family", [dist.Beta, dist.Binomial, dist.Gamma, dist.Poisson, dist.Exponential,
                                    dist.HalfNormal, dist.LogNormal, dist.HalfCauchy])
def test_the_fast_path_of_a_family_draws_torchs_very_draws_and_scores_as_torch(family):
    # each calls the sampler the family's tensor draw calls (_sample_dirichlet, binomial, _standard_gamma, poisson,
    # the Exponential's inverse CDF), so one seed gives the same draws
    _check_draws_and_scores(family)


def test_parameters_given_by_keyword_take_the_fast_path_and_logits_do_not():
    torch.manual_seed(0)
    fast = draw_from(dist.Binomial(total_count=10, probs=0.3))
    torch.manual_seed(0)
    assert torch.equal(fast, torch.distributions.Binomial(total_count=10, probs=0.3).sample())
    assert fast_log_prob(dist.Binomial(probs=0.3), torch.tensor(1.0)) == pytest.approx(math.log(0.3))
    assert fast_log_prob(dist.Binomial(10, logits=torch.tensor(0.0)), torch.tensor(3.0)) is None
    assert fast_log_prob(dist.Gamma(concentration=2.0, rate=1.0), torch.tensor(1.5)) == pytest.approx(
        torch.distributions.Gamma(2.0, 1.0).log_prob(torch.tensor(1.5)).item(), rel=1e-6)


def test_values_outside_the_support_leave_the_fast_path_for_torchs_error():
    assert fast_log_prob(dist.Beta(2.0, 2.0), torch.tensor(1.5)) is None
    assert fast_log_prob(dist.Poisson(2.0), torch.tensor(-1.0)) is None
    assert fast_log_prob(dist.Poisson(2.0), torch.tensor(1.5)) is None
    assert fast_log_prob(dist.Binomial(10, 0.5), torch.tensor(11.0)) is None
    assert fast_log_prob(dist.Exponential(1.0), torch.tensor(-0.5)) is None
    assert fast_log_prob(dist.LogNormal(0.0, 1.0), torch.tensor(0.0)) is None
    assert fast_log_prob(dist.HalfNormal(1.0), torch.tensor(-0.1)) is None


def test_the_edges_of_a_support_score_as_torch():
    # xlogy: 0 * log 0 is 0 (Beta(1, b) at 0), and a Gamma of concentration below 1 is infinite at 0
    cases = [(dist.Beta(1.0, 2.0), 0.0), (dist.Beta(0.5, 2.0), 0.0), (dist.Gamma(0.5, 1.0), 0.0),
             (dist.Gamma(1.0, 2.0), 0.0), (dist.Poisson(0.0), 0.0), (dist.Binomial(10, 0.0), 0.0),
             (dist.HalfNormal(2.0), 0.0), (dist.HalfCauchy(2.0), 0.0)]
    for d, v in cases:
        expected = d._torch_class(*d._deferred[0]).log_prob(torch.tensor(v)).item()
        got = fast_log_prob(d, torch.tensor(v))
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-6) or (math.isinf(expected) and got == expected), \
            (d, got)


def test_an_invalid_parameter_of_an_observed_or_drawn_site_names_the_site_and_parameter():
    import ppl_kernel as pyro
    from ppl_kernel import poutine

    for fn, param in ((lambda: dist.Binomial(10, 1.5), "probs"),
                      (lambda: dist.Binomial(total_count=2.5, probs=0.5), "total_count"),
                      (lambda: dist.Poisson(-1.0), "rate"), (lambda: dist.Beta(1.0, 0.0), "concentration0"),
                      (lambda: dist.Gamma(2.0, -1.0), "rate"), (lambda: dist.Exponential(0.0), "rate"),
                      (lambda: dist.HalfNormal(-1.0), "scale"), (lambda: dist.LogNormal(0.0, 0.0), "scale"),
                      (lambda: dist.HalfCauchy(-2.0), "scale")):
        for obs in (torch.tensor(1.0), None):
            with pytest.raises(InvalidParameterError) as e:
                poutine.trace(lambda fn=fn, obs=obs: pyro.sample("y", fn(), obs=obs)).get_trace()
            assert "site 'y'" in str(e.value) and f"'{param}'" in str(e.value), (param, obs, str(e.value))


def test_one_element_tensor_parameters_draw_as_torch_in_their_shape():
    # The seed's spelling, dist.normal(Variable(torch.Tensor([55.0])), ...): one-element tensors of shape (1,) draw
    # from their numbers (a third of torch.normal's time on tensors), in the parameters' shape and dtype.
    for loc, scale in ((torch.tensor([55.0]), torch.tensor([10.0])),
                       (torch.tensor([[0.5]], dtype=F64), torch.tensor([[2.0]], dtype=F64))):
        for seed in range(5):
            torch.manual_seed(seed)
            fast = draw_from(dist.Normal(loc, scale))
            torch.manual_seed(seed)
            expected = _torch_twin(dist.Normal, (loc, scale)).sample()
            assert fast.shape == expected.shape and fast.dtype == expected.dtype
            tolerance = 2 * torch.finfo(expected.dtype).eps * max(1.0, expected.abs().max().item())
            assert torch.allclose(fast, expected, rtol=0, atol=tolerance), (fast, expected)
    for p in (torch.tensor([0.3]), torch.tensor([[0.8]], dtype=F64)):  # the very draws of bernoulli_draw, a seed's
        for seed in range(3):
            torch.manual_seed(seed)
            fast = [draw_from(dist.Bernoulli(p)) for _ in range(20)]
            torch.manual_seed(seed)
            assert all(torch.equal(a, bernoulli_draw(p, p.shape)) for a in fast)
    n = 20_000
    for p in (torch.tensor([0.3]), torch.tensor([0.8], dtype=F64)):
        draws = [draw_from(dist.Bernoulli(p)) for _ in range(n)]
        assert all(d.shape == p.shape and d.dtype == p.dtype for d in draws[:10])
        mean = sum(d.item() for d in draws) / n
        q = p.item()
        assert abs(mean - q) < 5 * math.sqrt(q * (1 - q) / n), (p, mean)  # 5 binomial standard errors
    for make, param in ((lambda: dist.Normal(torch.tensor([0.0]), torch.tensor([-1.0])), "scale"),
                        (lambda: dist.Bernoulli(torch.tensor([1.5])), "probs")):
        with pytest.raises(InvalidParameterError, match=f"'{param}'"):
            draw_from(make())
