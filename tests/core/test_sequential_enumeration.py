"""Pyro's sequential enumeration pieces: ``poutine.escape`` (with ``NonlocalExit``), ``poutine.util``'s
extend and escape rules, and ``poutine.queue``, which together give one complete run per call."""

import queue

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.runtime import get_stack


def two_flips():
    a = pyro.sample("a", dist.Bernoulli(0.25))
    b = pyro.sample("b", dist.Bernoulli(0.5))
    return int(a), int(b)


def test_escape_raises_nonlocal_exit_carrying_the_site():
    with pytest.raises(poutine.NonlocalExit) as caught:
        poutine.escape(two_flips, escape_fn=lambda msg: msg["name"] == "b")()
    assert caught.value.site["name"] == "b"
    assert get_stack() == []  # every handler left the stack on the way out


def test_handlers_outside_escape_never_see_the_escaped_site():
    tracer = poutine.trace(poutine.escape(two_flips, escape_fn=lambda msg: msg["name"] == "b"))
    with pytest.raises(poutine.NonlocalExit):
        tracer()
    assert list(tracer.trace.nodes) == ["a"]


def test_reset_stack_starts_the_enclosing_trace_again():
    with poutine.trace() as tracer:
        pyro.sample("before", dist.Normal(0.0, 1.0))
        try:
            poutine.escape(two_flips, escape_fn=lambda msg: msg["name"] == "a")()
        except poutine.NonlocalExit as e:
            e.reset_stack()
    assert "before" not in tracer.trace


def test_reset_stack_stops_at_a_block_that_hid_the_site():
    with poutine.trace() as tracer:
        pyro.sample("before", dist.Normal(0.0, 1.0))
        with poutine.block():
            try:
                poutine.escape(two_flips, escape_fn=lambda msg: msg["name"] == "a")()
            except poutine.NonlocalExit as e:
                e.reset_stack()
    assert "before" in tracer.trace


def test_discrete_escape_leaves_at_an_unfixed_enumerable_latent_site_only():
    from ppl_kernel.runtime import Site

    fixed = poutine.Trace()
    fixed.nodes["a"] = Site("sample", "a", dist.Bernoulli(0.5), (), {}, torch.tensor(1.0))
    coin = Site("sample", "b", dist.Bernoulli(0.5), (), {})
    gauss = Site("sample", "c", dist.Normal(0.0, 1.0), (), {})
    observed = Site("sample", "d", dist.Bernoulli(0.5), (), {}, torch.tensor(1.0), True)
    again = Site("sample", "a", dist.Bernoulli(0.5), (), {})
    assert [poutine.util.discrete_escape(fixed, s) for s in (coin, gauss, observed, again)] == [True, False, False, False]
    assert poutine.util.all_escape(fixed, gauss)


def test_enum_extend_gives_one_trace_per_value_and_num_samples_limits_them():
    from ppl_kernel.runtime import Site

    site = Site("sample", "k", dist.Categorical(probs=torch.ones(4) / 4), (), {})
    extended = poutine.util.enum_extend(poutine.Trace(), site)
    assert [int(tr["k"].value) for tr in extended] == [0, 1, 2, 3]
    assert len(poutine.util.enum_extend(poutine.Trace(), site, num_samples=1)) == 2  # Pyro counts from 0


def test_queue_gives_each_complete_run_once():
    q = queue.Queue()
    q.put(poutine.Trace())
    runs = []
    while not q.empty():
        tr = poutine.trace(poutine.queue(two_flips, queue=q)).get_trace()
        runs.append((tr.return_value, round(tr.log_prob_sum().exp().item(), 6)))
    assert sorted(runs) == [((0, 0), 0.375), ((0, 1), 0.375), ((1, 0), 0.125), ((1, 1), 0.125)]


def test_queue_on_an_empty_queue_says_what_to_check():
    with pytest.raises(ValueError, match=r"queue of partial traces of 'two_flips' is empty; check queue.empty\(\)"):
        poutine.queue(two_flips, queue=queue.Queue())()


def test_queue_without_a_queue_says_how_to_make_one():
    with pytest.raises(ValueError, match=r"poutine.queue needs queue=\.\.\..*q.put\(poutine.Trace\(\)\)"):
        poutine.queue(two_flips)


def test_queue_that_runs_out_of_tries_names_the_model_and_the_fix():
    q = queue.Queue()
    q.put(poutine.Trace())
    with pytest.raises(ValueError, match=r"no run of 'two_flips' completed in max_tries=1 tries; raise max_tries"):
        poutine.queue(two_flips, queue=q, max_tries=1)()
