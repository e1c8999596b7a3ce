"""MH chains on the machine's cores: executor=ProcessPoolExecutor against one process.

    python bench/bench_parallel.py [chains] [steps per chain]

The same MH run (a changing-structure model: a geometric number of Gaussian sites, with an observation
on their sum) is made with ``executor=None`` (all chains in this process, one after another) and with
``executor=ProcessPoolExecutor(cores)`` (one chain per chunk), timed in turns, three times each, best
kept. The pool is started and warmed (workers import torch and ppl_kernel) before timing; the time to
start it is printed on its own line. Ratio = one process's time / the pool's (the speed-up; the cores
bound it). With distributed installed, a Dask LocalCluster of the same size is timed too. pyro-ppl has
no trace MH to compare with; this bench measures our own scaling. One torch thread per process.
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ppl_kernel as pyro  # noqa: E402
import ppl_kernel.distributions as dist  # noqa: E402
from ppl_kernel.infer import MH  # noqa: E402


def geometric_sum(t=0):
    """A geometric number of N(1, 1) terms whose sum is observed near 3: sites appear and disappear."""
    x = pyro.sample(f"x_{t}", dist.Normal(1.0, 1.0))
    stop = pyro.sample(f"stop_{t}", dist.Bernoulli(0.4))
    return x if stop.item() == 1.0 or t > 20 else x + geometric_sum(t + 1)


def model():
    total = geometric_sum()
    pyro.sample("obs", dist.Normal(total, 0.5), obs=torch.tensor(3.0))
    return total


def timed_run(chains, steps, executor):
    pyro.set_rng_seed(0)
    start = time.perf_counter()
    posterior = MH(model, num_samples=steps, num_chains=chains, executor=executor).run()
    elapsed = time.perf_counter() - start
    assert len(posterior) == chains * steps
    return elapsed


def _one_thread():
    torch.set_num_threads(1)


def main():
    torch.set_num_threads(1)
    chains = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    cores = os.cpu_count() or 1
    start = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=cores, initializer=_one_thread)
    timed_run(cores, 10, pool)  # every worker imports torch and ppl_kernel, once
    startup = time.perf_counter() - start
    executors = {f"ProcessPoolExecutor({cores})": pool}
    cluster = client = None
    try:
        import distributed

        cluster = distributed.LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
        client = distributed.Client(cluster)
        client.run(_one_thread)
        executors[f"Dask LocalCluster({cores} processes)"] = client.get_executor()
        timed_run(cores, 10, executors[f"Dask LocalCluster({cores} processes)"])
    except ImportError:
        pass
    try:
        best = {"one process": float("inf"), **{name: float("inf") for name in executors}}
        for _ in range(3):
            best["one process"] = min(best["one process"], timed_run(chains, steps, None))
            for name, executor in executors.items():
                best[name] = min(best[name], timed_run(chains, steps, executor))
    finally:
        pool.shutdown()
        if client is not None:
            client.close()
            cluster.close()
    total_steps = chains * steps
    single = best["one process"]
    print(f"\nMH, {chains} chains x {steps} steps of a changing-structure model, on {cores} cores")
    print(f"(process pool start and warm-up: {startup:.2f} s, not in the times below)")
    print(f"{'how':40s} {'seconds':>9s} {'steps/s':>10s} {'speed-up':>9s}")
    for name, seconds in best.items():
        print(f"{name:40s} {seconds:9.2f} {total_steps / seconds:10,.0f} {single / seconds:8.2f}x")


if __name__ == "__main__":
    main()
