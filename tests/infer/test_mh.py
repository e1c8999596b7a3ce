"""MH's runs, proposals and scores: runs end at probability zero, NaN is named, drift kernels are exact.

Statistical assertions use 5 standard errors of the chain's mean by batch means (stats.batch_means_se).
"""

import itertools
import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.errors import DuplicateSiteError, RunawayModelError
from ppl_kernel.infer import MH, EmpiricalMarginal, InferenceError
from ppl_kernel.trace import RETURN
from ppl_kernel.vectorize import SequentialFallbackWarning

from .models import NORMAL_POST_MEAN, normal_normal
from .stats import batch_means_se


def _chain(posterior):
    return torch.tensor([float(v) for v in EmpiricalMarginal(posterior).values], dtype=torch.float64)


def test_a_run_ends_at_a_factor_of_minus_infinity_before_the_code_after_it():
    after = []

    def model():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        pyro.factor("need x", 0.0 if x.item() else -math.inf)
        after.append(x.item())  # user code past the factor: it must never see an impossible run
        return x

    MH(model, num_samples=300).run()
    assert after and set(after) == {1.0}


def test_a_reused_value_outside_the_new_support_ends_the_run_and_the_answer_is_exact():
    labels = {3: ["a", "b", "c"], 5: ["a", "b", "c", "d", "e"]}

    def model():
        big = pyro.sample("big", dist.Bernoulli(0.5)).item() == 1.0
        n = 5 if big else 3
        i = int(pyro.sample("i", dist.Categorical(torch.ones(n))))
        label = labels[n][i]  # an IndexError had MH run on with i = 4 and n = 3
        pyro.factor("likes a", 0.0 if label == "a" else -1.0)
        return float(big)

    posterior = MH(model, num_samples=6000, warmup=200).run()
    chain = _chain(posterior)
    # P(big) is proportional to 0.5 (1 + 4/e) / 5 against 0.5 (1 + 2/e) / 3 for small.
    big, small = (1 + 4 / math.e) / 5, (1 + 2 / math.e) / 3
    exact = big / (big + small)
    assert abs(chain.mean().item() - exact) < 5 * batch_means_se(chain), (chain.mean().item(), exact)


def test_a_nan_factor_is_an_error_that_says_nan_and_names_the_factor():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("log of x", torch.log(x))  # NaN for every negative x
        return x

    with pytest.raises(ValueError) as e:
        MH(model, num_samples=200).run()
    assert "NaN" in str(e.value) and "'log of x'" in str(e.value)


def test_a_site_scoring_nan_is_an_error_that_says_nan_and_names_the_site():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(math.nan))
        return x

    pyro.enable_validation(False)  # with validation on torch rejects the NaN value itself
    with pytest.raises(InferenceError) as e:
        MH(model, num_samples=10).run()
    message = str(e.value)
    assert "NaN" in message and "site 'y'" in message and "model 'model'" in message


class _CountingNormal(torch.distributions.Normal):
    calls = 0

    def log_prob(self, value):
        _CountingNormal.calls += 1
        return super().log_prob(value)


def test_a_site_whose_distribution_and_value_did_not_change_is_not_rescored():
    noise = _CountingNormal(0.0, 1.0)
    data = torch.tensor(0.3)

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", noise, obs=data)  # the same distribution object and value in every run
        return x

    _CountingNormal.calls = 0
    MH(model, num_samples=200).run()
    assert _CountingNormal.calls == 1  # scored in the chain's first run only


def test_an_observation_made_anew_in_each_run_with_the_same_value_is_not_rescored():
    noise = _CountingNormal(0.0, 1.0)

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", noise, obs=torch.tensor(0.3))  # a new tensor in every run, always the same number
        return x

    _CountingNormal.calls = 0
    MH(model, num_samples=200).run()
    assert _CountingNormal.calls == 1  # scored in the chain's first run only


def test_an_observation_whose_value_changes_is_rescored():
    noise = _CountingNormal(0.0, 1.0)
    runs = []

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        runs.append(None)
        pyro.sample("y", noise, obs=torch.tensor(float(len(runs))))  # a number no earlier run had
        return x

    _CountingNormal.calls = 0
    MH(model, num_samples=200).run()
    assert _CountingNormal.calls == len(runs)


def test_a_proposal_that_draws_the_value_the_chain_has_ends_the_run_there():
    # No data, so every proposal is accepted: the chain's value changes exactly when the proposal drew another
    # value. The code after the choice then runs once for the first run and once per change, not once per step.
    # (A Poisson choice has unboundedly many values, so its moves are not remembered: each step runs the model.)
    after = []

    def count():
        x = pyro.sample("x", dist.Poisson(0.5))
        after.append(x.item())
        return x

    pyro.set_rng_seed(3)
    posterior = MH(count, num_samples=400).run()
    values = _chain(posterior).tolist()
    changes = sum(a != b for a, b in itertools.pairwise(values))
    # (the first kept step may itself be a change from the first run)
    assert len(after) - 1 in (changes, changes + 1)
    # P(two Poisson(0.5) draws differ) = 1 - exp(-1) I0(1) = 0.534: about 214 of 400 steps change (sd 10)
    assert 150 < changes < 280
    assert posterior.acceptance_rate == 1.0


def test_a_discrete_move_runs_the_model_once_and_is_then_remembered():
    # Two states, one move out of each: after the first run, the model runs once per move learned, however
    # many steps the chain takes (mh_moves); the chain is still right.
    runs = []

    def coin():
        runs.append(1)
        return pyro.sample("x", dist.Bernoulli(0.3))

    pyro.set_rng_seed(5)
    posterior = MH(coin, num_samples=2000).run()
    assert len(runs) == 3
    chain = _chain(posterior)
    assert abs(chain.mean().item() - 0.3) < 5 * batch_means_se(chain)


def test_remembered_moves_give_the_exact_posterior_of_a_conditioned_discrete_model():
    # Two dice whose sum is at least 8 (15 pairs): the first die's mean is 70 / 15 and P(a = 6) = 5 / 15; plus a
    # soft observation, so that moves are accepted with ratios other than 0 and 1.
    def dice():
        a = pyro.sample("a", dist.Categorical(torch.ones(6)))
        b = pyro.sample("b", dist.Categorical(torch.ones(6)))
        pyro.factor("at least 8", 0.0 if a + b + 2 >= 8 else -math.inf)
        pyro.factor("prefers a high a", 0.3 * a.item())
        return a + 1

    pairs = [(a, b) for a in range(1, 7) for b in range(1, 7) if a + b >= 8]
    weights = torch.tensor([math.exp(0.3 * (a - 1)) for a, _ in pairs], dtype=torch.float64)
    exact = float((weights * torch.tensor([a for a, _ in pairs], dtype=torch.float64)).sum() / weights.sum())
    pyro.set_rng_seed(11)
    posterior = MH(dice, num_samples=20000, warmup=100).run()
    chain = _chain(posterior)
    assert abs(chain.mean().item() - exact) < 5 * batch_means_se(chain)


def test_a_remembered_move_that_makes_a_fresh_choice_draws_it_from_its_prior_each_time():
    # Turning the switch on makes the run draw 'b' fresh, so that move's outcome is random: were it replayed from
    # memory as it first came out, the chain would come back into the switch-on states always at one b.
    def switch():
        on = pyro.sample("on", dist.Bernoulli(0.5))
        if not on.item():
            return -1
        return int(pyro.sample("b", dist.Categorical(torch.ones(10))))

    pyro.set_rng_seed(6)
    posterior = MH(switch, num_samples=20000, warmup=100).run()
    chain = _chain(posterior)
    for k in range(10):  # each value of b has probability 1/2 * 1/10
        hits = (chain == k).double()
        assert abs(hits.mean().item() - 0.05) < 5 * batch_means_se(hits), k


def test_moves_of_a_recursion_are_remembered_with_their_fresh_choices():
    # geometric(0.5): a move that sets the last flip to 1 recurses one level deeper, drawing fresh flips; those
    # are discrete, so the move's branches are remembered too and the model runs once per branch, not per step.
    runs = []

    def geometric(t=0):
        if t == 0:
            runs.append(1)
        x = pyro.sample(f"x_{t}", dist.Bernoulli(0.5))
        return 1 + geometric(t + 1) if x.item() else 1

    pyro.set_rng_seed(8)
    posterior = MH(geometric, num_samples=20000).run()
    assert len(runs) < 1000  # (20,001 before moves were remembered)
    chain = _chain(posterior)
    assert abs(chain.mean().item() - 2.0) < 5 * batch_means_se(chain)


def test_a_recursion_whose_structure_changes_gives_the_exact_mean():
    # A geometric recursion: a flip proposed to 1 draws the next flip fresh, one proposed to 0 drops the flips
    # after it (stale); the chain must give the geometric's mean 1 / p = 2.
    def geometric(t=0):
        x = pyro.sample(f"x_{t}", dist.Bernoulli(0.5))
        return 1 + geometric(t + 1) if x.item() else 1

    pyro.set_rng_seed(2)
    posterior = MH(geometric, num_samples=20000, warmup=100).run()
    chain = _chain(posterior)
    assert abs(chain.mean().item() - 2.0) < 5 * batch_means_se(chain)


def test_a_model_with_more_moves_than_the_memo_holds_stops_learning(monkeypatch):
    import ppl_kernel.infer.mh_moves as mh_moves

    monkeypatch.setattr(mh_moves, "MAX_MOVES", 5)
    mh = MH(lambda: pyro.sample("d", dist.Categorical(torch.ones(20))), num_samples=500)
    mh.run()
    assert mh._moves.moves == 5  # (up to 20 * 19 otherwise)


def test_a_model_with_more_states_than_the_memo_holds_stops_learning_and_stays_exact(monkeypatch):
    import ppl_kernel.infer.mh_moves as mh_moves

    monkeypatch.setattr(mh_moves, "MAX_SITES", 20)  # a few states of ten sites

    def ten_coins():
        flips = [pyro.sample(f"c{i}", dist.Bernoulli(0.5)).item() for i in range(10)]
        pyro.factor("mostly heads", 0.5 * sum(flips))
        return sum(flips)

    pyro.set_rng_seed(4)
    mh = MH(ten_coins, num_samples=20000, warmup=100)
    posterior = mh.run()
    assert 20 < mh._moves.sites <= 20 + 10  # learned up to the cap (1024 states otherwise), then stopped
    assert mh._moves.states == {}  # and let go of what it learned when the run ended
    # each coin is heads with probability e^0.5 / (1 + e^0.5), independently
    chain = _chain(posterior)
    exact = 10 * math.exp(0.5) / (1 + math.exp(0.5))
    assert abs(chain.mean().item() - exact) < 5 * batch_means_se(chain)


def test_a_site_name_used_twice_in_one_run_is_an_error_naming_it_and_the_model():
    def twice():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(DuplicateSiteError) as e:
        MH(twice, num_samples=10).run()
    assert "site 'x'" in str(e.value) and "model 'twice'" in str(e.value)


def test_a_model_that_never_stops_is_an_error_naming_the_limit():
    def forever(t=0):
        pyro.sample(f"x_{t}", dist.Bernoulli(0.5))
        return forever(t + 1)

    pyro.set_max_sites(50)
    try:
        with pytest.raises(RunawayModelError) as e:
            MH(forever, num_samples=10).run()
    finally:
        pyro.set_max_sites(100_000)
    assert "more than 50 sites" in str(e.value) and "model 'forever'" in str(e.value)


def test_gaussian_drift_gives_the_exact_posterior():
    posterior = MH(normal_normal, num_samples=6000, warmup=200, drift=0.5).run()
    chain = _chain(posterior)
    assert abs(chain.mean().item() - NORMAL_POST_MEAN) < 5 * batch_means_se(chain)
    assert 0.2 < posterior.acceptance_rate < 0.95  # it did move by small steps, not by prior draws


def test_a_drift_in_the_site_infer_dict_overrides_the_option():
    seen = []

    def kernel(x):
        seen.append(x)
        return dist.Normal(x, 0.3)

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0), infer={"mh_drift": kernel})
        pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(0.5))
        return x

    MH(model, num_samples=50, drift=5.0).run()
    assert seen


def test_an_asymmetric_kernel_gets_its_hastings_correction():
    # Gamma(2, 1) alone has mean 2. A multiplicative log-normal walk is asymmetric: q(x'|x) / q(x|x') = x / x'.
    # Leaving that factor out makes the chain sample Gamma(3, 1) (mean 3), 30+ standard errors away here.
    def model():
        return pyro.sample("rate", dist.Gamma(2.0, 1.0), infer={"mh_drift": lambda x: dist.LogNormal(x.log(), 0.5)})

    posterior = MH(model, num_samples=8000, warmup=200).run()
    chain = _chain(posterior)
    assert abs(chain.mean().item() - 2.0) < 5 * batch_means_se(chain), chain.mean().item()


def test_a_gaussian_drift_on_a_discrete_site_names_the_site():
    def model():
        return pyro.sample("coin", dist.Bernoulli(0.5))

    with pytest.raises(InferenceError) as e:
        MH(model, num_samples=10, drift={"coin": 0.5}).run()
    assert "site 'coin'" in str(e.value) and "discrete" in str(e.value)


def test_one_drift_scale_for_all_sites_leaves_the_discrete_ones_to_their_prior():
    # drift=0.5 walks every continuous site; the coin, discrete, is proposed from its prior (no error). The
    # posterior: the coin is independent of mu, which is N(3.2, 0.8) given y = 4 (prior N(0, 4), unit noise).
    def model():
        coin = pyro.sample("coin", dist.Bernoulli(0.25))
        mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
        pyro.sample("y", dist.Normal(mu, 1.0), obs=torch.tensor(4.0))
        return coin

    pyro.set_rng_seed(0)
    posterior = MH(model, num_samples=4000, warmup=200, drift=0.5).run()
    coins = _chain(posterior)
    assert abs(coins.mean().item() - 0.25) < 5 * batch_means_se(coins)
    mus = torch.tensor([float(v) for v in posterior.marginal("mu").values], dtype=torch.float64)
    assert abs(mus.mean().item() - 3.2) < 5 * batch_means_se(mus)


def test_hierarchical_model_with_reused_scores_matches_conjugacy():
    data = [[1.2, 0.8, 1.9, 1.4], [-0.3, 0.4, 0.1, -0.6], [2.8, 3.1, 2.2, 2.5]]
    tensors = [[torch.tensor(y) for y in group] for group in data]

    def model():
        mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
        for j, group in enumerate(tensors):
            theta = pyro.sample(f"theta_{j}", dist.Normal(mu, 1.0))
            for k, y in enumerate(group):
                pyro.sample(f"y_{j}_{k}", dist.Normal(theta, 1.0), obs=y)
        return mu

    posterior = MH(model, num_samples=8000, warmup=500, drift=0.7).run()
    chain = _chain(posterior)
    # Integrating out theta_j, each group mean is N(mu, 1 + 1/4); with mu's N(0, 25) prior, conjugacy.
    precision = 1 / 25 + 3 / 1.25
    exact = sum(sum(g) / len(g) for g in data) / 1.25 / precision
    assert abs(chain.mean().item() - exact) < 5 * batch_means_se(chain), (chain.mean().item(), exact)


# ---- many chains as one batched chain (vectorize=True) -------------------------------------------------
def _chain_means(posterior, k):
    values = posterior.batched_trace[RETURN].value.to(torch.float64).reshape(-1, k)  # row s: kept step s
    return values.mean(0)


def test_batched_chains_give_the_same_posterior_as_sequential_chains():
    k = 400
    posterior = MH(normal_normal, num_samples=200, warmup=100, num_chains=k, vectorize=True).run()
    assert posterior.vectorized and len(posterior) == 200 * k
    means = _chain_means(posterior, k)
    batched, batched_se = means.mean().item(), means.std().item() / math.sqrt(k)  # independent chains
    sequential_chain = _chain(MH(normal_normal, num_samples=6000, warmup=200).run())
    sequential, sequential_se = sequential_chain.mean().item(), batch_means_se(sequential_chain)
    assert abs(batched - NORMAL_POST_MEAN) < 5 * batched_se, (batched, NORMAL_POST_MEAN)
    assert abs(batched - sequential) < 5 * math.hypot(batched_se, sequential_se), (batched, sequential)
    assert len(posterior.acceptance_rates) == k and 0 < posterior.acceptance_rate < 1
    assert posterior.chain_ids[:3] == [0, 1, 2] and posterior.chain_ids[k] == 0


def test_batched_chains_reject_a_reused_value_outside_its_new_support():
    def model():
        x = pyro.sample("x", dist.Uniform(0.0, 2.0))
        y = pyro.sample("y", dist.Uniform(0.0, x))  # a new x below the old y makes the old y impossible
        pyro.sample("z", dist.Normal(y, 0.5), obs=torch.tensor(0.7))
        return torch.stack([x, y])

    posterior = MH(model, num_samples=50, warmup=20, num_chains=200, vectorize=True).run()
    x, y = posterior.batched_trace["x"].value, posterior.batched_trace["y"].value
    assert posterior.vectorized and bool((y < x).all())


def test_batched_chains_name_a_factor_that_scores_nan_and_its_chain():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("log of x", torch.log(x))  # NaN for every negative x
        return x

    pyro.enable_validation(False)  # with validation on the batched run rejects the NaN parameter itself
    with pytest.raises(InferenceError) as e:
        MH(model, num_samples=10, num_chains=50, vectorize=True).run()
    message = str(e.value)
    assert "NaN" in message and "factor 'log of x'" in message and "in chain" in message


def test_a_model_that_branches_on_a_value_falls_back_with_a_note_naming_the_line():
    def branching():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        if x.item():  # vmap cannot follow this
            pyro.sample("y", dist.Normal(0.0, 1.0))
        return x

    with pytest.warns(SequentialFallbackWarning) as record:
        posterior = MH(branching, num_samples=20, num_chains=3, vectorize=True).run()
    message = str(record[0].message)
    assert "branching" in message and "if x.item():" in message and "one by one" in message
    assert not posterior.vectorized and len(posterior) == 60


def _device_model(mu):
    x = pyro.sample("x", dist.Normal(mu, torch.ones_like(mu)))
    pyro.sample("y", dist.Normal(x, 1.0), obs=torch.ones_like(mu))
    return x


@pytest.mark.cuda
def test_batched_chains_run_on_the_device_of_the_inputs():
    k = 1000
    mu = torch.zeros((), device="cuda")
    posterior = MH(_device_model, num_samples=100, warmup=100, num_chains=k, vectorize=True).run(mu)
    assert posterior.vectorized
    assert posterior.batched_trace["x"].value.device.type == "cuda"
    # x ~ N(0, 1), y = 1 ~ N(x, 1): posterior mean 0.5; the chains are independent
    means = _chain_means(posterior, k).cpu()
    assert abs(means.mean().item() - 0.5) < 5 * means.std().item() / math.sqrt(k)


def test_batched_chains_keep_the_device_of_the_inputs_on_cpu():
    posterior = MH(_device_model, num_samples=5, num_chains=10, vectorize=True).run(torch.zeros(()))
    assert posterior.batched_trace["x"].value.device.type == "cpu"


def test_a_chain_that_stays_keeps_every_step_when_interrupted():
    # Poisson(1e-12) redraws the chain's own value, 0, at every step (a Poisson's moves are not remembered, so each
    # step runs the model), so the chain stays throughout and its runs reach the store as bulk repeats; an
    # interrupt must still leave one run per finished step, each with its weight.
    runs = {"n": 0}

    def stuck():
        runs["n"] += 1
        if runs["n"] > 31:  # the initial run, then 30 proposals: the 31st step is interrupted
            raise KeyboardInterrupt
        return pyro.sample("x", dist.Poisson(1e-12))

    posterior = MH(stuck, num_samples=100).run()
    assert posterior.partial
    assert len(posterior.traces) == len(posterior.log_weights) == len(posterior.chain_ids) == 30
    assert EmpiricalMarginal(posterior).samples.tolist() == [0.0] * 30
    assert posterior.acceptance_rate == 1.0  # drawing the value it has is a proposal accepted


def test_a_chain_that_stays_longer_than_one_bulk_add_counts_each_step_once():
    posterior = MH(lambda: pyro.sample("x", dist.Bernoulli(1.0)), num_samples=1000, warmup=7, thin=3).run()
    # 1000 kept steps of one stay: more than one bulk add (mh._STAYS_AT_ONCE), each step one run
    assert len(posterior.traces) == posterior.store.num_runs == 1000
    assert list(posterior.chain_ids) == [0] * 1000
    assert posterior.trace_of_run(999)["x"].value.item() == 1.0
