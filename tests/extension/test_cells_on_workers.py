"""A model written in a %%model cell runs on worker processes that never saw the cell (executor=...)."""

import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from ppl_kernel_jupyter.live_sampling import LiveSampling

from .conftest import GEOMETRIC, WEATHER, cell, last_run


def test_a_recursive_model_cell_reaches_spawned_workers_by_value(shell):
    cell(shell, GEOMETRIC.format(opts=""))
    # Spawned (not forked) workers start from a fresh interpreter: the cell's function reaches them only
    # as the value cloudpickle sends, its recursive call to itself by name included.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        shell.user_ns["pool"] = pool
        cell(shell, "from ppl_kernel.infer import Importance\n"
                    "runs = Importance(geometric, num_samples=400, executor=pool, chunks=4).run(torch.tensor([0.5]))")
    levels = [float(v) for v in shell.user_ns["runs"].marginal().values]
    assert len(levels) == 400
    # geometric(0.5) returns the successes before the first failure: Geometric(1/2) on 0, 1, 2, ... with
    # mean 1 and variance 2, so the mean of 400 runs has SE sqrt(2 / 400).
    assert abs(sum(levels) / 400 - 1.0) < 5 * math.sqrt(2 / 400)


def test_a_cell_model_with_an_unpicklable_global_is_refused_naming_it(shell):
    cell(shell, WEATHER.format(opts="--no-show"))
    cell(shell, "import threading\nlock = threading.Lock()")
    cell(shell, "%%model guarded --no-show\nwith lock:\n    return weather()")
    with ProcessPoolExecutor(max_workers=1) as pool:
        shell.user_ns["pool"] = pool
        result = shell.run_cell("from ppl_kernel.infer import MH\nMH(guarded, num_samples=5, executor=pool).run()")
    error = result.error_in_exec
    assert type(error).__name__ == "ModelNotSendableError"
    assert "model 'guarded'" in str(error) and "global 'lock' of 'guarded' is a _thread.lock" in str(error)


# A conditioned coin whose runs say which process made them. Prior Beta(1, 1), data 1, 1, 0, 1: the
# posterior of p is Beta(4, 2), mean 2/3, variance 4 * 2 / (6**2 * 7) = 2/63.
COIN_ON_WORKERS = """%%model coin_on_workers(pause=0.0) --no-show
if pause:
    time.sleep(pause)
p = pyro.sample("p", dist.Beta(1.0, 1.0))
for i, y in enumerate([1.0, 1.0, 0.0, 1.0]):
    pyro.sample(f"y_{i}", dist.Bernoulli(p), obs=torch.tensor(y))
pyro.deterministic("pid", torch.tensor(float(os.getpid())))
return p
"""


@pytest.fixture(scope="module")
def spawned_pool():
    # Spawned workers never saw the shell's cells: what they run came by value (cloudpickle).
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture
def coin_shell(shell, spawned_pool):
    shell.user_ns["pool"] = spawned_pool
    cell(shell, "import os, time")
    cell(shell, COIN_ON_WORKERS)
    return shell


def test_sample_with_executor_runs_the_samples_on_the_executors_workers(coin_shell):
    cell(coin_shell, "%sample coin_on_workers 400 --executor pool --seed 3 -o runs")
    pids = {float(v) for v in coin_shell.user_ns["runs"].marginal("pid").values}
    assert len(coin_shell.user_ns["runs"]) == 400
    assert os.getpid() not in pids and pids  # every run was made in a worker process


def test_sample_with_executor_shows_the_weighted_posterior(coin_shell):
    cell(coin_shell, "%sample coin_on_workers 2000 --executor pool --seed 4")
    run = last_run(coin_shell)
    panel, ess = run.widget.panel("p"), run.data.ess()
    assert run.data.weighted and panel["runs"] == 2000
    # Self-normalised importance sampling: the weighted mean's standard error is about the posterior sd
    # over the square root of the effective sample size; 5 of them.
    assert abs(panel["mean"] - 2 / 3) < 5 * math.sqrt(2 / 63 / ess)


def test_sample_with_executor_and_a_seed_repeats_exactly(coin_shell):
    cell(coin_shell, "%sample coin_on_workers 300 --executor pool --seed 5 -o first")
    cell(coin_shell, "torch.rand(3)")  # the notebook's own stream moves on; the seeded run does not follow it
    cell(coin_shell, "%sample coin_on_workers 300 --executor pool --seed 5 -o again")
    first, again = (coin_shell.user_ns[k].marginal("p").values for k in ("first", "again"))
    assert [float(v) for v in first] == [float(v) for v in again]


def test_the_panels_of_a_run_on_an_executor_fill_in_whole_chunks_at_a_time(coin_shell):
    frames = []
    original = LiveSampling.refresh

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        frames.append(self.widget.runs)

    LiveSampling.refresh = recording
    try:
        # 16 chunks of 25 runs, each run pausing 5 ms: about a second on two workers, several frames.
        cell(coin_shell, "%sample coin_on_workers(0.005) 400 --executor pool")
    finally:
        LiveSampling.refresh = original
    assert frames[-1] == 400
    assert all(n % 25 == 0 for n in frames)  # a frame shows whole chunks: they arrive as they finish
    assert any(0 < n < 400 for n in frames)  # and it shows them before the last one has finished


def test_stop_keeps_the_finished_chunks_and_cancels_the_rest(coin_shell):
    # 16 chunks of 25 runs of 20 ms: 8 s of work on two workers, stopped once the first chunk is in.
    cell(coin_shell, "%sample coin_on_workers(0.02) 400 --executor pool --background -o stopped")
    run = last_run(coin_shell)
    deadline = time.monotonic() + 60
    while run.widget.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    run.stop()
    run.wait(60)
    assert run.status == "stopped" and run.widget.status == "stopped"
    kept = len(coin_shell.user_ns["stopped"])
    assert 25 <= kept < 400 and kept % 25 == 0


def test_sample_with_a_dask_client_runs_on_its_executor(coin_shell):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        coin_shell.user_ns["client"] = client
        cell(coin_shell, "%sample coin_on_workers 200 --executor client -o on_dask")
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert "run_chunk" in prefixes  # the chunks were Dask tasks
    assert len(coin_shell.user_ns["on_dask"]) == 200


def test_an_executor_option_naming_nothing_says_what_to_pass(coin_shell):
    result = coin_shell.run_cell("%sample coin_on_workers 10 --executor no_such_pool")
    error = result.error_in_exec
    assert type(error).__name__ == "UsageError"
    assert "--executor no_such_pool" in str(error) and "ProcessPoolExecutor" in str(error)


def test_an_executor_option_naming_something_else_says_it_is_not_an_executor(coin_shell):
    coin_shell.user_ns["pool_size"] = 4
    result = coin_shell.run_cell("%sample coin_on_workers 10 --executor pool_size")
    error = result.error_in_exec
    assert type(error).__name__ == "UsageError"
    assert "--executor pool_size is of type int, not an executor" in str(error)


def test_model_cell_with_executor_samples_on_the_workers(coin_shell):
    cell(coin_shell, "%%model where_run --executor pool -n 100 -o cell_runs\n"
                     "pyro.sample('z', dist.Normal(0.0, 1.0))\n"
                     "return pyro.deterministic('pid', torch.tensor(float(os.getpid())))")
    pids = {float(v) for v in coin_shell.user_ns["cell_runs"].marginal("pid").values}
    assert len(coin_shell.user_ns["cell_runs"]) == 100 and pids and os.getpid() not in pids
