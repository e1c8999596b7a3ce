"""Scalar models, traced and untraced: ppl_kernel against pyro-ppl in one process.

    python bench/bench_core.py

Prints runs/s for the seed's ``weather()`` and ``geometric()`` (today's Pyro style, so both libraries
run the very same source) and the ratio ours / Pyro. The seed-style (0.1-era) spelling runs on ours only.
Then the traced ``weather()`` against the same draws written in raw torch (issue 13's goal: within 1.5x of that
floor's time), validation on and off. Rates are per second of this thread's CPU time (common.clock).
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import make_models, paired_rates, peer_pyro, report, runs_per_second

import ppl_kernel
import ppl_kernel.distributions
from tests.core import seed_models


def weather_floor():
    """The same draws and ``.item()`` calls as ``weather()``, written in raw torch: no PPL can beat it."""
    cloudy = torch.empty(()).bernoulli_(0.3)
    cloudy = "cloudy" if cloudy.item() == 1.0 else "sunny"
    mean_temp = {"cloudy": 55.0, "sunny": 75.0}[cloudy]
    scale_temp = {"cloudy": 10.0, "sunny": 15.0}[cloudy]
    temp = torch.normal(mean_temp, scale_temp, ())
    return cloudy, temp.item()


def floor_ratios(n):
    """Time of a traced ``weather()`` over the raw-torch floor's, with validation on and off (goal: <= 1.5)."""
    weather = make_models(ppl_kernel, ppl_kernel.distributions)[0]
    lines = []
    for validate in (True, False):
        ppl_kernel.enable_validation(validate)
        traced = ppl_kernel.poutine.trace(weather, calls=False)
        ours, floor = paired_rates((traced.get_trace, n), (weather_floor, n))
        lines.append(f"traced weather() (call tree off), validation {'on ' if validate else 'off'}: "
                     f"{floor / ours:.2f}x the raw-torch floor's time ({ours:,.0f} vs {floor:,.0f} runs/s)")
    # The same model called plainly (no handler): what our sample statements and distributions cost before any
    # tracing, the least a traced run can cost.
    plain, floor = paired_rates((weather, n), (weather_floor, n))
    lines.append(f"weather() called plainly, no trace (validation off): {floor / plain:.2f}x the raw-torch floor's "
                 f"time ({plain:,.0f} vs {floor:,.0f} runs/s)")
    ppl_kernel.enable_validation(True)
    return lines


def shortcut_gain(n):
    """Traced weather() with apply_stack's one-handler shortcut against the general loop alone (the shortcut
    stays only while this shows that it pays)."""
    import ppl_kernel.primitives as primitives
    from ppl_kernel.runtime import apply_each, apply_stack

    traced = ppl_kernel.poutine.trace(make_models(ppl_kernel, ppl_kernel.distributions)[0], calls=False)

    def run_with(path):
        def run():
            primitives.apply_stack = path
            try:
                traced.get_trace()
            finally:
                primitives.apply_stack = apply_stack
        return run

    with_shortcut, loop_only = paired_rates((run_with(apply_stack), n), (run_with(apply_each), n))
    return (f"one-handler shortcut in apply_stack: {with_shortcut / loop_only:.2f}x the runs/s of the general loop "
            f"({with_shortcut:,.0f} vs {loop_only:,.0f})")


def cases(pyro, dist, poutine, n):
    weather, geometric = make_models(pyro, dist)
    traced_weather = poutine.trace(weather)
    traced_geometric = poutine.trace(geometric)
    return {
        "weather() untraced": (weather, n),
        "weather() traced": (traced_weather.get_trace, n),
        "geometric(0.5) untraced": (lambda: geometric(0.5), n),
        "geometric(0.5) traced": (lambda: traced_geometric.get_trace(0.5), n),
    }


def main(n=3000):
    torch.set_num_threads(1)
    ours = cases(ppl_kernel, ppl_kernel.distributions, ppl_kernel.poutine, n)
    pyro = peer_pyro("distributions", "poutine")
    peer = cases(pyro, pyro.distributions, pyro.poutine, n // 5) if pyro is not None else {}
    rows = []
    for name, case in ours.items():
        rows.append((name, *paired_rates(case, peer.get(name))))
    seed_weather = seed_models.weather
    seed_geometric = seed_models.geometric
    half = torch.tensor([0.5])
    rows.append(("seed-style weather() traced (0.1 spelling)",
                 runs_per_second(ppl_kernel.poutine.trace(seed_weather).get_trace, n), None))
    rows.append(("seed-style geometric traced (0.1 spelling)",
                 runs_per_second(lambda: ppl_kernel.poutine.trace(seed_geometric).get_trace(half), n), None))
    rows.append(("weather() traced, call tree off",
                 runs_per_second(ppl_kernel.poutine.trace(make_models(ppl_kernel, ppl_kernel.distributions)[0],
                                                          calls=False).get_trace, n), None))
    report(rows, "Scalar models (runs per second; ratio = ours / pyro-ppl " +
           (pyro.__version__ if peer else "absent") + ")")
    print()
    for line in floor_ratios(n):
        print(line)
    print(shortcut_gain(n))


if __name__ == "__main__":
    main()
