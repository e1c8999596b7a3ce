"""Live views get their frames: the first at once, then at the throttle's pace until the run ends.

Each algorithm runs in a real IPython shell with a :class:`LiveProgress` that notes when each frame was
drawn, how long it took, and how far the run was; the model notes when each of its runs began. What is
asserted is the structure the throttle (:mod:`ppl_kernel.infer.throttle`) promises, not a speed:

- the first frame comes before any model run has begun (``done == 0``), the next one with the first
  runs' data as soon as they are stored;
- no two running frames are closer than the throttle's interval (frames are not drawn more often
  than asked), and none is later than the throttle's own schedule for it -- its interval, longer when
  the previous frame was slow (``cost / MAX_SHARE``) but never beyond ``MAX_WAIT`` -- by more than the
  longest gap between two model runs (a frame can only be drawn between runs) and a slack for a busy
  machine;
- a run lasting several intervals gets several frames, and the last call ends it with every run.
"""

import math
import time

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import MCMC, MH, NUTS, SMC, Enumerate, Importance, throttle

from ppl_kernel_jupyter import LiveProgress

SLACK = 0.15  # seconds a busy shared machine may add to a frame's due time (a descheduled process)
RUN_STARTS = []  # time.monotonic() at the start of each model run (once per chunk for a batched run)


def gauss():
    RUN_STARTS.append(time.monotonic())
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(1.0))
    return x


DATA = torch.linspace(-1.0, 3.0, 200)


def regression():
    RUN_STARTS.append(time.monotonic())
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    with pyro.plate("data", 200):  # 200 observations: a batched run costs enough to last several frames
        pyro.sample("y", dist.Normal(x, 1.0), obs=DATA)
    return x


def coins():
    RUN_STARTS.append(time.monotonic())
    heads = 0
    for i in range(15):  # 32768 paths to enumerate
        heads = heads + pyro.sample(f"c{i}", dist.Bernoulli(0.5))
    return heads


class FrameRecorder(LiveProgress):
    """LiveProgress that also notes each frame: (start time, seconds it took, done, still running)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.frames = []

    def __call__(self, posterior, done, total):
        start = time.monotonic()
        super().__call__(posterior, done, total)
        self.frames.append((start, time.monotonic() - start, done, getattr(posterior, "running", False)))


# Each run is sized to last a few frame intervals on a quiet machine (about 1-3 s at load 2.6 on this 2-core one), so
# that the throttle's schedule is exercised mid-run however fast the machine: the 4096-path enumeration of an earlier
# size ended in 0.24 s, with two frames, once Enumerate got faster.
RUNS = {
    "Importance": "Importance(gauss, num_samples=60_000, progress=live).run()",
    "Importance vectorized": "Importance(regression, num_samples=400_000, vectorize=True, progress=live).run()",
    "Enumerate": "Enumerate(coins, progress=live).run()",
    "MH": "MH(gauss, num_samples=40_000, progress=live).run()",
    "SMC": "SMC(gauss, num_particles=20_000, progress=live).run()",
    "NUTS": "MCMC(NUTS(gauss), num_samples=1500, warmup_steps=200, progress=live).run()",
}


@pytest.fixture(scope="module")
def shell():
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "ppl_kernel")
    shell.user_ns.update(gauss=gauss, regression=regression, coins=coins, Importance=Importance, Enumerate=Enumerate, MH=MH, SMC=SMC,
                         MCMC=MCMC, NUTS=NUTS, FrameRecorder=FrameRecorder)
    return shell


def run_in_shell(shell, statement):
    RUN_STARTS.clear()
    torch.manual_seed(0)
    result = shell.run_cell(f"live = FrameRecorder()\n{statement}")
    assert result.success, result.error_in_exec
    return shell.user_ns["live"].frames, list(RUN_STARTS)


def due_late(frames, run_starts):
    """For each running frame after the second: how much later it came than the throttle scheduled it,
    beyond the longest gap between two model runs."""
    step = max((b - a for a, b in zip(run_starts, run_starts[1:], strict=False)), default=0.0)
    late = []
    running = [f for f in frames if f[3]]
    for (start, cost, _, _), (next_start, _, _, _) in zip(running[1:], running[2:], strict=False):
        wait = min(max(throttle.INTERVAL, cost / throttle.MAX_SHARE), throttle.MAX_WAIT)
        late.append(next_start - (start + cost + wait) - step)
    return late


@pytest.mark.parametrize("algorithm", list(RUNS))
def test_first_frame_comes_before_any_run_then_one_with_the_first_runs(shell, algorithm):
    frames, run_starts = run_in_shell(shell, RUNS[algorithm])
    first, second = frames[0], frames[1]
    assert first[2] == 0 and first[0] < run_starts[0]
    assert 0 < second[2] and second[3]  # the next call carries data, while the run goes on


@pytest.mark.parametrize("algorithm", list(RUNS))
def test_frames_follow_the_throttle_until_the_run_ends(shell, algorithm):
    frames, run_starts = run_in_shell(shell, RUNS[algorithm])
    running = [f for f in frames if f[3]]
    gaps = [b[0] - (a[0] + a[1]) for a, b in zip(running[1:], running[2:], strict=False)]
    # Never more often than the throttle's interval (the first two frames are the unscheduled start and
    # the first frame with data).
    assert all(g >= throttle.INTERVAL - 1e-3 for g in gaps), gaps
    assert all(late <= SLACK for late in due_late(frames, run_starts)), due_late(frames, run_starts)
    duration = frames[-1][0] - frames[0][0]
    # A frame at least every MAX_WAIT + the longest run gap + SLACK (the bound above): so at least this many.
    step = max((b - a for a, b in zip(run_starts, run_starts[1:], strict=False)), default=0.0)
    assert len(running) >= math.floor(duration / (throttle.MAX_WAIT + step + SLACK))
    assert len(running) >= 3, f"{algorithm} ran {duration:.2f} s with only {len(running)} running frames"
    last = frames[-1]
    assert not last[3] and sum(1 for f in frames if not f[3]) == 1
