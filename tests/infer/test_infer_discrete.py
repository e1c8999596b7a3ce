"""infer_discrete: the most likely joint values (temperature=0) and draws from the exact posterior
(temperature=1) of a model's enumerated sites."""

import itertools

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import config_enumerate, infer_discrete

T = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.2, 0.5]])
E = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
OBS = torch.tensor([0, 2, 2, 1, 0])


def hmm(obs):
    x = 0
    states = []
    for t in pyro.markov(range(len(obs))):
        x = pyro.sample(f"x_{t}", dist.Categorical(T[x]), infer={"enumerate": "parallel"})
        pyro.sample(f"y_{t}", dist.Categorical(E[x]), obs=obs[t])
        states.append(x)
    return states


def joint_posterior():
    """p(x_0..x_4 | obs) by brute force over all 3^5 paths."""
    table = {}
    for path in itertools.product(range(3), repeat=len(OBS)):
        p, prev = 1.0, 0
        for x, y in zip(path, OBS.tolist(), strict=True):
            p *= T[prev, x].item() * E[x, y].item()
            prev = x
        table[path] = p
    total = sum(table.values())
    return {path: p / total for path, p in table.items()}


def test_temperature_zero_gives_the_most_likely_path():
    posterior = joint_posterior()
    states = infer_discrete(hmm, first_available_dim=-1, temperature=0)(OBS)
    assert tuple(int(x) for x in states) == max(posterior, key=posterior.get)


def test_draws_of_the_first_state_follow_its_exact_posterior_marginal():
    posterior = joint_posterior()
    exact = torch.zeros(3)
    for path, p in posterior.items():
        exact[path[0]] += p
    pyro.set_rng_seed(0)
    n = 300
    counts = torch.zeros(3)
    sampler = infer_discrete(hmm, first_available_dim=-1)
    for _ in range(n):
        counts[int(sampler(OBS)[0])] += 1
    # Each count is Binomial(n, p): within 5 of its standard deviations sqrt(n p (1 - p)) of n p.
    sd = (n * exact * (1 - exact)).sqrt()
    assert ((counts - n * exact).abs() < 5 * sd).all(), (counts / n, exact)


def test_draws_are_joint_paths_not_independent_marginals():
    # x_1 and x_2 are dependent given the data: the pair frequencies follow the joint posterior.
    posterior = joint_posterior()
    exact = {}
    for path, p in posterior.items():
        exact[path[1:3]] = exact.get(path[1:3], 0.0) + p
    pyro.set_rng_seed(1)
    n = 300
    counts = {}
    sampler = infer_discrete(hmm, first_available_dim=-1)
    for _ in range(n):
        states = sampler(OBS)
        pair = (int(states[1]), int(states[2]))
        counts[pair] = counts.get(pair, 0) + 1
    for pair, p in exact.items():
        sd = (n * p * (1 - p)) ** 0.5
        assert abs(counts.get(pair, 0) - n * p) < 5 * sd + 1e-9, pair  # 5 binomial standard deviations


def test_a_trace_of_the_served_model_records_one_plain_run():
    @config_enumerate
    def model(data):
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", dist.Bernoulli(0.5))
            pyro.sample("obs", dist.Normal(z * 10.0, 1.0), obs=data)

    data = torch.tensor([0.1, 9.5, 10.2, -0.4])
    trace = poutine.trace(infer_discrete(model, first_available_dim=-2, temperature=0)).get_trace(data)
    assert trace.nodes["z"].value.tolist() == [0.0, 1.0, 1.0, 0.0]
    assert [name for name, site in trace.nodes.items() if site.type == "sample"] == ["z", "obs"]


def test_a_temperature_other_than_zero_or_one_is_an_error():
    with pytest.raises(ValueError, match="temperature must be 1 .* or 0"):
        infer_discrete(hmm, first_available_dim=-1, temperature=0.5)


def test_a_missing_first_available_dim_is_an_error_saying_what_to_give():
    with pytest.raises(ValueError, match="first_available_dim.*-1 - the number of nested plates"):
        infer_discrete(hmm)


def test_the_map_path_equals_pyro_ppl():
    real = pytest.importorskip("pyro")
    if real.__name__ != "pyro":
        pytest.skip("`pyro` is aliased to ppl_kernel in this process")
    import pyro.distributions as rdist
    from pyro.infer import infer_discrete as real_infer_discrete

    def real_hmm(obs):
        x, states = 0, []
        for t in real.markov(range(len(obs))):
            x = real.sample(f"x_{t}", rdist.Categorical(T[x]), infer={"enumerate": "parallel"})
            real.sample(f"y_{t}", rdist.Categorical(E[x]), obs=obs[t])
            states.append(x)
        return states

    theirs = real_infer_discrete(real_hmm, first_available_dim=-1, temperature=0)(OBS)
    mine = infer_discrete(hmm, first_available_dim=-1, temperature=0)(OBS)
    assert [int(x) for x in mine] == [int(x) for x in theirs]


def test_a_local_site_drawn_before_a_global_site_it_shares_a_factor_with_is_an_error():
    def model():
        with pyro.plate("p", 3):
            h = pyro.sample("h", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        g = pyro.sample("g", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        with pyro.plate("p", 3):
            pyro.sample("o", dist.Normal(h + g, 1.0), obs=torch.zeros(3))

    with pytest.raises(pyro.EnumerationError, match="'g'"):
        infer_discrete(model, first_available_dim=-2)()
