"""Sampling and inference throughput with the live view on, against the same loop with it off.

    python bench/bench_live_view.py            # in this process, then inside a real Jupyter kernel
    python bench/bench_live_view.py --no-kernel

The live view refreshes a few times a second from the run loop (the histogram panels and the running
estimate: extension/live_sampling.py for ``%sample``, extension/inference_progress.py's LiveProgress for
any inference); the goal is that it costs at most 10% of the throughput (ratio live / off >= 0.9).
In this process the widget has no frontend, so its messages go nowhere; inside a kernel (run through
nbclient) they are real comm messages over IOPub, received by a client that stores the widget state.
Both columns run the very same loop: for sampling ``LiveSampling`` with and without its widget, for
inference the algorithm with and without ``progress=LiveProgress()``.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MH, Importance
from ppl_kernel_jupyter import LiveProgress
from ppl_kernel_jupyter.live_sampling import LiveSampling
from tests.core.seed_models import geometric_modern as geometric, weather_modern as weather

CASES = [("weather()", weather, (), 20_000), ("geometric(0.5)", geometric, (0.5,), 15_000)]
GOAL = 0.9  # live / off: the live view costs at most 10% of the throughput


def gauss_data():
    """A batched-friendly model with 200 observations: Importance(vectorize=True) runs it in chunks."""
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    with pyro.plate("data", 200):
        pyro.sample("y", dist.Normal(x, 1.0), obs=_DATA)
    return x


_DATA = torch.linspace(-1.0, 3.0, 200)
INFERENCE = [
    ("MH weather()", lambda progress: MH(weather, num_samples=15_000, progress=progress), 15_000),
    ("Importance vectorized", lambda progress: Importance(gauss_data, num_samples=300_000, vectorize=True,
                                                          progress=progress), 300_000),
]


def rate(model, args, n, live, display=False):
    """One run: runs per CPU second while sampling, the share of its time spent refreshing the view,
    the refreshes sent, and the CPU seconds of the end-of-run picture (a one-time cost)."""
    run = LiveSampling(model, args, num_samples=n, seed=0, live=live, display=display)
    # CPU time of this process (all its threads, the kernel's IOPub sender included): the machine
    # may be shared, and other processes' load should not count.
    start = time.process_time()
    run.run()
    total = time.process_time() - start
    share = run.refresh_seconds / run.sampling_seconds if run.sampling_seconds else 0.0
    return n / run.sampling_cpu_seconds, share, run.flushes, total - run.sampling_cpu_seconds


class _TimedEnd(LiveProgress):
    """LiveProgress that times its last call (the end picture: PNG and Vega-Lite, a one-time cost)."""

    end_cpu = end_wall = 0.0

    def __call__(self, posterior, done, total):
        if posterior.running:
            return super().__call__(posterior, done, total)
        cpu, wall = time.process_time(), time.monotonic()
        super().__call__(posterior, done, total)
        self.end_cpu, self.end_wall = time.process_time() - cpu, time.monotonic() - wall
        return None


def inference_rate(make, n, live, display=False):
    """One inference run: runs per CPU second, the share of its time in the live view's frames, the frames
    drawn, and the CPU seconds of the end picture (left out of the first two, as for sampling)."""
    progress = _TimedEnd(display=display) if live else None
    algorithm = make(progress)
    pyro.set_rng_seed(0)
    start, wall = time.process_time(), time.monotonic()
    algorithm.run()
    cpu, seconds = time.process_time() - start, time.monotonic() - wall
    if not live:
        return n / cpu, 0.0, 0, 0.0
    throttle = algorithm.progress_throttle
    share = (throttle.seconds - progress.end_wall) / (seconds - progress.end_wall)
    return n / (cpu - progress.end_cpu), share, throttle.frames, progress.end_cpu


def compare_inference(display=False, pairs=5):
    rows = []
    for name, make, n in INFERENCE:
        off, on, shares, frames, ends = [], [], [], [], []
        for i in range(pairs):
            for live in (False, True) if i % 2 == 0 else (True, False):
                r, share, f, end = inference_rate(make, n, live, display=display and live)
                (on if live else off).append(r)
                if live:
                    shares.append(share)
                    frames.append(f)
                    ends.append(end)
        med = statistics.median
        rows.append((name, n, med(off), med(on), int(med(frames)), med(ends), 1.0 - med(shares)))
    return rows


def compare(display=False, pairs=7):
    """Medians over alternating off/live pairs, so that both sides see the same machine state.

    Two ratios are printed: the measured one (median live rate / median off rate; noisy on a
    shared machine) and the one implied by the time the loop spent inside refreshes
    (1 - refresh share; the two loops differ only by those refreshes and a clock check per run).
    """
    rows = []
    for name, model, args, n in CASES:
        off, on, shares, flushes, ends = [], [], [], [], []
        for i in range(pairs):
            for live in (False, True) if i % 2 == 0 else (True, False):
                r, share, f, end = rate(model, args, n, live=live, display=display and live)
                if live:
                    on.append(r)
                    shares.append(share)
                    flushes.append(f)
                    ends.append(end)
                else:
                    off.append(r)
        med = statistics.median
        rows.append((name, n, med(off), med(on), int(med(flushes)), med(ends), 1.0 - med(shares)))
    return rows


def print_rows(rows, title):
    print(f"\n{title}")
    print(f"{'model':22s} {'runs':>6s} {'off runs/s':>11s} {'live runs/s':>11s} {'refreshes':>9s} "
          f"{'end picture s':>13s} {'live/off':>9s} {'1-refresh share':>15s}")
    for name, n, off, on, flushes, end, implied in rows:
        # Judged by the refresh share (the measured ratio is noisy on a shared machine; both are printed).
        verdict = f"within {1 - GOAL:.0%}" if implied >= GOAL else f"over {1 - GOAL:.0%}"
        print(f"{name:22s} {n:6d} {off:11,.0f} {on:11,.0f} {flushes:9d} {end:13.3f} {on / off:9.2f} {implied:15.3f}"
              f"  {verdict}")


def in_kernel():
    """The same comparison inside a real kernel, the widget talking to a client over IOPub."""
    import nbformat
    from nbclient import NotebookClient

    here = os.path.dirname(os.path.abspath(__file__))
    source = (
        f"import sys; sys.path.insert(0, {here!r})\n"
        "import torch, bench_live_view as bench\n"
        "torch.set_num_threads(1)\n"
        "bench.print_rows(bench.compare(display=True), "
        "'inside a Jupyter kernel (widget messages sent over IOPub)')\n"
        "bench.print_rows(bench.compare_inference(display=True), "
        "'inference with progress=LiveProgress(), inside a Jupyter kernel')"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    print("".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream"), end="")


if __name__ == "__main__":
    torch.set_num_threads(1)
    print_rows(compare(), "in this process (widget without a frontend)")
    print_rows(compare_inference(), "inference with progress=LiveProgress(), in this process")
    if "--no-kernel" not in sys.argv:
        in_kernel()
