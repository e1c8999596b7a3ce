"""``mem``: one value per arguments within a run, fresh values across runs, stable site names."""

import math

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.infer import MH, EmpiricalMarginal, Enumerate

from ..infer.stats import batch_means_se

COLOURS = ["blue", "green", "brown"]


@pyro.mem
def eye_colour(person):
    return pyro.sample("eye_colour", dist.Choice(COLOURS))


def two_looks():
    return eye_colour("bob"), eye_colour("bob"), eye_colour("alice")


def test_within_a_run_the_same_arguments_give_the_same_value():
    for _ in range(20):
        first, second, _ = poutine.trace(two_looks).get_trace().nodes["_RETURN"].value
        assert first == second


def test_across_runs_the_values_are_drawn_afresh():
    n = 1500
    tracer = poutine.trace(two_looks)
    runs = [tracer.get_trace().nodes["_RETURN"].value[0] for _ in range(2 * n)]
    agree = sum(a == b for a, b in zip(runs[0::2], runs[1::2], strict=True))
    # Two independent runs agree with probability 1/3 (a run-independent memo would make it 1).
    # SE over n disjoint pairs: sqrt(1/3 * 2/3 / n) = 0.0122 -> 5 SE = 0.061.
    assert abs(agree / n - 1 / 3) < 5 * math.sqrt(2 / 9 / n)


def test_a_memoized_choice_is_named_after_its_site_and_arguments():
    names = [name for name in poutine.trace(two_looks).get_trace().nodes if name != "_RETURN"]
    assert names == ["eye_colour(bob)", "eye_colour(alice)"]


def test_several_arguments_and_keyword_arguments_name_the_site():
    @pyro.mem
    def lazy(person, match, *, strict=False):
        return pyro.sample("lazy", dist.Bernoulli(0.3))

    def model():
        return lazy("alice", 2, strict=True), lazy("alice", 2, strict=True), lazy("bob", torch.tensor(1.0))

    trace = poutine.trace(model).get_trace()
    assert [n for n in trace.nodes if n != "_RETURN"] == ["lazy(alice, 2, strict=True)", "lazy(bob, 1)"]


def test_in_nested_calls_the_innermost_memoized_call_names_the_site():
    @pyro.mem
    def strength(person):
        return pyro.sample("strength", dist.Normal(0.0, 1.0))

    def helper(person):  # not memoized: its site takes the name of the memoized call around it
        return pyro.sample("noise", dist.Normal(0.0, 0.1))

    @pyro.mem
    def pulling(person, match):
        return strength(person) + helper(person)

    def model():
        return pulling("bob", 1) + pulling("bob", 2) + pulling("bob", 1)

    names = [n for n in poutine.trace(model).get_trace().nodes if n != "_RETURN"]
    assert names == ["strength(bob)", "noise(bob, 1)", "noise(bob, 2)"]


def test_an_unhashable_argument_gets_an_error_naming_the_function_and_the_fix():
    @pyro.mem
    def total(values):
        return pyro.sample("t", dist.Normal(sum(values), 1.0))

    with pytest.raises(pyro.UnhashableArgumentError) as e:
        poutine.trace(lambda: total([1, 2])).get_trace()
    message = str(e.value)
    assert "function 'total'" in message
    assert "[1, 2]" in message and "a tuple instead of a list" in message


def flip_twice_and_another():
    @pyro.mem
    def coin(i):
        return int(pyro.sample("coin", dist.Bernoulli(0.3)))

    return coin(1) == coin(1), coin(1) == coin(2)


def test_enumerate_sums_each_memoized_choice_once():
    posterior = Enumerate(flip_twice_and_another).run()
    same_args = EmpiricalMarginal(posterior).probability(lambda v: v[0])
    other_args = EmpiricalMarginal(posterior).probability(lambda v: v[1])
    assert same_args == pytest.approx(1.0) and len(posterior.traces) == 4
    assert other_args == pytest.approx(0.3**2 + 0.7**2, abs=1e-6)


def test_mh_proposes_memoized_choices_by_their_names():
    @pyro.mem
    def strong(person):
        return int(pyro.sample("strong", dist.Bernoulli(0.5)))

    def tug():
        # bob beats alice: likely if bob is strong and alice is not
        win = 0.9 if strong("bob") > strong("alice") else 0.5 if strong("bob") == strong("alice") else 0.1
        pyro.sample("bob_wins", dist.Bernoulli(win), obs=torch.tensor(1.0))
        return strong("bob")

    exact = EmpiricalMarginal(Enumerate(tug).run()).probability(1)  # (0.9 + 0.5) / (0.9 + 0.5 + 0.5 + 0.1) = 0.7
    posterior = MH(tug, num_samples=4000, warmup=200).run()
    assert set(posterior.traces[-1].nodes) == {"strong(bob)", "strong(alice)", "bob_wins", "_RETURN"}
    chain = [float(v) for v in EmpiricalMarginal(posterior).values]
    # batch-means SE of the chain's mean, 5 SE
    assert abs(sum(chain) / len(chain) - exact) < 5 * batch_means_se(chain)
    assert exact == pytest.approx(0.7, abs=1e-6)


def test_factors_and_deterministic_values_inside_a_memoized_call_are_named_after_its_arguments():
    @pyro.mem
    def fact(person):
        pyro.factor("liked", -1.0)
        return pyro.deterministic("height", torch.tensor(1.8))

    def model():
        fact("ann")
        fact("ann")

    tr = poutine.trace(model).get_trace()
    assert [name for name in tr.nodes if name != "_RETURN"] == ["liked(ann)", "height(ann)"]


def test_a_handler_inside_a_memoized_call_sees_the_name_every_other_handler_sees():
    seen = []

    class Watch(poutine.messenger.Messenger):
        def _pyro_sample(self, msg):
            seen.append(msg["name"])

    @pyro.mem
    def coin(person):
        with Watch():
            return pyro.sample("coin", dist.Bernoulli(0.5))

    tr = poutine.trace(lambda: coin("bo")).get_trace()
    assert seen == ["coin(bo)"] and "coin(bo)" in tr.nodes


def test_an_error_inside_a_memoized_call_leaves_later_sites_unrenamed():
    @pyro.mem
    def broken(person):
        raise ValueError("no data for " + person)

    def model():
        try:
            broken("cy")
        except ValueError:
            pass
        return pyro.sample("after", dist.Bernoulli(0.5))

    assert "after" in poutine.trace(model).get_trace().nodes


def test_an_inference_run_inside_a_memoized_call_names_its_own_sites_plainly():
    def inner():
        return pyro.sample("inner", dist.Bernoulli(0.25))

    @pyro.mem
    def belief(person):
        posterior = Enumerate(inner).run()
        names = {name for tr in posterior.traces for name in tr.nodes}
        assert "inner" in names and not any("(" in name for name in names)
        return pyro.sample("belief", dist.Bernoulli(EmpiricalMarginal(posterior).mean))

    tr = poutine.trace(lambda: belief("di")).get_trace()
    assert [name for name in tr.nodes if name != "_RETURN"] == ["belief(di)"]


def test_a_memoized_function_keeps_its_name_docstring_and_signature():
    import inspect

    def strength(person, scale=1.0):
        """How strong a person is."""
        return pyro.sample("strength", dist.Normal(0.0, scale))

    m = pyro.mem(strength)
    assert (m.__name__, m.__doc__, m.__module__) == ("strength", "How strong a person is.", __name__)
    assert str(inspect.signature(m)) == "(person, scale=1.0)" and repr(m) == "mem(strength)"
