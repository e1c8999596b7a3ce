"""Memory per stored run, and how quickly a kernel answers while a long background sample goes.

    python bench/bench_memory.py [--quick] [--no-kernel]

(a) In this process: the seed's weather model run N times by Importance; the posterior keeps its runs
    as columns (ppl_kernel/infer/store.py). Printed: bytes per run and per scalar site as the store
    counts them, the process's resident memory before and after, and the same after the posterior is
    dropped. Goal (issue 12): under 200 bytes per scalar site.
(b) In a real Jupyter kernel: ``%sample weather N --background`` with its live view, while this process
    asks the kernel for ``kernel_info`` every 50 ms and times each answer. Printed: the worst and the
    99th-percentile latency, and the kernel's resident memory before, at the end, and after ``del``.
    Goal: worst latency under 250 ms.
"""

import gc
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ppl_kernel as pyro  # noqa: E402
import ppl_kernel.distributions as dist  # noqa: E402
from ppl_kernel.infer import Importance  # noqa: E402

from common import cell_body, make_models  # noqa: E402

weather = make_models(pyro, dist)[0]  # bench_core's weather, written once in common.py
WEATHER = cell_body(weather)  # the same model as a %%model cell


def rss_mb(pid="self"):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def in_process(n):
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    posterior = Importance(weather, num_samples=n).run()
    seconds = time.perf_counter() - start
    after = rss_mb()
    store = posterior.store
    scalar_sites = sum(1 for c in store.columns.values() if c.is_numeric and c.numel == 1)
    per_run = store.nbytes() / n
    per_site = sum(c.nbytes() for c in store.columns.values() if c.is_numeric and c.numel == 1) / max(scalar_sites, 1) / n
    del posterior, store
    gc.collect()
    dropped = rss_mb()
    print(f"(a) {n:,} runs of weather by Importance, in this process ({n / seconds:,.0f} runs/s)")
    print(f"  stored: {per_run:.0f} bytes per run; {per_site:.0f} bytes per scalar site (goal: under 200)")
    print(f"  resident memory: {before:.0f} MB before, {after:.0f} MB after ({(after - before) * 2**20 / n:.0f} "
          f"bytes per run), {dropped:.0f} MB once the posterior is dropped")


def in_kernel(n):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code, timeout=120):
            reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"kernel error in {code!r}: {reply['content']}")

        pid_box = {}

        def grab_pid(msg):
            if msg["msg_type"] == "stream":
                pid_box["pid"] = int(msg["content"]["text"].strip())

        run("import torch\ntorch.set_num_threads(1)\n%load_ext ppl_kernel")
        kc.execute_interactive("import os; print(os.getpid())", output_hook=grab_pid, timeout=60)
        pid = pid_box["pid"]
        run("%%model weather --no-show\n" + WEATHER)
        before = rss_mb(pid)
        run(f"%sample weather {n} --background --seed 0 -o runs")
        latencies = []
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            kc.kernel_info(reply=True, timeout=60)
            latencies.append(time.perf_counter() - t0)
            # -o runs is stored when the run ends
            reply = kc.execute_interactive("", timeout=60, output_hook=lambda msg: None,
                                           user_expressions={"d": "'runs' in get_ipython().user_ns"})
            if reply["content"]["user_expressions"]["d"]["data"]["text/plain"] == "True":
                break
            time.sleep(0.05)
        end = rss_mb(pid)
        run("del runs; import gc; gc.collect()")
        dropped = rss_mb(pid)
        worst, p99 = max(latencies), statistics.quantiles(latencies, n=100)[98] if len(latencies) > 100 else max(latencies)
        print(f"(b) %sample weather {n:,} --background in a Jupyter kernel, live view on")
        print(f"  kernel_info answered {len(latencies)} times: worst {worst * 1000:.0f} ms, 99th percentile "
              f"{p99 * 1000:.0f} ms (goal: worst under 250 ms)")
        print(f"  kernel resident memory: {before:.0f} MB before, {end:.0f} MB at the end, {dropped:.0f} MB after del")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    quick = "--quick" in sys.argv
    in_process(100_000 if quick else 1_000_000)
    if "--no-kernel" not in sys.argv:
        in_kernel(100_000 if quick else 1_000_000)
