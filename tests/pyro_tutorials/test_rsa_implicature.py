"""Pyro's RSA scalar-implicature tutorial: nested exact ``Search`` (a ``TracePosterior`` subclass driving
``poutine.queue``) gives the pragmatic listener's reading of "some" as "some but not all"; each level is
checked against the same recursion computed by hand in plain Python."""

import math

import pytest
import torch

TOTAL = 4
UTTERANCES = ["none", "some", "all"]
MEANINGS = {"none": lambda n: n == 0, "some": lambda n: n > 0, "all": lambda n: n == TOTAL}


@pytest.fixture(autouse=True)
def double_precision():
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # as the tutorial does, for the -999999 factors
    yield
    torch.set_default_dtype(saved)


def rsa_models():
    import pyro
    import pyro.distributions as dist
    import pyro.poutine as poutine

    from .rsa_search import Marginal

    def state_prior():
        return pyro.sample("state", dist.Categorical(probs=torch.ones(TOTAL + 1) / (TOTAL + 1)))

    def utterance_prior():
        return UTTERANCES[pyro.sample("utt", dist.Categorical(probs=torch.ones(3) / 3))]

    @Marginal
    def literal_listener(utterance):
        state = state_prior()
        pyro.factor("literal_meaning", 0.0 if MEANINGS[utterance](state) else -999999.0)
        return state

    @Marginal
    def speaker(state):
        with poutine.scale(scale=torch.tensor(1.0)):
            utterance = utterance_prior()
            pyro.sample("listener", literal_listener(utterance), obs=state)
        return utterance

    @Marginal
    def pragmatic_listener(utterance):
        state = state_prior()
        pyro.sample("speaker", speaker(state), obs=utterance)
        return state

    return literal_listener, speaker, pragmatic_listener


# The same recursion by hand: L0(s|u) ∝ P(s)[u true of s], S1(u|s) ∝ P(u) L0(s|u), L1(s|u) ∝ P(s) S1(u|s).
def normalized(weights):
    total = math.fsum(weights.values())
    return {k: w / total for k, w in weights.items()}


def exact_literal(u):
    return normalized({s: 1.0 if MEANINGS[u](s) else 0.0 for s in range(TOTAL + 1)})


def exact_speaker(s):
    return normalized({u: exact_literal(u)[s] for u in UTTERANCES})


def exact_pragmatic(u):
    return normalized({s: exact_speaker(s)[u] for s in range(TOTAL + 1)})


def as_table(marginal):
    return {(v.item() if torch.is_tensor(v) else v): marginal.log_prob(v).exp().item()
            for v in marginal.enumerate_support()}


def assert_tables_equal(found, expected):
    assert set(found) == set(expected)
    for key, p in expected.items():
        assert found[key] == pytest.approx(p, abs=1e-9), key


def test_literal_listener_spreads_some_over_the_true_states():
    literal_listener, _, _ = rsa_models()
    assert_tables_equal(as_table(literal_listener("some")), exact_literal("some"))


def test_speaker_who_saw_all_prefers_all_to_some():
    _, speaker, _ = rsa_models()
    table = as_table(speaker(torch.tensor(TOTAL)))
    assert_tables_equal(table, exact_speaker(TOTAL))
    assert table["all"] == pytest.approx(0.8) and table["some"] == pytest.approx(0.2)


def test_pragmatic_listener_reads_some_as_not_all():
    _, _, pragmatic_listener = rsa_models()
    table = as_table(pragmatic_listener("some"))
    assert_tables_equal(table, exact_pragmatic("some"))
    # The implicature: "all" is a fifth as likely as each of 1-3, where the literal reading has them equal.
    assert table[TOTAL] == pytest.approx(table[1] / 5, rel=1e-9) and table[0] == 0.0


def test_search_enumerates_each_execution_once_with_its_joint_log_probability():
    import pyro
    import pyro.distributions as dist

    from .rsa_search import Search

    def model():
        a = pyro.sample("a", dist.Bernoulli(0.3))
        b = pyro.sample("b", dist.Categorical(probs=torch.tensor([0.5, 0.25, 0.25])))
        return a, b

    posterior = Search(model).run()
    runs = {(float(tr.nodes["a"]["value"]), int(tr.nodes["b"]["value"])): float(lw)
            for tr, lw in zip(posterior.exec_traces, posterior.log_weights, strict=True)}
    assert len(runs) == 6 and len(posterior.exec_traces) == 6
    for (a, b), log_weight in runs.items():
        assert log_weight == pytest.approx(math.log((0.3 if a else 0.7) * [0.5, 0.25, 0.25][b]))
