"""Many runs at once: ppl_kernel's plates and vectorize against pyro-ppl and against raw torch, in one process.

    python bench/bench_vectorized.py [--device cuda] [--quick] [--threads 1]

The floor is the same draws written by hand in raw torch (torch.rand, torch.randn, torch.where): no PPL
can beat it on this device. Printed: milliseconds (the best of several rounds, each case timed in turn with
the others of its table) and ratios.

(a) one million draws of the plate-vectorized weather model (goal: within 1.25x of the floor);
(b) importance sampling of the weather question (temp = 70) with 100,000 particles, batched (goal: within
    2x of its floor), with the ratio to Pyro's sequential Importance, measured on fewer samples and
    scaled to samples per second;
(c) the same with the seed-style model, which branches on cloudy.data[0] and so runs one by one: the
    fallback's cost.
"""

import argparse
import math
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ppl_kernel
import ppl_kernel.distributions as pk_dist
from ppl_kernel import poutine as pk_poutine
from ppl_kernel.infer import Importance as PkImportance
from ppl_kernel.vectorize import SequentialFallbackWarning, run_batched
from tests.core import seed_models

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# Wall time, except on the CPU with one torch thread, where all the work is this thread's: its CPU time then
# measures the same work without the waits for a core that a shared, loaded machine adds (a run of a few ms
# is all but sure to be preempted once there, and the ratios to a 1 ms floor came out 4x too high).
clock = time.perf_counter


def best_seconds(fn, repeat):
    """Best time of ``repeat`` calls (the least disturbed by noise); one warm-up call first."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        sync()
        start = clock()
        fn()
        sync()
        best = min(best, clock() - start)
    return best


def best_seconds_side_by_side(fns, repeat, budget=0.3):
    """Best time of each of ``fns``, timed in turns (one call of each per round), after one warm-up call each.

    In turns, so that what the machine does meanwhile (other processes, the memory allocator's state: a fresh
    tensor of 100,000 floats costs page faults that can double a 1 ms case) falls on every side alike. Short
    cases get more rounds (up to ``budget`` seconds of the slowest warm-up's time each, at most 100 rounds):
    the best of many is steadier than the best of a few."""
    warm = []
    for fn in fns:
        start = clock()
        fn()
        sync()
        warm.append(clock() - start)
    rounds = max(repeat, min(100, int(budget / max(max(warm), 1e-9)))) if repeat > 2 else repeat
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            sync()
            start = clock()
            fn()
            sync()
            best[i] = min(best[i], clock() - start)
    return best


def sync():
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


# ---- the models, once per library ---------------------------------------------------------------------
def plate_weather(pyro, dist, device):
    """The weather model over a plate of n runs (as one would write it in Pyro)."""

    def model(n):
        with pyro.plate("runs", n):
            cloudy = pyro.sample("cloudy", dist.Bernoulli(torch.tensor(0.3, device=device)))
            mean = torch.where(cloudy == 1, 55.0, 75.0)
            scale = torch.where(cloudy == 1, 10.0, 15.0)
            return pyro.sample("temp", dist.Normal(mean, scale))

    return model


def scalar_weather_where(pyro, dist, device):
    """One run of weather with the branch as torch.where: what vectorize batches."""

    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(torch.tensor(0.3, device=device)))
        mean = torch.where(cloudy == 1, 55.0, 75.0)
        scale = torch.where(cloudy == 1, 10.0, 15.0)
        return pyro.sample("temp", dist.Normal(mean, scale))

    return weather


def scalar_weather_item(pyro, dist):
    """One run of weather in today's Pyro style (branches with .item()): what Pyro's Importance runs."""

    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        cloudy = "cloudy" if cloudy.item() == 1.0 else "sunny"
        mean_temp = {"cloudy": 55.0, "sunny": 75.0}[cloudy]
        scale_temp = {"cloudy": 10.0, "sunny": 15.0}[cloudy]
        return cloudy, pyro.sample("temp", dist.Normal(mean_temp, scale_temp))

    return weather


# ---- the floors: the same draws by hand ----------------------------------------------------------------
def floor_draws(n, device):
    cloudy = torch.rand(n, device=device) < 0.3
    mean = torch.where(cloudy, 55.0, 75.0)
    scale = torch.where(cloudy, 10.0, 15.0)
    return cloudy, torch.randn(n, device=device) * scale + mean


def floor_importance(n, device):
    """P(cloudy | temp = 70) by likelihood weighting, by hand."""
    cloudy = torch.rand(n, device=device) < 0.3
    mean = torch.where(cloudy, 55.0, 75.0)
    scale = torch.where(cloudy, 10.0, 15.0)
    z = (70.0 - mean) / scale
    log_w = -0.5 * z * z - scale.log() - LOG_SQRT_2PI
    w = torch.softmax(log_w, 0)
    return (w * cloudy).sum().item()


# ---- the cases ----------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 gives steady numbers on a shared, busy machine)")
    opts = parser.parse_args()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = torch.device(opts.device)
    global clock
    if device.type == "cpu" and torch.get_num_threads() == 1:
        clock = time.thread_time
    repeat = 2 if opts.quick else 7

    import pyro
    import pyro.distributions as pyro_dist
    from pyro import poutine as pyro_poutine
    from pyro.infer import EmpiricalMarginal as PyroEmpiricalMarginal, Importance as PyroImportance

    ppl_kernel.enable_validation(False)
    pyro.enable_validation(False)  # both without argument checks: the floor has none
    print(f"device: {device}; torch {torch.__version__} ({torch.get_num_threads()} CPU threads); "
          f"pyro-ppl {pyro.__version__}; validation off in both; timed by "
          f"{'this thread' + chr(39) + 's CPU time' if clock is time.thread_time else 'the wall clock'}")

    # (a) one million draws ------------------------------------------------------------------------------
    n = 1_000_000
    pk_plate = plate_weather(ppl_kernel, pk_dist, device)
    py_plate = plate_weather(pyro, pyro_dist, device)
    pk_where = scalar_weather_where(ppl_kernel, pk_dist, device)
    cases = [
        ("raw torch (the floor)", lambda: floor_draws(n, device)),
        ("ppl_kernel: plate model, untraced", lambda: pk_plate(n)),
        ("ppl_kernel: plate model, traced", lambda: pk_poutine.trace(pk_plate, calls=False).get_trace(n)),
        ("pyro: plate model, untraced", lambda: py_plate(n)),
        ("pyro: plate model, traced", lambda: pyro_poutine.trace(py_plate).get_trace(n)),
        ("ppl_kernel: run_batched(scalar model), vmapped", lambda: run_batched(pk_where, n)),
    ]
    seconds = best_seconds_side_by_side([fn for _, fn in cases], repeat)
    rows = [(name, t) for (name, _), t in zip(cases, seconds, strict=True)]
    floor = seconds[0]
    print_times("(a) 1,000,000 draws of weather (goal: plate model within 1.25x of the floor)", rows, floor)

    # (b) importance sampling, 100,000 particles ---------------------------------------------------------------
    n = 100_000
    data = {"temp": torch.tensor(70.0, device=device)}
    pk_at_70 = pk_poutine.condition(pk_where, data=data)

    def ours_batched():
        posterior = PkImportance(pk_at_70, num_samples=n, vectorize=True).run()
        assert posterior.vectorized
        return posterior.marginal("cloudy").mean.item()

    floor, ours = best_seconds_side_by_side([lambda: floor_importance(n, device), ours_batched], repeat)
    rows = [("raw torch (the floor)", floor), ("ppl_kernel: Importance(..., vectorize=True)", ours)]
    print_times("(b) importance sampling, P(cloudy | temp=70), 100,000 particles (goal: within 2x of the floor)",
                rows, floor)
    py_item = scalar_weather_item(pyro, pyro_dist)
    py_at_70 = pyro_poutine.condition(py_item, data={"temp": torch.tensor(70.0)})
    m = 2000 if opts.quick else 5000

    def pyro_sequential():
        posterior = PyroImportance(py_at_70, guide=None, num_samples=m).run()
        return PyroEmpiricalMarginal(posterior, "cloudy").mean.item()

    pyro_rate = m / best_seconds(pyro_sequential, 1 if opts.quick else 2)
    ours_rate = n / ours
    print(f"  samples/s: ppl_kernel batched {ours_rate:,.0f}; pyro Importance (sequential, {m} samples) "
          f"{pyro_rate:,.0f}; ratio {ours_rate / pyro_rate:,.0f}x")
    print(f"  answers: ours {ours_batched():.4f}, floor {floor_importance(n, device):.4f}, pyro "
          f"{pyro_sequential():.4f}, exact {exact_p_cloudy():.4f}")

    # (c) the seed-style model: the fallback ------------------------------------------------------------------
    seed_at_70 = pk_poutine.condition(seed_models.weather, data={"temp": torch.tensor([70.0])})
    m = 2000 if opts.quick else 5000

    def ours_fallback():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SequentialFallbackWarning)
            posterior = PkImportance(seed_at_70, num_samples=m, vectorize=True).run()
        assert not posterior.vectorized
        return posterior

    def ours_importance_seed():
        posterior = PkImportance(seed_at_70, num_samples=m).run()
        assert not posterior.vectorized
        return posterior

    fallback_rate = m / best_seconds(ours_fallback, 1 if opts.quick else 2)
    importance_rate = m / best_seconds(ours_importance_seed, 1 if opts.quick else 2)
    print(f"\n(c) the seed-style weather (branches on cloudy.data[0]): runs one by one, {m} samples")
    print(f"  samples/s: vectorize=True, fallen back {fallback_rate:,.0f}; Importance {importance_rate:,.0f}; "
          f"pyro Importance {pyro_rate:,.0f} (ratio ours/pyro {importance_rate / pyro_rate:.1f}x); "
          f"batched path {ours_rate:,.0f} ({ours_rate / importance_rate:,.0f}x the fallback)")


def exact_p_cloudy():
    def pdf(x, mu, sigma):
        return math.exp(-0.5 * ((x - mu) / sigma) ** 2) / sigma

    c, s = 0.3 * pdf(70, 55, 10), 0.7 * pdf(70, 75, 15)
    return c / (c + s)


def print_times(title, rows, floor):
    print(f"\n{title}")
    print(f"  {'case':48s} {'ms':>9s} {'/ floor':>8s}")
    for name, seconds in rows:
        print(f"  {name:48s} {seconds * 1e3:9.2f} {seconds / floor:7.2f}x")


if __name__ == "__main__":
    main()
