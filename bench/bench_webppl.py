"""The same models in WebPPL and in ppl_kernel, side by side: MH steps/s, enumeration paths/s, the ratio.

    python bench/bench_webppl.py [--quick] [--profile] [--chains 1000] [--mh-only | --enumeration-only]

WebPPL (0.9.15, from the npm registry) is installed with npm into ~/.cache/ppl_kernel_bench/webppl on
first use, when node and npm are on the PATH; otherwise only our figures are printed, with a note.
WebPPL's times are taken inside its program (Date.now() around Infer, after a warm-up Infer), so its
start-up of about a second is not counted; ours use one torch thread.

Models: WebPPL's test models ``simple``, ``geometric`` and ``gaussianMean``, the weather question
(P(cloudy | temp = 70)), two dice drawn from a Categorical (probmods' ``categorical``) conditioned on
their sum, a coin's weight under a Beta prior with Binomial data, a hierarchical normal model (continuous),
all by single-site MH; and a tug of
war with discretised strengths by exact enumeration at 4, 5 and 6 people, both path by path (the model as
written) and vectorized (an elementwise twin, ``Enumerate(..., vectorize=True)``). Each row also prints both
answers, so that a fast wrong answer shows. The path-by-path rows also time a floor (the model re-run once per
path with nothing else done): Python cannot resume a run from a choice, as WebPPL's continuations do, so no
enumeration of such a model can beat that floor. ``--chains k`` adds ``MH(..., num_chains=k, vectorize=True)``
(the chains as one batch; total steps/s over all chains, warm-up included) against WebPPL's single chain,
on twins of the models written without Python branches on sampled values (geometric has none: it says why),
with the time of one batched step of all k chains (the run's time, its capture included, over its steps).
"""

import argparse
import concurrent.futures
import cProfile
import json
import math
import os
import pstats
import resource
import shutil
import subprocess
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ppl_kernel as pyro  # noqa: E402
import ppl_kernel.distributions as dist  # noqa: E402
from ppl_kernel.infer import MH, EmpiricalMarginal, Enumerate  # noqa: E402
from ppl_kernel.infer.sites import score  # noqa: E402
from ppl_kernel.runtime import Messenger  # noqa: E402
from ppl_kernel.signals import ZeroProbability  # noqa: E402
from ppl_kernel.vectorize import NotBatchable, SequentialFallbackWarning, run_batched  # noqa: E402

WEBPPL_VERSION = "0.9.15"
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "ppl_kernel_bench", "webppl")
NEG_INF = -math.inf


# ---- the models: ppl_kernel and WebPPL side by side ----------------------------------------------------
def simple():
    x = pyro.sample("x", dist.Bernoulli(0.5))
    y = pyro.sample("y", dist.Bernoulli(0.5))
    pyro.factor("f", 0.0 if (x.item() or y.item()) else NEG_INF)
    return x.item()


SIMPLE_WPPL = """function() {
  var x = flip(0.5);
  var y = flip(0.5);
  factor((x | y) ? 0 : -Infinity);
  return x;
}"""


def geometric(p=0.5, t=0):
    x = pyro.sample(f"x_{t}", dist.Bernoulli(p))
    return 1 + geometric(p, t + 1) if x.item() else 1


GEOMETRIC_WPPL = """function() {
  var geometric = function(p) { return flip(p) ? 1 + geometric(p) : 1; };
  return geometric(0.5);
}"""

GAUSSIAN_DATA = [5.5, 6.5]


def gaussian_mean():
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    for i, y in enumerate(GAUSSIAN_DATA):
        pyro.sample(f"y_{i}", dist.Normal(mu, 1.0), obs=torch.tensor(y))
    return mu.item()


GAUSSIAN_MEAN_WPPL = """function() {
  var mu = gaussian(0, 2);
  map(function(y) { observe(Gaussian({mu: mu, sigma: 1}), y); }, [5.5, 6.5]);
  return mu;
}"""


def weather():
    cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3)).item() == 1.0
    pyro.sample("temp", dist.Normal(55.0 if cloudy else 75.0, 10.0 if cloudy else 15.0), obs=torch.tensor(70.0))
    return float(cloudy)


WEATHER_WPPL = """function() {
  var cloudy = flip(0.3);
  observe(Gaussian({mu: cloudy ? 55 : 75, sigma: cloudy ? 10 : 15}), 70);
  return cloudy ? 1 : 0;
}"""

DIE = torch.ones(6)


def dice():
    # Two dice (Categorical over six faces, as probmods' uniformDraw and categorical); their sum is at least 8.
    a = int(pyro.sample("a", dist.Categorical(DIE)))
    b = int(pyro.sample("b", dist.Categorical(DIE)))
    pyro.factor("at_least_8", 0.0 if a + b + 2 >= 8 else NEG_INF)
    return a + 1


DICE_WPPL = """function() {
  var faces = [0, 1, 2, 3, 4, 5];
  var a = categorical({ps: [1, 1, 1, 1, 1, 1], vs: faces});
  var b = categorical({ps: [1, 1, 1, 1, 1, 1], vs: faces});
  condition(a + b + 2 >= 8);
  return a + 1;
}"""

def coin():
    # A coin's weight under a uniform Beta prior, 7 heads in 10 flips observed (probmods' Bayesian data analysis).
    p = pyro.sample("p", dist.Beta(1.0, 1.0))
    pyro.sample("heads", dist.Binomial(10, p), obs=torch.tensor(7.0))
    return p


COIN_WPPL = """function() {
  var p = beta(1, 1);
  observe(Binomial({p: p, n: 10}), 7);
  return p;
}"""

# Three groups of four observations; a normal prior on the population mean, unit spreads.
HIER_DATA = [[1.2, 0.8, 1.9, 1.4], [-0.3, 0.4, 0.1, -0.6], [2.8, 3.1, 2.2, 2.5]]


def hierarchical():
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    for j, group in enumerate(HIER_DATA):
        theta = pyro.sample(f"theta_{j}", dist.Normal(mu, 1.0))
        for k, y in enumerate(group):
            pyro.sample(f"y_{j}_{k}", dist.Normal(theta, 1.0), obs=torch.tensor(y))
    return mu.item()


HIERARCHICAL_WPPL = """function() {
  var data = %s;
  var mu = gaussian(0, 5);
  mapIndexed(function(j, group) {
    var theta = gaussian(mu, 1);
    map(function(y) { observe(Gaussian({mu: theta, sigma: 1}), y); }, group);
  }, data);
  return mu;
}""" % json.dumps(HIER_DATA)



def _hierarchical_exact_mean():
    # Integrating out theta_j, each group mean is N(mu, 1 + 1/4); with mu's N(0, 25) prior, conjugacy.
    precision = 1 / 25 + len(HIER_DATA) / 1.25
    return sum(sum(g) / len(g) for g in HIER_DATA) / 1.25 / precision


# name: (our model, WebPPL model, exact posterior mean of the return value)
MH_MODELS = {
    "simple": (simple, SIMPLE_WPPL, 2 / 3),
    "geometric": (geometric, GEOMETRIC_WPPL, 2.0),
    # prior N(0, 2^2), two unit-variance observations: precision 1/4 + 2, mean (5.5 + 6.5) / 2.25
    "gaussianMean": (gaussian_mean, GAUSSIAN_MEAN_WPPL, 12.0 / 2.25),
    "weather | temp=70": (weather, WEATHER_WPPL, 0.18075),
    # the 15 pairs of faces with a sum of at least 8: the first face's sum over them is 70
    "dice (categorical)": (dice, DICE_WPPL, 70 / 15),
    "coin (beta-binomial)": (coin, COIN_WPPL, 8 / 12),  # the posterior is Beta(8, 4)
    "hierarchical normal": (hierarchical, HIERARCHICAL_WPPL, _hierarchical_exact_mean()),
}

# The same models written without Python control flow on sampled values, so that many chains can run as
# one batch (MH(..., vectorize=True)); the others fall back and say which line stopped them.
def simple_batched():
    x = pyro.sample("x", dist.Bernoulli(0.5))
    y = pyro.sample("y", dist.Bernoulli(0.5))
    pyro.factor("f", torch.where((x + y) > 0, 0.0, NEG_INF))
    return x


def weather_batched():
    cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    pyro.sample("temp", dist.Normal(torch.where(cloudy == 1, 55.0, 75.0), torch.where(cloudy == 1, 10.0, 15.0)),
                obs=torch.tensor(70.0))
    return cloudy


def dice_batched():
    a = pyro.sample("a", dist.Categorical(DIE))
    b = pyro.sample("b", dist.Categorical(DIE))
    pyro.factor("at_least_8", torch.where(a + b + 2 >= 8, 0.0, NEG_INF))
    return a + 1


def gaussian_mean_batched():
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    for i, y in enumerate(GAUSSIAN_DATA):
        pyro.sample(f"y_{i}", dist.Normal(mu, 1.0), obs=torch.tensor(y))
    return mu


def hierarchical_batched():
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    for j, group in enumerate(HIER_DATA):
        theta = pyro.sample(f"theta_{j}", dist.Normal(mu, 1.0))
        for k, y in enumerate(group):
            pyro.sample(f"y_{j}_{k}", dist.Normal(theta, 1.0), obs=torch.tensor(y))
    return mu


batched_twin = {"simple": simple_batched, "weather | temp=70": weather_batched, "gaussianMean": gaussian_mean_batched,
                "dice (categorical)": dice_batched, "coin (beta-binomial)": coin,  # (coin has no branch)
                "hierarchical normal": hierarchical_batched}


# ---- tug of war: exact enumeration ---------------------------------------------------------------------
PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank"]
# Two a side; the first team of each match won it.
MATCHES = {
    4: [((0, 1), (2, 3)), ((0, 2), (1, 3))],
    5: [((0, 1), (2, 3)), ((0, 4), (1, 2))],
    6: [((0, 1), (2, 3)), ((0, 4), (1, 5)), ((2, 5), (3, 4))],
}
STRENGTHS = (1.0, 2.0, 3.0)


def tug_of_war(n):
    people, matches = PEOPLE[:n], MATCHES[n]
    uniform = torch.ones(len(STRENGTHS))

    def pulling(strength, m, team, side):
        total = 0.0
        for i in team:
            lazy = pyro.sample(f"lazy_{m}_{side}_{people[i]}", dist.Bernoulli(1 / 3)).item()
            total += strength[i] / 2 if lazy else strength[i]
        return total

    def model():
        strength = [STRENGTHS[int(pyro.sample(f"strength_{p}", dist.Categorical(uniform)))] for p in people]
        for m, (winners, losers) in enumerate(matches):
            won = pulling(strength, m, winners, 0) > pulling(strength, m, losers, 1)
            pyro.factor(f"match_{m}", 0.0 if won else NEG_INF)
        return strength[0]

    return model


def tug_of_war_vectorizable(n):
    """The same model written elementwise in its choices, for ``Enumerate(..., vectorize=True)``: the strengths
    are read from a tensor indexed by the sampled index, laziness halves through torch.where, the match is a
    tensor condition. Nothing in it reads a choice as a Python value."""
    people, matches = PEOPLE[:n], MATCHES[n]
    uniform = torch.ones(len(STRENGTHS))
    strengths = torch.tensor(STRENGTHS)

    def pulling(strength, m, team, side):
        total = 0.0
        for i in team:
            lazy = pyro.sample(f"lazy_{m}_{side}_{people[i]}", dist.Bernoulli(1 / 3))
            total = total + torch.where(lazy == 1, strength[i] / 2, strength[i])
        return total

    def model():
        strength = [strengths[pyro.sample(f"strength_{p}", dist.Categorical(uniform))] for p in people]
        for m, (winners, losers) in enumerate(matches):
            pyro.require(pulling(strength, m, winners, 0) > pulling(strength, m, losers, 1), name=f"match_{m}")
        return strength[0]

    return model


def tug_of_war_wppl(n):
    return """function() {
  var strength = map(function(p) { return uniformDraw(%s); }, %s);
  var pulling = function(team) {
    return sum(map(function(i) { return flip(1 / 3) ? strength[i] / 2 : strength[i]; }, team));
  };
  map(function(match) { condition(pulling(match[0]) > pulling(match[1])); }, %s);
  return strength[0];
}""" % (json.dumps(list(STRENGTHS)), json.dumps(PEOPLE[:n]), json.dumps(MATCHES[n]))


# ---- running WebPPL ------------------------------------------------------------------------------------
def webppl_binary():
    """The path of the webppl script, installing it into the cache folder if needed; None when impossible."""
    binary = os.path.join(CACHE, "node_modules", ".bin", "webppl")
    if os.path.exists(binary):
        return binary
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("note: node or npm is not on the PATH, so WebPPL cannot be installed: showing ours only")
        return None
    os.makedirs(CACHE, exist_ok=True)
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", CACHE, f"webppl@{WEBPPL_VERSION}"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not os.path.exists(binary):
        print(f"note: npm could not install webppl ({done.stderr.strip()[-300:]}): showing ours only")
        return None
    return binary


def run_webppl(binary, jobs, timeout=900):
    """Run ``jobs`` ({name: (model source, Infer options as JS)}) in one WebPPL process.

    Each job runs once to warm the JIT, then is timed; returns {name: (seconds, mean of the return value)}.
    """
    parts = []
    for name, (model, options) in jobs.items():
        parts.append("""
(function() {
  var model = %s;
  Infer(%s, model);
  var t0 = Date.now();
  var d = Infer(%s, model);
  var seconds = (Date.now() - t0) / 1000;
  console.log(JSON.stringify({name: %s, seconds: seconds, mean: expectation(d, function(v) { return v; })}));
})();""" % (model, options, options, json.dumps(name)))
    path = os.path.join(CACHE, "bench_program.wppl")
    with open(path, "w") as f:
        f.write("\n".join(parts))
    done = subprocess.run([binary, path, "--random-seed", "1"], capture_output=True, text=True, timeout=timeout)
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row["name"]] = (row["seconds"], row["mean"])
    if done.returncode != 0:
        print(f"note: WebPPL failed: {done.stderr.strip()[-500:]}")
    return results


# ---- running ours --------------------------------------------------------------------------------------
def our_mh(model, steps, num_chains=1, vectorize=False, warmup=0):
    """Seconds for ``warmup + steps`` MH steps per chain, and the posterior mean of the return value over the
    ``steps`` kept (None when the chains could not run as one batch)."""
    pyro.set_rng_seed(1)
    if vectorize:
        try:
            run_batched(model, 2)
        except NotBatchable as e:
            return None, e.reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SequentialFallbackWarning)
        # Warm-up: a short run for one chain; for batched chains a run as long as the timed one, so that the
        # one-time cost of a process's first capture of a step (importing torch's tracer, about 1 s) is paid
        # here, as WebPPL's warm-up Infer pays its JIT's. The timed run still captures its own step.
        warm = (steps, warmup) if vectorize else (min(steps, 50), 0)
        MH(model, num_samples=warm[0], warmup=warm[1], num_chains=num_chains, vectorize=vectorize).run()
        start = time.perf_counter()
        posterior = MH(model, num_samples=steps, warmup=warmup, num_chains=num_chains, vectorize=vectorize).run()
    seconds = time.perf_counter() - start
    if vectorize and not posterior.vectorized:
        return None, posterior.fallback_reason
    return seconds, float(EmpiricalMarginal(posterior).mean)


def model_alone(model, runs):
    """Runs/s of the model called plainly (no handler, no inference): the ceiling of any MH that runs the
    model once per step, since a step cannot cost less than one run of the model's own Python code."""
    pyro.set_rng_seed(1)
    for _ in range(min(runs, 200)):
        model()
    start = time.perf_counter()
    for _ in range(runs):
        model()
    return runs / (time.perf_counter() - start)


class _ReplayFloor(Messenger):
    """The least work any enumeration that runs the model once per path can do (the enumeration rows' floor, as
    "model alone" is MH's ceiling): each run hands every choice its value on the path, queues the path's other
    values at a choice it meets first (a site's support read once per name), and ends at a site of probability
    zero (which every enumeration must score to prune). No score kept, no path stored, no checks."""

    def __init__(self, model):
        super().__init__(model)
        self.supports, self.waiting = {}, [()]

    def start(self, fixed):
        self.fixed, self.taken = fixed, []

    def process_message(self, msg):
        if msg.type != "sample" or msg.is_observed:
            return
        taken = self.taken
        if len(taken) < len(self.fixed):
            value = self.fixed[len(taken)]
        else:
            support = self.supports.get(msg.name)
            if support is None:
                support = self.supports[msg.name] = list(msg.fn.enumerate_support(expand=False).reshape(-1))
            base = tuple(taken)
            self.waiting.extend(base + (v,) for v in reversed(support[1:]))  # depth-first, support order
            value = support[0]
        taken.append(value)
        msg.value = value

    def postprocess_message(self, msg):
        if msg.is_observed and score(msg) == -math.inf:
            raise ZeroProbability(msg.name)


def replay_floor(model, budget):
    """``(seconds, paths, finished)`` of :class:`_ReplayFloor` over every path of ``model``, for at most
    ``budget`` s."""
    floor = _ReplayFloor(model)
    paths, start = 0, time.perf_counter()
    while floor.waiting:
        floor.start(floor.waiting.pop())
        paths += 1
        try:
            floor()
        except ZeroProbability:
            pass
        if time.perf_counter() - start > budget:
            return time.perf_counter() - start, paths, False
    return time.perf_counter() - start, paths, True


def enumerate_child(n, budget, vectorize=False, workers=0):
    """In a child process: enumerate tug of war at ``n`` people for at most ``budget`` seconds; print JSON.

    ``vectorize``: the elementwise twin, all combinations in one run (``Enumerate(..., vectorize=True)``).
    ``workers``: the paths one by one, split between that many processes (``Enumerate(..., executor=pool)``)."""
    torch.set_num_threads(1)
    if workers:  # (each worker with one torch thread too)
        with concurrent.futures.ProcessPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            # Started, with ppl_kernel imported in each worker, before the clock starts (as WebPPL's start-up is
            # not counted); the split run's own cost (its breadth-first start, sending, merging) is.
            Enumerate(tug_of_war(4), executor=pool, chunks=workers).run()
            start = time.perf_counter()
            posterior = Enumerate(tug_of_war(n), max_paths=10**8, executor=pool).run()
            seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "paths": posterior.num_paths, "finished": True, "grown_mb": math.nan,
                          "mean": float(EmpiricalMarginal(posterior).mean)}))
        return
    model = tug_of_war_vectorizable(n) if vectorize else tug_of_war(n)
    # A warm-up first, as WebPPL's side has (its first Infer warms the JIT): here it pays the one-time costs
    # (lazy imports, first calls into torch), stopped after at most a second.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the warm-up: the growth is an upper bound
    warm_start = time.perf_counter()

    def stop_warming(posterior, done, total):
        if time.perf_counter() - warm_start > min(1.0, budget):
            posterior.stop()

    Enumerate(model, max_paths=10**8, progress=stop_warming, vectorize=vectorize).run()
    start = time.perf_counter()
    finished = True

    def stop_after_budget(posterior, done, total):
        nonlocal finished
        if time.perf_counter() - start > budget:
            finished = False
            posterior.stop()

    posterior = Enumerate(model, max_paths=10**8, progress=stop_after_budget, vectorize=vectorize).run()
    seconds = time.perf_counter() - start
    if vectorize and not posterior.vectorized:
        raise RuntimeError(f"the vectorizable twin did not vectorize: {posterior.fallback_reason}")
    mean = float(EmpiricalMarginal(posterior).mean) if finished else math.nan
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    result = {"seconds": seconds, "paths": posterior.num_paths, "finished": finished, "mean": mean,
              "grown_mb": grown_mb}
    if not vectorize:  # after the timed run, so that its memory figure is its own
        result["floor_seconds"], result["floor_paths"], result["floor_finished"] = replay_floor(model, budget)
    print(json.dumps(result))


def our_enumeration(n, budget, vectorize=False, workers=0):
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--enumerate-child", str(n), str(budget),
                           str(int(vectorize)), str(workers)], capture_output=True, text=True,
                          timeout=budget * 4 + 120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def enumeration_report(sizes, budget, theirs):
    """Both ways of ours beside WebPPL's enumerate, per size: the paths one by one (the model as written, with
    Python control flow on its choices) and the vectorized twin (every combination in one run)."""
    print(f"\nExact enumeration, tug of war (ours stops after {budget} s; ratio = our time / WebPPL's; "
          "MB = growth of our peak RSS)")
    print("(floor: the model run once per path with its choices handed out and nothing else done -- the least\n"
          " time an enumeration that re-runs the model for each path can take; its ratio to WebPPL bounds ours)")
    print(f"{'people':8s} {'how':11s} {'paths':>10s} {'ours s':>8s} {'webppl s':>9s} {'ratio':>8s} "
          f"{'ours paths/s':>13s} {'ours MB':>8s} {'ours mean':>10s} {'webppl mean':>12s} {'floor s':>8s} "
          f"{'floor ratio':>11s}")
    workers = min(os.cpu_count() or 1, 16)
    ways = [("paths", False, 0), ("vectorized", True, 0)]
    if workers > 1:
        ways.append((f"paths, {workers} pr", False, workers))
    for n in sizes:
        peer = theirs.get(f"tug of war {n}")
        for how, vectorize, split in ways:
            if split and n < max(sizes):  # (on small trees, the pool's fixed costs are all one would time)
                continue
            ours = our_enumeration(n, budget, vectorize, split)
            paths = f"{ours['paths']:,}" + ("" if ours["finished"] else "+")
            slower = ours["seconds"] / peer[0] if peer and peer[0] > 0 else None
            ratio = "n/a" if slower is None else f"{'>' if not ours['finished'] else ''}{slower:.2f}x"
            print(f"{n:<8d} {how:11s} {paths:>10s} {ours['seconds']:8.2f} {(f'{peer[0]:.2f}' if peer else '-'):>9s} "
                  f"{ratio:>8s} {_num(ours['paths'] / ours['seconds']):>13s} {_num(ours['grown_mb']):>8s} "
                  f"{_mean(ours['mean']):>10s} {_mean(peer[1] if peer else None):>12s}{_floor(ours, peer)}")
    print("(vectorized 'paths' counts every combination of values, possible or not; WebPPL's and the paths row\n"
          " count the executions, each ended at a lost match or at the return; 'paths, k pr': the paths split\n"
          " between k worker processes, Enumerate(..., executor=ProcessPoolExecutor(k)), against one WebPPL process)")


# ---- the report ----------------------------------------------------------------------------------------
def _floor(ours, peer):
    """The floor's seconds and its ratio to WebPPL's time, for a path-by-path row (blank for the vectorized)."""
    if "floor_seconds" not in ours:
        return ""
    if not ours["floor_finished"]:
        return f" {'>' + format(ours['floor_seconds'], '.2f'):>8s} {'-':>11s}"
    if ours["floor_paths"] != ours["paths"] and ours["finished"]:  # the two must walk the same tree
        raise RuntimeError(f"the floor ran {ours['floor_paths']} paths, Enumerate {ours['paths']}")
    ratio = f"{ours['floor_seconds'] / peer[0]:.2f}x" if peer and peer[0] > 0 else "n/a"
    return f" {ours['floor_seconds']:8.2f} {ratio:>11s}"


def _num(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def _mean(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer steps, smaller enumerations")
    parser.add_argument("--profile", action="store_true", help="cProfile of our MH on each model")
    parser.add_argument("--chains", type=int, default=0, help="also run MH with this many chains at once")
    parser.add_argument("--enumeration-only", action="store_true", help="only the tug of war by enumeration")
    parser.add_argument("--mh-only", action="store_true", help="only MH (one chain, and --chains k at once)")
    parser.add_argument("--enumerate-child", nargs=4, type=float, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.enumerate_child:
        n, budget, vectorize, workers = opts.enumerate_child
        return enumerate_child(int(n), budget, bool(vectorize), int(workers))
    torch.set_num_threads(1)
    ours_steps = 2_000 if opts.quick else 20_000
    webppl_steps = 20_000 if opts.quick else 200_000
    sizes = (4, 5) if opts.quick else (4, 5, 6)
    budget = 20 if opts.quick else 120

    binary = webppl_binary()
    theirs = {}
    if binary is not None:
        jobs = {} if opts.enumeration_only else {
            name: (src, f"{{method: 'MCMC', kernel: 'MH', samples: {webppl_steps}}}") for name, (_, src, _) in MH_MODELS.items()}
        if not opts.mh_only:
            jobs.update({f"tug of war {n}": (tug_of_war_wppl(n), "{method: 'enumerate'}") for n in sizes})
        theirs = run_webppl(binary, jobs)
    if opts.enumeration_only:
        return enumeration_report(sizes, budget, theirs)

    print(f"\nMH, one chain (steps/s; ratio = ours / WebPPL {WEBPPL_VERSION if theirs else 'absent'}; "
          "mean = posterior mean of the return value)")
    print("(model alone/s: our model called plainly, no inference -- the most an MH that runs the model at every "
          "step can reach;\n its ratio to WebPPL is the ceiling of ours on continuous choices. A move of discrete "
          "choices is run once, then remembered\n (mh_moves.py), so on discrete models a step mostly runs no model "
          "and can pass that ceiling)")
    print(f"{'model':24s} {'ours/s':>10s} {'webppl/s':>10s} {'ratio':>7s} {'ours mean':>10s} {'webppl mean':>12s} "
          f"{'exact':>7s} {'model alone/s':>14s} {'ceiling':>8s}")
    for name, (model, _, exact) in MH_MODELS.items():
        seconds, mean = our_mh(model, ours_steps)
        ours = ours_steps / seconds
        alone = model_alone(model, ours_steps)
        peer = theirs.get(name)
        peer_rate = webppl_steps / peer[0] if peer and peer[0] > 0 else None
        ratio = f"{ours / peer_rate:6.2f}x" if peer_rate else "    n/a"
        ceiling = f"{alone / peer_rate:7.2f}x" if peer_rate else "     n/a"
        print(f"{name:24s} {_num(ours):>10s} {_num(peer_rate):>10s} {ratio:>7s} {_mean(mean):>10s} "
              f"{_mean(peer[1] if peer else None):>12s} {exact:7.3f} {_num(alone):>14s} {ceiling:>8s}")
        if opts.chains:
            # Short chains from the prior: a warm-up first, so that the mean read from them means something.
            chain_steps, warmup = 200, 300
            seconds, mean = our_mh(batched_twin.get(name, model), chain_steps, num_chains=opts.chains,
                                   vectorize=True, warmup=warmup)
            label = f"  {opts.chains} chains, batched"
            if seconds is None:
                print(f"{label:24s} not batchable: {mean}")
                continue
            total = (warmup + chain_steps) * opts.chains / seconds
            ratio = f"{total / peer_rate:6.2f}x" if peer_rate else "    n/a"
            print(f"{label:24s} {_num(total):>10s} {_num(peer_rate):>10s} {ratio:>7s} {_mean(mean):>10s}   "
                  f"{1e3 * seconds / (warmup + chain_steps):.3f} ms a batched step")

    if not opts.mh_only:
        enumeration_report(sizes, budget, theirs)

    if opts.profile:
        for name, (model, _, _) in MH_MODELS.items():
            profiler = cProfile.Profile()
            profiler.runcall(lambda m=model: MH(m, num_samples=ours_steps).run())
            stats = pstats.Stats(profiler)
            print(f"\n--- MH on {name}: {stats.total_calls / ours_steps:.0f} function calls per step; top functions "
                  "by own time")
            stats.sort_stats("tottime").print_stats(10)
            if opts.chains and name in batched_twin:
                profiler = cProfile.Profile()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SequentialFallbackWarning)
                    profiler.runcall(lambda m=batched_twin[name]: MH(m, num_samples=100, num_chains=opts.chains,
                                                                     vectorize=True).run())
                stats = pstats.Stats(profiler)
                print(f"\n--- MH, {opts.chains} chains batched, on {name}: {stats.total_calls / 100:.0f} function "
                      "calls per step; top functions by own time")
                stats.sort_stats("tottime").print_stats(10)


if __name__ == "__main__":
    main()
