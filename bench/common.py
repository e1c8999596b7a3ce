"""Shared timing helper for the benches: best of several repeats, reported as runs per second."""

import time


def runs_per_second(fn, number, repeat=3):
    """Call ``fn()`` ``number`` times, ``repeat`` times over; return the best rate (least disturbed by noise)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, time.perf_counter() - start)
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
