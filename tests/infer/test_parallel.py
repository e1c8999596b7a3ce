"""executor=: chains and samples on a process pool and on a Dask LocalCluster (ppl_kernel.infer.parallel)."""

import math
import os
import pickle
import random
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.optim import Adam
from ppl_kernel.errors import ModelNotSendableError, RunsLostWarning
from ppl_kernel.infer import MH, SVI, Enumerate, EnumerationError, Importance, Predictive, Rejection, Trace_ELBO
from ppl_kernel.infer.autoguide import AutoNormal
from ppl_kernel.infer.store import RunStore

from .stats import batch_means_se, snis_se

distributed = pytest.importorskip("distributed")


def normal_normal():
    """x ~ N(0, 1), y ~ N(x, 1) observed at 1: the posterior of x is N(0.5, 1/2)."""
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(1.0))
    return x


def two_dice():
    a = pyro.sample("a", dist.Categorical(torch.ones(6)))
    b = pyro.sample("b", dist.Categorical(torch.ones(6)))
    pyro.factor("sum is 4", 0.0 if a + b + 2 == 4 else -math.inf)
    return a + 1


def dies_once(flag, after):
    """normal_normal, except that the process running it dies at its ``after``-th run if ``flag`` is not there yet."""
    runs = int(os.environ.get("PPL_TEST_RUNS", "0")) + 1
    os.environ["PPL_TEST_RUNS"] = str(runs)
    if runs == after and not os.path.exists(flag):
        open(flag, "w").close()
        os._exit(1)  # as an out-of-memory kill or a segfault would: no exception, no cleanup
    return normal_normal()


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(max_workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def dask_executor():
    """A Dask cluster of two worker processes on 127.0.0.1 (no dashboard), closed after the module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client.get_executor()


def values(posterior, site):
    return [float(v) for v in posterior.marginal(site).values]


# ---- same posterior as one process ---------------------------------------------------------------------
def test_mh_chains_on_a_process_pool_give_the_single_process_posterior(pool):
    single = MH(normal_normal, num_samples=1000, warmup=50, num_chains=4).run()
    split = MH(normal_normal, num_samples=1000, warmup=50, num_chains=4, executor=pool).run()
    a, b = values(single, "x"), values(split, "x")
    diff = sum(b) / len(b) - sum(a) / len(a)
    # Both are means of 4 chains of 1000 correlated draws; their batch-means SEs add in quadrature.
    se = math.hypot(batch_means_se(a), batch_means_se(b))
    assert abs(diff) < 5 * se, (diff, se)
    assert abs(sum(b) / len(b) - 0.5) < 5 * batch_means_se(b)  # and both are the exact posterior mean 0.5
    assert sorted(set(split.chain_ids)) == [0, 1, 2, 3] and len(split) == 4000


def tug_of_war():
    """probmods' tug of war, small: strengths 1-3, laziness halves a pull, alice and bob beat carol and dave. The
    control flow follows the choices, and most paths end early at the lost match."""
    strength = [1 + int(pyro.sample(f"strength_{p}", dist.Categorical(torch.ones(3)))) for p in "abcd"]

    def pulling(team):
        return sum(strength[i] / 2 if pyro.sample(f"lazy_{i}", dist.Bernoulli(1 / 3)).item() else strength[i]
                   for i in team)

    pyro.factor("won", 0.0 if pulling((0, 1)) > pulling((2, 3)) else -math.inf)
    return strength[0]


def _paths(posterior):
    """Each kept path as (its values by site, its log-weight), in one order whatever order the run found them in."""
    rows = []
    for i in range(len(posterior)):
        row = tuple(sorted((name, repr(v.tolist() if torch.is_tensor(v) else v))  # (a factor's value is empty)
                           for name, v in posterior.store.values_of_run(i).items()))
        rows.append((row, float(posterior.log_weights[i])))
    return sorted(rows)


@pytest.mark.parametrize("order", ["depth-first", "breadth-first"])
def test_enumerate_on_a_process_pool_finds_the_paths_of_one_process(pool, order):
    single = Enumerate(tug_of_war, order=order).run()
    split = Enumerate(tug_of_war, order=order, executor=pool, chunks=3).run()
    assert (split.num_paths, split.num_impossible) == (single.num_paths, single.num_impossible)
    assert _paths(split) == _paths(single)  # the very same paths, each with the very same weight
    assert split.log_marginal_likelihood == pytest.approx(single.log_marginal_likelihood, abs=1e-12)
    assert not split.partial
    assert split.trace_of_run(0)["won"].value is not None  # a path's trace is rebuilt by replay


def test_enumerate_on_dask_finds_the_paths_of_one_process(dask_executor):
    split = Enumerate(tug_of_war, executor=dask_executor, chunks=4).run()
    assert _paths(split) == _paths(Enumerate(tug_of_war).run())


def test_enumerate_split_more_ways_than_the_model_has_paths_is_still_exact(pool):
    single = Enumerate(two_dice).run()
    split = Enumerate(two_dice, executor=pool, chunks=50).run()  # 36 paths, asked for 200 subtrees
    assert _paths(split) == _paths(single) and split.num_paths == 36


def test_enumerate_on_a_pool_says_that_most_probable_first_cannot_be_split(pool):
    with pytest.raises(ValueError, match="most-probable-first.*cannot split"):
        Enumerate(tug_of_war, order="most-probable-first", executor=pool)


def test_enumerate_on_a_pool_names_where_every_path_ended_when_none_is_possible(pool):
    def impossible():
        a = pyro.sample("a", dist.Categorical(torch.ones(4)))
        pyro.sample("b", dist.Bernoulli(0.5))
        pyro.factor("never", -math.inf)
        return a

    with pytest.raises(EnumerationError, match=r"every one of the 8 execution paths.*'never' \(8 paths\)"):
        Enumerate(impossible, executor=pool, chunks=2).run()


def test_enumerate_on_a_pool_holds_to_max_paths(pool):
    with pytest.raises(EnumerationError, match="more than max_paths=100"):
        Enumerate(tug_of_war, max_paths=100, executor=pool, chunks=2).run()  # a piece runs past it
    paths = Enumerate(tug_of_war).run().num_paths
    with pytest.raises(EnumerationError, match=f"more than max_paths={paths - 1} execution paths. A model"):
        Enumerate(tug_of_war, max_paths=paths - 1, executor=pool, chunks=2).run()  # no piece does; together they do
    stopped = Enumerate(tug_of_war, max_paths=100, on_limit="stop", executor=pool, chunks=2).run()
    assert stopped.partial and 0 < len(stopped) <= stopped.num_paths


def test_enumerate_on_a_pool_raises_the_models_own_error():
    def repeats():
        a = pyro.sample("a", dist.Bernoulli(0.5))
        if a.item():
            pyro.sample("a", dist.Bernoulli(0.5))
        return a

    with ThreadPoolExecutor(2) as threads, pytest.raises(Exception, match="'a' appears twice"):
        Enumerate(repeats, executor=threads, chunks=2).run()


def test_importance_samples_on_dask_give_the_single_process_posterior(dask_executor):
    # Batched runs (vectorize=True) in each chunk: the chunks' tensors travel and join as blocks.
    single = Importance(normal_normal, num_samples=4000, vectorize=True).run()
    split = Importance(normal_normal, num_samples=4000, vectorize=True, executor=dask_executor).run()
    assert len(split.store.column("x").blocks) == 16
    m1, m2 = single.marginal("x"), split.marginal("x")
    # Self-normalised importance means; the delta-method SEs of the two independent runs add in quadrature.
    se = math.hypot(snis_se(m1, lambda v: v), snis_se(m2, lambda v: v))
    assert abs(m2.mean.item() - m1.mean.item()) < 5 * se
    # log p(y=1) = log N(1; 0, 2) exactly; the estimate's SE is sd(w) / (mean(w) sqrt(N)) (delta method).
    w = split.log_weights_tensor().exp()
    se_log_z = float(w.std() / w.mean()) / math.sqrt(len(w))
    exact = -0.5 * math.log(2 * math.pi * 2.0) - 1.0 / 4.0
    assert abs(split.log_marginal_likelihood - exact) < 5 * se_log_z


def test_rejection_on_a_process_pool_keeps_exactly_the_samples_asked_for(pool):
    posterior = Rejection(two_dice, num_samples=300, executor=pool).run()
    assert len(posterior) == 300
    kept = [int(v) for v in posterior.marginal().values]
    assert set(kept) <= {1, 2, 3}
    # Each of the 3 first dice is 1/3 exactly; a count out of 300 has SE sqrt(300 * 1/3 * 2/3) ~ 8.2.
    for face in (1, 2, 3):
        assert abs(kept.count(face) - 100) < 5 * math.sqrt(300 * (1 / 3) * (2 / 3))
    # Acceptance 3/36: the tries are a sum of geometric counts, 300 * 12 on average.
    assert posterior.tries >= 300


def test_predictive_draws_on_a_process_pool_keep_the_order_of_the_posterior_samples(pool):
    def model():
        w = pyro.sample("w", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.Normal(w, 0.001))

    samples = {"w": torch.arange(40.0)}
    out = Predictive(model, posterior_samples=samples, return_sites=["y"], executor=pool, chunks=3)()
    assert out["y"].shape == (40,)
    assert torch.allclose(out["y"], samples["w"], atol=0.01)  # y ~ N(w, 0.001) at each w, in order


class _CountingExecutor(ThreadPoolExecutor):
    """A thread pool that records how many bytes each submitted chunk carries."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.sent = []

    def submit(self, fn, *args, **kwargs):
        self.sent.append(sum(len(a) for a in args if isinstance(a, bytes)))
        return super().submit(fn, *args, **kwargs)


def test_predictive_sends_each_chunk_only_its_slice_of_the_posterior_samples():
    def model():
        w = pyro.sample("w", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.Normal(w, 0.001))

    samples = {"w": torch.arange(100_000.0)}  # 400 kB of float32
    with _CountingExecutor() as executor:
        out = Predictive(model, posterior_samples=samples, return_sites=["y"], executor=executor, chunks=8)()
    assert torch.allclose(out["y"], samples["w"], atol=0.01)
    assert len(executor.sent) == 8
    # A chunk's slice is 1/8 of the samples (50 kB) plus the model (a few kB); sending them all would be
    # 400 kB per chunk, so a quarter of that separates the two without depending on pickling overheads.
    assert max(executor.sent) < 100_000


def test_predictive_of_a_fitted_guide_on_dask_draws_from_the_fitted_parameters(dask_executor):
    def model(y=None):
        w = pyro.sample("w", dist.Normal(0.0, 10.0))
        return pyro.sample("y", dist.Normal(w, 1.0), obs=y)

    guide = AutoNormal(model)
    svi = SVI(model, guide, Adam({"lr": 0.1}), Trace_ELBO())
    for _ in range(200):
        svi.step(torch.tensor(3.0))
    # Dask's workers are fresh processes: the guide's parameters reach them only with the chunks.
    split = Predictive(model, guide=guide, num_samples=400, executor=dask_executor)()["w"]
    single = Predictive(model, guide=guide, num_samples=400)()["w"]
    # Two independent means of 400 draws of the same fitted Normal: their SEs add in quadrature.
    se = math.sqrt(float(single.var() + split.var()) / 400)
    assert abs(float(split.mean() - single.mean())) < 5 * se
    assert abs(float(split.mean()) - float(guide.median()["w"])) < 5 * math.sqrt(float(split.var()) / 400)


# ---- exact, repeatable merges ----------------------------------------------------------------------------
def test_the_same_seed_and_chunking_repeat_the_run_exactly(pool):
    pyro.set_rng_seed(3)
    first = Importance(normal_normal, num_samples=500, executor=pool, chunks=5).run()
    pyro.set_rng_seed(3)
    again = Importance(normal_normal, num_samples=500, executor=pool, chunks=5).run()
    assert values(first, "x") == values(again, "x")
    assert first.log_weights == again.log_weights


def test_stores_made_apart_extend_into_the_store_of_all_runs_added_in_order():
    runs = [({"x": torch.tensor(0.5), "c": "heads"}, -1.0, 0), ({"x": torch.tensor(1.5)}, -2.0, 1),
            ({"x": torch.tensor([1.0, 2.0]), "c": "tails"}, 0.0, 0), ({"c": "heads"}, -0.5, 1)]
    whole = RunStore()
    for values, log_weight, chain in runs:
        whole.add(values, log_weight, chain)
    first, second = RunStore(), RunStore()
    for values, log_weight, chain in runs[:2]:
        first.add(values, log_weight, chain)
    for values, log_weight, chain in runs[2:]:
        second.add(values, log_weight, chain)
    first.extend(second)
    batched = RunStore()
    batched.add_block({"x": torch.tensor([3.0, 4.0])}, torch.tensor([-1.0, -3.0]))
    first.extend(batched, chain_offset=2)
    whole.add_block({"x": torch.tensor([3.0, 4.0])}, torch.tensor([-1.0, -3.0]), chain_ids=2)
    for name in ("x", "c"):
        assert first.column(name).runs() == whole.column(name).runs()
        assert [_key(v) for v in first.column(name).values()] == [_key(v) for v in whole.column(name).values()]
    assert torch.equal(first.log_weight_tensor(), whole.log_weight_tensor())
    assert first.chain_id_list() == whole.chain_id_list() == [0, 1, 0, 1, 2, 2]


def _key(value):
    return value.tolist() if isinstance(value, torch.Tensor) else value


def test_the_merge_is_the_same_whichever_executor_ran_the_chunks(pool, dask_executor):
    results = []
    for executor in (pool, dask_executor, ThreadPoolExecutor(3)):
        pyro.set_rng_seed(7)
        posterior = MH(normal_normal, num_samples=100, num_chains=6, executor=executor).run()
        results.append((values(posterior, "x"), posterior.chain_ids, posterior.accepted, posterior.get_ESS()))
    assert results[0] == results[1] == results[2]


def test_a_run_on_threads_leaves_the_callers_generators_as_they_were():
    pyro.set_rng_seed(11)
    torch.randint(0, 2**62, ())  # the one draw a run takes from the caller: its base seed
    expected_torch, expected_random = torch.rand(3), random.random()
    pyro.set_rng_seed(11)
    with ThreadPoolExecutor(2) as threads:  # chunks seed the generators of this very process
        Importance(normal_normal, num_samples=20, executor=threads, chunks=4).run()
    assert torch.equal(torch.rand(3), expected_torch)
    assert random.random() == expected_random


# ---- models from a notebook or __main__ -------------------------------------------------------------
def _defined_in_main(source, name, **names):
    namespace = {"__name__": "__main__", "pyro": pyro, "dist": dist, "torch": torch, **names}
    exec(source, namespace)
    return namespace[name]


def test_a_model_defined_in_main_reaches_dask_workers_by_value(dask_executor):
    coin = _defined_in_main(
        "def coin(n):\n"
        "    p = pyro.sample('p', dist.Beta(1.0, 1.0))\n"
        "    pyro.sample('k', dist.Binomial(n, p), obs=torch.tensor(7.0))\n"
        "    return p\n",
        "coin",
    )
    posterior = MH(coin, num_samples=600, warmup=50, num_chains=2, executor=dask_executor).run(10)
    xs = values(posterior, "p")
    # Beta(8, 4) has mean 2/3; the chains' mean has the batch-means SE.
    assert abs(sum(xs) / len(xs) - 2 / 3) < 5 * batch_means_se(xs)


# ---- what cannot be sent ----------------------------------------------------------------------------
def test_a_model_closing_over_an_open_file_is_refused_naming_the_file(pool, tmp_path):
    log = open(tmp_path / "log.txt", "w")

    def noisy():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        log.write(f"{x}\n")
        return x

    with pytest.raises(ModelNotSendableError) as info:
        Importance(noisy, num_samples=10, executor=pool).run()
    log.close()
    message = str(info.value)
    assert "model 'noisy'" in message and "closure variable 'log'" in message
    assert "TextIOWrapper" in message and "log.txt" in message and "executor=" in message


def test_a_global_lock_of_a_main_model_is_refused_naming_the_global(pool):
    model = _defined_in_main(
        "def guarded():\n"
        "    with lock:\n"
        "        return pyro.sample('x', dist.Normal(0.0, 1.0))\n",
        "guarded",
        lock=threading.Lock(),
    )
    with pytest.raises(ModelNotSendableError, match=r"global 'lock' of 'guarded' is a _thread.lock"):
        MH(model, num_samples=10, executor=pool).run()


def test_an_unpicklable_argument_of_the_run_is_refused_naming_the_argument(pool):
    def model(lock):
        with lock:
            return pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ModelNotSendableError, match=r"argument 0 of the run is a _thread.lock"):
        Rejection(model, num_samples=3, executor=pool).run(threading.Lock())


# ---- workers that die ----------------------------------------------------------------------------
def test_a_dead_worker_in_a_process_pool_loses_the_chunks_it_could_not_finish(tmp_path):
    # How many model runs one chain makes (its start and its steps), counted here in this process.
    os.environ.pop("PPL_TEST_RUNS", None)
    MH(dies_once, num_samples=50).run(str(tmp_path / "never"), -1)
    per_chain = int(os.environ.pop("PPL_TEST_RUNS"))
    # One worker runs the 4 one-chain chunks in order and dies half-way through the third chain. The pool
    # breaks with its process: the third and fourth chains are lost.
    with ProcessPoolExecutor(max_workers=1) as one:
        with pytest.warns(RunsLostWarning, match=r"2 of 4 chains of model 'dies_once' were lost"):
            posterior = MH(dies_once, num_samples=50, num_chains=4, executor=one).run(
                str(tmp_path / "flag"), 2 * per_chain + per_chain // 2)
    assert posterior.lost_runs == 2
    assert len(posterior) == 100 and sorted(set(posterior.chain_ids)) == [0, 1]
    assert not posterior.partial


def _coins_that_kill_a_worker(flag):
    """Three fair coins; the first run in a process other than the test's ends that process (once: ``flag``)."""
    if str(os.getpid()) != os.environ["PPL_TEST_DRIVER"] and not os.path.exists(flag):
        open(flag, "w").close()
        os._exit(1)
    return sum(pyro.sample(f"c{i}", dist.Bernoulli(0.5)) for i in range(3))


def test_enumerate_that_loses_a_subtree_to_a_dead_worker_says_it_is_partial(tmp_path):
    # A lost subtree takes its paths with it: the marginal of the rest is not the exact answer, and must say so.
    os.environ["PPL_TEST_DRIVER"] = str(os.getpid())
    with ProcessPoolExecutor(max_workers=1) as one, pytest.warns(RunsLostWarning, match="subtrees of paths"):
        posterior = Enumerate(_coins_that_kill_a_worker, executor=one, chunks=2).run(str(tmp_path / "flag"))
    assert posterior.lost_runs > 0 and posterior.partial
    assert len(posterior) < 8


def test_a_dead_dask_worker_costs_nothing_its_chunk_runs_again_with_its_seed(dask_executor, tmp_path):
    pyro.set_rng_seed(5)
    calm = MH(normal_normal, num_samples=50, num_chains=4, executor=dask_executor).run()
    pyro.set_rng_seed(5)
    # The first worker process to make its 30th run dies (once: the flag file stays); Dask starts a new one.
    survived = MH(dies_once, num_samples=50, num_chains=4, executor=dask_executor).run(str(tmp_path / "flag"), 30)
    assert (tmp_path / "flag").exists()
    assert survived.lost_runs == 0
    assert values(survived, "x") == values(calm, "x")


# ---- live views ----------------------------------------------------------------------------------
def test_progress_is_reported_as_chunks_finish_and_stop_keeps_the_finished_ones():
    calls = []

    def progress(posterior, done, total):
        calls.append((done, total, len(posterior)))
        if done > 0 and posterior.running:
            posterior.stop()

    def slow():
        time.sleep(0.05)  # a chain of 1 + 5 runs takes 0.3 s, longer than the 0.25 s between progress calls
        return normal_normal()

    with ThreadPoolExecutor(1) as one:
        posterior = MH(slow, num_samples=5, num_chains=8, executor=one, progress=progress).run()
    assert calls[0] == (0, 8 * 5, 0)  # MH counts steps: 5 per chain
    assert posterior.partial
    assert 0 < len(posterior) < 8 * 5 and len(posterior) % 5 == 0  # whole chains only
    assert calls[-1][2] == len(posterior)


def test_an_executor_must_have_submit():
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        MH(normal_normal, executor=4)


def test_a_chunk_result_travels_by_value_not_as_handles_to_its_workers_memory():
    # multiprocessing's pickler sends a tensor as a handle to the sender's shared memory, which the caller can
    # open only while the worker lives: a worker dying just after it sent a finished chunk would lose that chunk.
    from multiprocessing.reduction import ForkingPickler

    from ppl_kernel.infer.parallel import ChunkResult
    from ppl_kernel.infer.store import RunStore

    store = RunStore()
    store.add({"x": torch.tensor([1.0, 2.0])}, 0.0)
    data = bytes(ForkingPickler.dumps(ChunkResult(store, {0: -1.5}, 1, {"accepted": torch.tensor([3, 4])})))
    assert b"rebuild_storage" not in data  # torch's shared-memory reductions (fd or file name) are not used
    back = pickle.loads(data)
    assert back.store.column("x").tensor().tolist() == [[1.0, 2.0]]
    assert back.log_joints == {0: -1.5} and back.runs == 1 and back.stats["accepted"].tolist() == [3, 4]
