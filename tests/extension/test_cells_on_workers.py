"""A model written in a %%model cell runs on worker processes that never saw the cell (executor=...)."""

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from .conftest import GEOMETRIC, WEATHER, cell


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
