"""The weather question under inference: ppl_kernel against pyro-ppl in one process.

    python bench/bench_inference.py [--profile]

The seed's weather model (today's Pyro spelling, the same source for both libraries) conditioned
on temp = 70. Prints importance samples/s for ours and for ``pyro.infer.Importance`` with the ratio
(goal: 10x), and our MH steps/s (Pyro has no trace-MH to compare; ``bench_webppl.py`` runs the same
question under WebPPL's MH in the same run and prints that ratio). ``--profile`` prints cProfile's top entries
for one MH run and one importance run: the hot path to keep short.
"""

import cProfile
import os
import pstats
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import make_models, peer_pyro, report

import ppl_kernel
import ppl_kernel.distributions
from ppl_kernel.infer import MH, EmpiricalMarginal, Importance

def make_weather(pyro, dist):
    weather = make_models(pyro, dist)[0]  # the same source as bench_core's, for both libraries
    return pyro.condition(weather, data={"temp": torch.tensor(70.0)})


def best_rate(run, count, repeat=3):
    """Best of ``repeat`` timings of ``run()``, which does ``count`` units of work: units per second."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def p_cloudy(posterior):
    return EmpiricalMarginal(posterior).probability(lambda v: v[0] == "cloudy")


def main(n=20_000, profile=False):
    torch.set_num_threads(1)
    ours_model = make_weather(ppl_kernel, ppl_kernel.distributions)
    rows = []
    ours_is = best_rate(lambda: Importance(ours_model, num_samples=n).run(), n)
    pyro = peer_pyro("distributions", "infer")
    theirs_is, version = None, "absent"
    if pyro is not None:
        pyro_model = make_weather(pyro, pyro.distributions)
        m = n // 10
        theirs_is = best_rate(lambda: pyro.infer.Importance(pyro_model, num_samples=m).run(), m)
        version = pyro.__version__
    rows.append(("Importance, weather | temp=70 (samples/s)", ours_is, theirs_is))
    mh_rate = best_rate(lambda: MH(ours_model, num_samples=n).run(), n)
    rows.append(("MH, weather | temp=70 (steps/s)", mh_rate, None))
    report(rows, f"Inference (per second; ratio = ours / pyro-ppl {version})")
    print("MH against WebPPL, both measured in one run: python bench/bench_webppl.py")
    check = Importance(ours_model, num_samples=n).run()
    print(f"sanity: P(cloudy | temp=70) by importance = {p_cloudy(check):.4f} (exact 0.1807)")
    if profile:
        for name, stmt in (("MH", lambda: MH(ours_model, num_samples=n).run()),
                           ("Importance", lambda: Importance(ours_model, num_samples=n).run())):
            profiler = cProfile.Profile()
            profiler.runcall(stmt)
            print(f"\n--- {name}: top functions by own time")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(14)


if __name__ == "__main__":
    main(profile="--profile" in sys.argv)
