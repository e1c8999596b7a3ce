"""The notebook layer never mixes or keeps work it should not: dropped runs are freed, redefinitions do not mix."""

import gc
import time
import weakref

import torch

from .conftest import cell, last_run

COIN = "%%model coin_{i} --samples 200 {opts}\nreturn pyro.sample('c', dist.Normal(0.0, 1.0))\n"


def test_a_finished_run_that_the_user_dropped_is_freed(shell):
    magics = shell.magics_manager.registry["ModelMagics"]
    refs = []
    for i in range(4):
        cell(shell, COIN.format(i=i, opts=""))
        refs.append(weakref.ref(last_run(shell).posterior))
    gc.collect()
    # The widgets stay displayed (ipywidgets keeps every open widget), but they hold counts, not runs:
    # only the newest run is kept for inspection (magics.runs[-1]).
    assert [r() is None for r in refs] == [True, True, True, False]
    assert len(magics.runs) == 1


def test_a_run_stored_with_output_stays_while_its_name_holds_it(shell):
    cell(shell, COIN.format(i=0, opts="-o kept"))
    ref = weakref.ref(last_run(shell).posterior)
    cell(shell, COIN.format(i=1, opts=""))
    gc.collect()
    assert ref() is shell.user_ns["kept"]
    cell(shell, "del kept")
    gc.collect()
    assert ref() is None


GEOMETRIC_X = """\
%%model geo(t=0) {opts}
x = pyro.sample(f"x_{{t}}", dist.Bernoulli(0.5))
return t if x.item() == 0 else geo(t + 1)
"""
GEOMETRIC_Y = GEOMETRIC_X.replace('f"x_', 'f"y_')


def test_redefining_a_model_while_it_samples_in_the_background_does_not_mix_definitions(shell):
    cell(shell, GEOMETRIC_X.format(opts="--background --samples 100000000 -o geo_runs"))
    run = last_run(shell)
    deadline = time.monotonic() + 30
    while len(run.posterior) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    cell(shell, GEOMETRIC_Y.format(opts="--no-show"))  # the new definition names its sites y_{t}
    new_runs_before = len(run.posterior)
    time.sleep(0.3)  # the background run goes on meanwhile (or has stopped)
    run.stop()
    run.wait(30)
    names = {name[0] for tr in shell.user_ns["geo_runs"].traces for name in tr.nodes if name != "_RETURN"}
    assert names == {"x"}  # every run, recursive calls included, on the definition it started with
    assert len(shell.user_ns["geo_runs"]) >= new_runs_before
    # and the new definition is the one the notebook now has
    from ppl_kernel import poutine

    tr = poutine.trace(shell.user_ns["geo"]).get_trace()
    assert "y_0" in tr.nodes


NORMAL = "%%model noisy --no-show\nreturn pyro.sample('x', dist.Normal(0.0, 1.0)) + pyro.sample('g', dist.Gamma(2.0, 1.0))\n"


def test_a_seeded_background_run_repeats_while_the_notebook_reseeds_and_draws(shell):
    cell(shell, NORMAL)
    cell(shell, "%sample noisy 3000 --seed 5 -o alone")
    cell(shell, "%sample noisy 3000 --seed 5 --background -o beside")
    run = last_run(shell)
    while run.thread.is_alive():  # the notebook keeps seeding and drawing from torch's default generator
        cell(shell, "pyro.set_rng_seed(0); noisy(); poutine.seed(noisy, rng_seed=1)()")
    run.wait(30)
    alone, beside = shell.user_ns["alone"], shell.user_ns["beside"]
    assert len(beside) == 3000
    assert torch.equal(alone.store.column("x").tensor(), beside.store.column("x").tensor())
    assert torch.equal(alone.store.column("g").tensor(), beside.store.column("g").tensor())


def test_a_background_run_does_not_move_the_notebooks_random_stream(shell):
    cell(shell, NORMAL)
    cell(shell, "pyro.set_rng_seed(3); expected = [noisy() for _ in range(5)]")
    cell(shell, "pyro.set_rng_seed(3)")
    cell(shell, "%sample noisy 2000 --background")
    cell(shell, "got = [noisy() for _ in range(5)]")
    last_run(shell).wait(30)
    assert shell.user_ns["got"] == shell.user_ns["expected"]


INTERRUPTED_IN_A_CALLBACK = """\
%%model collected --samples 1000 -o collected_runs
runs[0] += 1
if runs[0] == 120:
    # A kernel interrupt that arrives while garbage collection runs a weakref callback: Python can
    # only print it ("Exception ignored"), unless the run loop picks it up.
    thing = Thing()
    ref = weakref.ref(thing, interrupt)
    del thing
return pyro.sample("x", dist.Normal(0.0, 1.0))
"""


def test_an_interrupt_inside_a_weakref_callback_stops_the_run(shell):
    cell(shell, """\
import weakref

import torch
class Thing:
    pass
def interrupt(_):
    raise KeyboardInterrupt
runs = [0]
""")
    result = cell(shell, INTERRUPTED_IN_A_CALLBACK)
    assert result.error_in_exec is None
    posterior = shell.user_ns["collected_runs"]
    assert posterior.partial and len(posterior) == 120
    widget = last_run(shell).widget
    # The display agrees with the posterior it leaves.
    assert widget.status == "interrupted" and widget.runs == 120 and widget.panel("x")["runs"] == 120
