"""Profiling a model in IPython (%prun, which runs cProfile) works with tracing."""

from .conftest import ICE_CREAM, WEATHER, cell


def test_prun_of_a_trace_with_nested_calls_works_and_keeps_the_call_tree(shell):
    for text in (WEATHER, ICE_CREAM):
        cell(shell, text.format(opts="--no-show"))
    # ice_cream_sales calls weather: the nested call installs the trace's return-value hook under the profiler.
    cell(shell, "from ppl_kernel import poutine\n"
                "profiled = %prun -q -r poutine.trace(ice_cream_sales).get_trace()")
    stats = shell.user_ns["profiled"]
    assert any(func[2] == "weather" for func in stats.stats)  # the profiler saw the model's own calls
    cell(shell, "tr = poutine.trace(ice_cream_sales).get_trace()")  # and tracing works after it ends
    tr = shell.user_ns["tr"]
    assert [c.name for c in tr.root.calls] == ["weather"]
    assert [s.name for s in tr] == ["cloudy", "temp", "ice_cream"]
