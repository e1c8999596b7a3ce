"""The text form of a trace: linear in the size of the run, whatever its depth."""

import sys

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine


def chain(n):
    pyro.sample(f"x_{n}", dist.Normal(0.0, 1.0))
    return 0 if n == 0 else chain(n - 1)


def test_text_of_a_deep_recursion_grows_linearly_with_its_depth():
    pyro.set_rng_seed(0)
    short_text = str(poutine.trace(chain).get_trace(200))
    long_text = str(poutine.trace(chain).get_trace(400))
    # Twice the depth, twice the lines: linear text is about twice as long (quadratic would be ~4x).
    assert len(long_text) < 2.2 * len(short_text)


def test_text_of_a_trace_deeper_than_the_recursion_limit_is_made_without_recursing():
    pyro.set_rng_seed(0)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(6000)
    try:
        trace = poutine.trace(chain).get_trace(1500)
    finally:
        sys.setrecursionlimit(old)
    text = str(trace)  # back under the default limit: the rendering itself must not recurse
    assert text.count("\n") == 2 * 1501 - 1  # a line per call and per site
    assert "x_0 ~ Normal" in text.splitlines()[-1]
    assert trace._repr_html_().count("<details") == 1501


def test_text_can_be_cut_to_a_number_of_lines():
    pyro.set_rng_seed(0)
    text = poutine.trace(chain).get_trace(50).format(max_lines=10)
    lines = text.splitlines()
    assert len(lines) == 11 and lines[-1].startswith("… (more lines not shown")
