"""What the benches share: the timing helpers (best of several repeats, as runs per second) and the models
that several of them run, written once."""

import importlib
import inspect
import textwrap
import time


def peer_pyro(*submodules):
    """pyro-ppl, the peer of most benches, with ``submodules`` imported (``"infer.autoguide"``); None, after a
    note saying how to install it, where it is not installed (the bench then shows our figures alone)."""
    try:
        pyro = importlib.import_module("pyro")
        for name in submodules:
            importlib.import_module(f"pyro.{name}")
    except ImportError:
        print("pyro-ppl is not installed (pip install -e '.[bench]'): showing ours only")
        return None
    return pyro if getattr(pyro, "__name__", "") == "pyro" else None  # not a stand-in module of that name


def make_models(pyro, dist):
    """The seed's ``weather()`` and ``geometric(p)`` written against a library's ``pyro`` and ``dist`` modules
    (ours, or pyro-ppl's: today's Pyro style), so that both libraries run the very same source."""

    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        cloudy = "cloudy" if cloudy.item() == 1.0 else "sunny"
        mean_temp = {"cloudy": 55.0, "sunny": 75.0}[cloudy]
        scale_temp = {"cloudy": 10.0, "sunny": 15.0}[cloudy]
        temp = pyro.sample("temp", dist.Normal(mean_temp, scale_temp))
        return cloudy, temp.item()

    def geometric(p, t=None):
        if t is None:
            t = 0
        x = pyro.sample("x_{}".format(t), dist.Bernoulli(p))
        if x.item() == 0:
            return x
        return x + geometric(p, t + 1)

    return weather, geometric


def cell_body(fn):
    """The body of a model written in ``make_models``, as the text of a ``%%model`` cell (a cell is a body)."""
    return textwrap.dedent("\n".join(inspect.getsource(fn).splitlines()[1:])) + "\n"


# The benches that time with these run in one thread with one torch thread (torch.set_num_threads(1)), so the
# thread's CPU time is all the work done; unlike the wall clock it leaves out the waits for a core that a
# loaded, shared machine adds (there wall-clock rates fell 5x from one minute to the next, ratios drifting 20%).
clock = time.thread_time


def runs_per_second(fn, number, repeat=3):
    """Call ``fn()`` ``number`` times, ``repeat`` times over; return the best rate (least disturbed by noise)."""
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            fn()
        best = min(best, clock() - start)
    return number / best


def paired_rates(ours, peer, rounds=7):
    """Best rates of two ``(fn, number)`` cases timed in turns, so that a noisy spell on a shared machine
    hits both alike rather than one side of the ratio."""
    best_ours = best_peer = 0.0
    for _ in range(rounds):
        best_ours = max(best_ours, runs_per_second(*ours, repeat=1))
        if peer is not None:
            best_peer = max(best_peer, runs_per_second(*peer, repeat=1))
    return best_ours, (best_peer if peer is not None else None)


def report(rows, title):
    """Print rows of (name, ours runs/s, peer runs/s or None) with the ratio ours / peer."""
    print(f"\n{title}")
    print(f"{'case':44s} {'ours/s':>12s} {'pyro/s':>12s} {'ratio':>8s}")
    for name, ours, peer in rows:
        ratio = f"{ours / peer:7.1f}x" if peer else "    n/a"
        peer_text = f"{peer:12,.0f}" if peer else f"{'-':>12s}"
        print(f"{name:44s} {ours:12,.0f} {peer_text} {ratio}")
