"""Exact enumeration of the probmods tug of war, ours beside WebPPL's, with the ratio and our peak memory.

The model (issue 13): each person has a strength in {1, 2, 3} for the whole tournament (``mem``), is
lazy in a match with probability 0.3 (then pulls with half strength), and each match is won by the
stronger team (a hard condition). 4 and 5 people play 2 matches, 6 people play 3. Both sides enumerate
every execution path, return the marginal of the first person's strength, and must agree on it. Ours runs
twice: the model as written, path by path, and its elementwise twin vectorized (``Enumerate(...,
vectorize=True)``: every combination of values in one run).

WebPPL comes from the npm registry into ~/.cache/ppl_kernel_bench/webppl (installed on first use
when node and npm are on the machine; skipped with a note otherwise). Its time is measured inside
node around ``Infer`` after one warm-up, so node's start-up is not counted. Ours runs each size in a
fresh process, so that its peak resident memory (max RSS) is that size's alone.

    python bench/bench_enumerate.py            # 4, 5 and 6 people
    python bench/bench_enumerate.py 4 5        # chosen sizes
"""

import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

CACHE = pathlib.Path.home() / ".cache" / "ppl_kernel_bench" / "webppl"
MATCHES = {4: [("ab", "cd"), ("ac", "bd")], 5: [("ab", "cd"), ("ae", "bc")],
           6: [("ab", "cd"), ("ae", "bf"), ("ac", "ef")]}


# ---- ours --------------------------------------------------------------------------------------------
def tug_of_war(matches):
    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist

    def model():
        @pyro.mem
        def strength(person):
            return pyro.sample("strength", dist.Choice([1, 2, 3]))

        @pyro.mem
        def lazy(person, match):
            return pyro.sample("lazy", dist.Bernoulli(0.3)).item() == 1.0

        def pulling(person, match):
            return strength(person) / 2 if lazy(person, match) else strength(person)

        def total(team, match):
            return sum(pulling(p, match) for p in team)

        for match, (team1, team2) in enumerate(matches):
            pyro.require(total(team1, match) > total(team2, match))
        return strength(matches[0][0][0])

    return model


def tug_of_war_vectorizable(matches):
    """The same model written elementwise in its choices, for ``Enumerate(..., vectorize=True)``: a strength is
    read from a tensor by the sampled index, laziness halves it through torch.where; nothing reads a choice as
    a Python value, so one run covers every combination of values."""
    import torch

    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist

    strengths, uniform = torch.tensor([1.0, 2.0, 3.0]), torch.ones(3)

    def model():
        @pyro.mem
        def strength(person):
            return strengths[pyro.sample("strength", dist.Categorical(uniform))]

        @pyro.mem
        def lazy(person, match):
            return pyro.sample("lazy", dist.Bernoulli(0.3)) == 1.0

        def pulling(person, match):
            return torch.where(lazy(person, match), strength(person) / 2, strength(person))

        def total(team, match):
            return sum(pulling(p, match) for p in team)

        for match, (team1, team2) in enumerate(matches):
            pyro.require(total(team1, match) > total(team2, match))
        return strength(matches[0][0][0])

    return model


def run_ours(people, vectorize=False):
    """In a child process: enumerate, print seconds, paths, probabilities and max RSS as JSON."""
    import torch

    torch.set_num_threads(1)
    from ppl_kernel.infer import EmpiricalMarginal, Enumerate

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the warm-up: growth is an upper bound
    make = tug_of_war_vectorizable if vectorize else tug_of_war
    # A warm-up on the smallest size first, as WebPPL's side has: it pays the one-time costs (lazy imports,
    # first calls into torch) that WebPPL's warm-up Infer pays for its JIT.
    Enumerate(make(MATCHES[4]), max_paths=10_000_000, vectorize=vectorize).run()
    start = time.perf_counter()
    model = make(MATCHES[people])
    posterior = Enumerate(model, max_paths=10_000_000, vectorize=vectorize).run()
    seconds = time.perf_counter() - start
    if vectorize and not posterior.vectorized:
        raise RuntimeError(f"the vectorizable twin did not vectorize: {posterior.fallback_reason}")
    marginal = EmpiricalMarginal(posterior)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "paths": posterior.num_paths, "probs": [marginal.probability(v) for v in (1, 2, 3)],
                      "rss_mb": after / 1024, "rss_growth_mb": (after - before) / 1024}))


def ours(people, vectorize=False):
    out = subprocess.run([sys.executable, __file__, "--ours", str(people), str(int(vectorize))], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- WebPPL ------------------------------------------------------------------------------------------
WPPL = """
var model = function() {
  var strength = mem(function(p) { return categorical({vs: [1, 2, 3], ps: [1, 1, 1]}); });
  var lazy = mem(function(p, m) { return flip(0.3); });
  var pulling = function(p, m) { return lazy(p, m) ? strength(p) / 2 : strength(p); };
  var total = function(team, m) { return sum(map(function(p) { return pulling(p, m); }, team)); };
  %(conditions)s
  return strength('%(first)s');
};
Infer({method: 'enumerate', maxExecutions: 10000000}, model);
var t0 = Date.now();
var d = Infer({method: 'enumerate', maxExecutions: 10000000}, model);
var seconds = (Date.now() - t0) / 1000;
console.log(JSON.stringify({seconds: seconds, probs: map(function(v) { return Math.exp(d.score(v)); }, [1, 2, 3])}));
"""


def webppl_binary():
    binary = CACHE / "node_modules" / ".bin" / "webppl"
    if binary.exists():
        return binary
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(CACHE), "webppl"], check=True, capture_output=True)
    return binary if binary.exists() else None


def webppl(binary, people):
    conditions = "\n  ".join(
        f"condition(total({list(t1)!r}, {m}) > total({list(t2)!r}, {m}));" for m, (t1, t2) in enumerate(MATCHES[people])
    )
    program = WPPL % {"conditions": conditions, "first": MATCHES[people][0][0][0]}
    with tempfile.NamedTemporaryFile("w", suffix=".wppl", delete=False) as f:
        f.write(program)
    try:
        out = subprocess.run([str(binary), f.name], capture_output=True, text=True, check=True, timeout=600)
    finally:
        os.unlink(f.name)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def main(sizes):
    binary = webppl_binary()
    if binary is None:
        print("note: node/npm not found, WebPPL is skipped; only our figures are printed")
    print(f"\n{'tug of war (exact)':24s} {'how':11s} {'paths':>9s} {'ours s':>8s} {'WebPPL s':>9s} {'ours/WebPPL':>12s} "
          f"{'max RSS MB':>11s} {'+ in run':>9s}")
    for people in sizes:
        peer = webppl(binary, people) if binary is not None else None
        for how, vectorize in (("paths", False), ("vectorized", True)):
            mine = ours(people, vectorize)
            if peer is not None:
                agree = max(abs(a - b) for a, b in zip(mine["probs"], peer["probs"], strict=True))
                assert agree < 1e-6, f"the two marginals differ by {agree}: {mine['probs']} vs {peer['probs']}"
            ratio = f"{mine['seconds'] / peer['seconds']:11.2f}x" if peer else f"{'n/a':>12s}"
            peer_s = f"{peer['seconds']:9.2f}" if peer else f"{'-':>9s}"
            print(f"{f'{people} people, {len(MATCHES[people])} matches':24s} {how:11s} {mine['paths']:9,d} "
                  f"{mine['seconds']:8.2f} {peer_s} {ratio} {mine['rss_mb']:11.0f} {mine['rss_growth_mb']:9.0f}")
    print("(ratio above 1: we take that many times longer; the marginals agree with WebPPL's to 1e-6; max RSS\n"
          " includes the ~510 MB of importing torch, '+ in run' is what the enumeration added. 'paths' runs the model\n"
          " as written, path by path; 'vectorized' runs its elementwise twin once over every combination of values,\n"
          " which is what its 'paths' column counts)")


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--ours":
        run_ours(int(sys.argv[2]), bool(int(sys.argv[3])))
    else:
        main([int(a) for a in sys.argv[1:]] or [4, 5, 6])
