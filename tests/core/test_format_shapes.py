"""``Trace.format_shapes``: Pyro's table of site shapes, the tensor-shapes tutorial's way to debug plates."""

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine


def model():
    pyro.param("w", torch.ones(4, 10))
    with pyro.plate("a", 10, dim=-2), pyro.plate("b", 4):
        pyro.sample("x", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    pyro.sample("y", dist.Normal(0.0, 1.0))


def test_format_shapes_puts_batch_left_and_event_right_of_the_bar_with_log_probs_once_computed():
    pyro.clear_param_store()
    tr = poutine.trace(model).get_trace()
    assert "log_prob" not in tr.format_shapes()
    tr.compute_log_prob()
    assert tr.format_shapes().splitlines() == [
        "Trace Shapes:",
        " Param Sites:",
        "            w  4 10",
        "Sample Sites:",
        "       x dist 10  4 | 2",
        "        value 10  4 | 2",
        "     log_prob 10  4 |",
        "       y dist       |",
        "        value       |",
        "     log_prob       |",
    ]


def test_format_shapes_stops_at_last_site_and_an_empty_trace_is_its_title():
    pyro.clear_param_store()
    tr = poutine.trace(model).get_trace()
    assert "y dist" not in tr.format_shapes(last_site="x")
    assert poutine.Trace().format_shapes(title="Shapes:") == "Shapes:"
