"""Pyro's RSA hyperbole tutorial: states are namedtuples, marginals are sampled and observed as Python
objects, and a question under discussion projects the literal listener. Each result is checked against
the same recursion computed by hand in plain Python."""

import collections
import math

import pytest
import torch

State = collections.namedtuple("State", ["price", "arousal"])
PRICES = [50, 51, 500, 501, 1000, 1001, 5000, 5001, 10000, 10001]
PRICE_PROBS = [0.4205, 0.3865, 0.0533, 0.0538, 0.0223, 0.0211, 0.0112, 0.0111, 0.0083, 0.0120]
AROUSAL_PROBS = dict(zip(PRICES, [0.3173, 0.3173, 0.7920, 0.7920, 0.8933, 0.8933, 0.9524, 0.9524, 0.9864, 0.9864],
                         strict=True))


def approx(x, b=10.0):
    """Round to the nearest multiple of ``b`` (halves up), as the tutorial's helper."""
    return int(b) * math.floor(x / b + 0.5)


QUDS = {
    "price": lambda s: State(s.price, None),
    "arousal": lambda s: State(None, s.arousal),
    "priceArousal": lambda s: State(s.price, s.arousal),
    "approxPrice": lambda s: State(approx(s.price), None),
    "approxPriceArousal": lambda s: State(approx(s.price), s.arousal),
}


def cost(utterance):
    return 0.0 if approx(utterance) == utterance else 10.0  # a precise number costs more to say


@pytest.fixture(autouse=True)
def double_precision():
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)


def hyperbole_models():
    import pyro
    import pyro.distributions as dist
    import pyro.poutine as poutine

    from .rsa_search import Marginal

    def state_prior():
        price = PRICES[pyro.sample("price", dist.Categorical(probs=torch.tensor(PRICE_PROBS)))]
        aroused = pyro.sample("arousal", dist.Bernoulli(probs=AROUSAL_PROBS[price])).item() == 1
        return State(price, aroused)

    def qud_prior():
        names = list(QUDS)
        return names[pyro.sample("qud", dist.Categorical(probs=torch.ones(len(names)) / len(names)))]

    def utterance_prior():
        logits = -torch.tensor([cost(u) for u in PRICES])
        return PRICES[pyro.sample("utterance", dist.Categorical(logits=logits))]

    @Marginal
    def project(marginal, qud):
        return QUDS[qud](pyro.sample("proj", marginal))

    @Marginal
    def literal_listener(utterance):
        state = state_prior()
        pyro.factor("literal_meaning", 0.0 if utterance == state.price else -999999.0)
        return state

    @Marginal
    def speaker(state, qud):
        with poutine.scale(scale=torch.tensor(1.0)):
            utterance = utterance_prior()
            pyro.sample("listener", project(literal_listener(utterance), qud), obs=QUDS[qud](state))
        return utterance

    @Marginal
    def pragmatic_listener(utterance):
        state = state_prior()
        qud = qud_prior()
        pyro.sample("speaker", speaker(state, qud), obs=utterance)
        return state

    @Marginal
    def price_marginal(utterance):
        return pyro.sample("pm", pragmatic_listener(utterance)).price

    return speaker, price_marginal


# ---- the same recursion by hand ---------------------------------------------------------------------
def normalized(weights):
    total = math.fsum(weights.values())
    return {k: w / total for k, w in weights.items()}


STATES = {State(p, a): pp * (AROUSAL_PROBS[p] if a else 1 - AROUSAL_PROBS[p])
          for p, pp in zip(PRICES, normalized(dict(enumerate(PRICE_PROBS))).values(), strict=True)
          for a in (False, True)}


def exact_projected(utterance, qud):
    literal = normalized({s: w if s.price == utterance else 0.0 for s, w in STATES.items()})
    projected = collections.defaultdict(float)
    for s, p in literal.items():
        projected[QUDS[qud](s)] += p
    return projected


def exact_speaker(state, qud):
    return normalized({u: math.exp(-cost(u)) * exact_projected(u, qud)[QUDS[qud](state)] for u in PRICES})


def exact_price_marginal(utterance):
    prices = collections.defaultdict(float)
    for s, w in STATES.items():
        prices[s.price] += w * math.fsum(exact_speaker(s, q)[utterance] for q in QUDS) / len(QUDS)
    return normalized(prices)


def as_table(marginal):
    return {v: marginal.log_prob(v).exp().item() for v in marginal.enumerate_support()}


def test_speaker_who_cares_about_arousal_may_say_a_price_that_is_not_true():
    speaker, _ = hyperbole_models()
    table = as_table(speaker(State(price=50, arousal=True), "arousal"))
    expected = exact_speaker(State(50, True), "arousal")
    assert set(table) == set(expected)
    for u, p in expected.items():
        assert table[u] == pytest.approx(p, abs=1e-9), u
    assert sum(p for u, p in table.items() if u != 50) > 0.5  # hyperbole: mostly an untrue round number


def test_pragmatic_listener_hearing_10000_thinks_a_lower_price_likely():
    _, price_marginal = hyperbole_models()
    table = as_table(price_marginal(10000))
    expected = exact_price_marginal(10000)
    for price, p in expected.items():
        assert table[price] == pytest.approx(p, abs=1e-9), price
    assert table[50] + table[51] > table[10000]  # "it cost 10,000" is read as "it cost a lot (to me)"
