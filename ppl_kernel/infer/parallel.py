"""Independent pieces of an inference run on any ``concurrent.futures.Executor``.

MH's chains, Importance's and Rejection's samples, Predictive's draws and Enumerate's subtrees of paths split
into independent *chunks*. ``executor=`` (a ``ProcessPoolExecutor``, Dask's ``client.get_executor()``, Ray's
executor...) runs the chunks; this module is the one place that

- cuts the work into chunks (:func:`split`): ``chunks`` pieces of nearly equal size, a number that
  does not depend on the executor, so that a run repeats whatever ran it;
- derives each chunk's seed from one base seed (:func:`chunk_seeds`); the base seed is drawn from the
  generator the caller draws from (torch's, or a background run's own), so ``pyro.set_rng_seed(s)``
  before the run makes the whole run repeat exactly;
- sends what all chunks share once per chunk (the model, its arguments), and what belongs to one chunk
  only to that chunk (Predictive's slice of the posterior samples: never all of them to every worker);
- sends the model by value (cloudpickle, as Dask does), so that a function defined in a notebook cell
  or in ``__main__`` reaches the workers, and names the object that cannot be sent when one cannot;
- runs a chunk in a worker (:func:`run_chunk`) and ships back its compact result (:class:`ChunkResult`:
  columns of site values and log-weights, never traces);
- merges the results in chunk order whatever order they finished in, so the posterior (its weights,
  its ESS) is the same whichever worker ran what;
- keeps the run alive when a worker dies: the chunk is tried once more, and if it is lost again (or the
  executor cannot take it) the run ends with the other chunks and says how many runs were lost
  (``lost_runs``, and a :class:`~ppl_kernel.errors.RunsLostWarning`). Dask replaces a dead worker and runs
  its chunk again, with the chunk's own seed, so the result is the one a calm run gives; the standard
  library's ``ProcessPoolExecutor`` breaks as a whole when one of its processes dies, so there every chunk
  not finished by then is reported lost (and the pool must be made anew).

The progress callback fires as chunks finish; ``posterior.stop()`` (or a ``KeyboardInterrupt`` from the
callback) cancels the chunks not yet started and keeps the finished ones.

>>> from concurrent.futures import ThreadPoolExecutor
>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import MH
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> with ThreadPoolExecutor(2) as pool:
...     pyro.set_rng_seed(1)
...     first = MH(coin, num_samples=20, num_chains=4, executor=pool).run()
...     pyro.set_rng_seed(1)
...     again = MH(coin, num_samples=20, num_chains=4, executor=pool).run()
>>> first.marginal("c").samples.tolist() == again.marginal("c").samples.tolist(), len(first)
(True, 80)
"""

import concurrent.futures
import hashlib
import os
import pickle
import threading
import types
import warnings

import torch

from .. import rng
from ..errors import ModelNotSendableError, RunsLostWarning
from ..params import get_param_store
from ..runtime import Site, model_name, readable_name
from ..settings import settings

DEFAULT_CHUNKS = 16  # pieces a sample-count run is cut into: enough to keep 16 workers busy
_WAIT = 0.25  # seconds between looks at the futures while none finishes (the progress throttle's scale)

# A chunk seeds the process-wide generators (torch's, Python's, NumPy's) and runs the model with them;
# chunks run by threads of one process (ThreadPoolExecutor, Dask with processes=False) take turns, so each
# chunk's draws depend on its own seed only.
_CHUNK_LOCK = threading.Lock()


# ---- cutting the work -----------------------------------------------------------------------------------
def split(total, chunks):
    """``total`` units in ``min(chunks, total)`` pieces whose sizes differ by at most one.

    >>> split(10, 4), split(3, 16)
    ([3, 3, 2, 2], [1, 1, 1])
    """
    if not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunks must be a positive integer, got {chunks!r}")
    pieces = min(chunks, total)
    base, extra = divmod(total, pieces)
    return [base + 1 if i < extra else base for i in range(pieces)]


def base_seed():
    """A seed for a whole run, drawn from the thread's generator: ``set_rng_seed(s)`` before a run repeats it,
    and so does a background run's own seeded generator (:func:`ppl_kernel.settings.drawing_from`)."""
    return int(torch.randint(0, 2**62, (), device="cpu", generator=settings.generator).item())


def chunk_seeds(seed, count):
    """``count`` seeds derived from one: a stable hash of (seed, chunk index), independent across chunks.

    >>> chunk_seeds(0, 3) == chunk_seeds(0, 3), len(set(chunk_seeds(0, 3)))
    (True, 3)
    """
    out = []
    for i in range(count):
        digest = hashlib.blake2b(f"{seed}/{i}".encode(), digest_size=8).digest()
        out.append(int.from_bytes(digest, "little") >> 2)  # below 2**62: accepted by every generator
    return out


# ---- sending the model ----------------------------------------------------------------------------------
def _cloudpickle():
    try:
        import cloudpickle
    except ImportError:  # a declared dependency; only a broken install lacks it
        raise ImportError(
            "executor=... sends the model to the workers with cloudpickle, which is not installed: "
            "python -m pip install cloudpickle"
        ) from None
    return cloudpickle


def pack(obj, who, what):
    """``obj`` as bytes (cloudpickle: functions of ``__main__`` and notebook cells go by value).

    ``who`` is the caller's name (``"MH"``) and ``what`` names ``obj`` for the error (``"model 'coin'"``).
    Raises :class:`ModelNotSendableError` naming the part that cannot be pickled.
    """
    cloudpickle = _cloudpickle()
    try:
        return cloudpickle.dumps(obj)
    except Exception as error:  # pickling raises TypeError, PicklingError, AttributeError... by object
        path, culprit, reason = _unpicklable_part(obj, cloudpickle)
        where = " → ".join(path)
        raise ModelNotSendableError(
            f"{who}(executor=...): {what} cannot be sent to the workers: "
            f"{where + ' is ' if where else ''}{_describe(culprit)}, which cannot be pickled "
            f"({type(reason).__name__}: {reason}). Create it inside the model (open the file, make the lock "
            "where it is used), pass something picklable instead, or run without executor=."
        ) from error


def _unpicklable_part(obj, cloudpickle, depth=8):
    """The path to the innermost part of ``obj`` that does not pickle: (names, object, exception)."""
    path, seen = [], set()
    try:
        cloudpickle.dumps(obj)
        return path, obj, None
    except Exception as e:
        reason = e
    for _ in range(depth):
        seen.add(id(obj))
        for label, part in _parts(obj):
            if id(part) in seen or isinstance(part, types.ModuleType):
                continue
            try:
                cloudpickle.dumps(part)
            except Exception as e:
                path.append(label)
                obj, reason = part, e
                break
        else:
            break  # every part pickles on its own: obj itself is the culprit
    return path, obj, reason


def _parts(obj):
    """(label, part) pairs of what pickling ``obj`` pickles too: closures, globals, attributes, items."""
    if isinstance(obj, ChunkTask):
        yield from obj.parts()
    elif isinstance(obj, types.FunctionType):
        code = obj.__code__
        for name, cell in zip(code.co_freevars, obj.__closure__ or (), strict=False):
            try:
                yield f"closure variable '{name}' of '{readable_name(obj.__qualname__)}'", cell.cell_contents
            except ValueError:  # an empty cell
                continue
        for name in _global_names(code):
            if name in obj.__globals__:
                yield f"global '{name}' of '{readable_name(obj.__qualname__)}'", obj.__globals__[name]
        for i, value in enumerate(obj.__defaults__ or ()):
            yield f"default argument {i} of '{readable_name(obj.__qualname__)}'", value
        for name, value in (obj.__kwdefaults__ or {}).items():
            yield f"default of '{name}' in '{readable_name(obj.__qualname__)}'", value
        for name, value in obj.__dict__.items():
            yield f"attribute '{name}' of '{readable_name(obj.__qualname__)}'", value
    elif isinstance(obj, types.MethodType):
        yield "the object of the method", obj.__self__
        yield "the method's function", obj.__func__
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield f"item {key!r}", value
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, value in enumerate(obj):
            yield f"item {i}", value
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for name, value in vars(obj).items():
            yield f"attribute '{name}'", value


def _global_names(code):
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += [n for n in _global_names(const) if n not in names]
    return names


def _describe(obj):
    kind = type(obj)
    text = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__
    name = getattr(obj, "name", None) if kind.__module__ == "_io" else None
    return f"a {text}" + (f" ({name!r})" if isinstance(name, str) else "")


# ---- one chunk, in a worker ---------------------------------------------------------------------------
class ChunkTask:
    """What every chunk of one run needs: a fresh algorithm to copy, the model's arguments, the parameters."""

    def __init__(self, template, args, kwargs):
        self.template = template
        self.args, self.kwargs = args, kwargs
        store = get_param_store()
        self.params = store.get_state() if len(store.keys()) else None
        self.driver_pid = os.getpid()

    def parts(self):
        """What the task sends, named as the user knows it (for the error when a part cannot be sent)."""
        template = self.template
        yield f"model '{model_name(template.model)}'", template.model
        for i, arg in enumerate(self.args):
            yield f"argument {i} of the run", arg
        for name, arg in self.kwargs.items():
            yield f"argument '{name}' of the run", arg
        for name, value in vars(template).items():
            if name != "model":
                yield f"{type(template).__name__}'s {name}", value


class ChunkResult:
    """One chunk's runs, compact: its :class:`~ppl_kernel.infer.store.RunStore` (columns of site values,
    log-weights, chain ids; chunk-local chain numbers), the log-joints it knew (``run -> log p(x, data)``, a
    dict or a :class:`~ppl_kernel.infer.store.LogJoints`), how many model runs it made (``runs``, for progress)
    and the algorithm's own counts (``stats``: MH's acceptances, Rejection's tries)."""

    def __init__(self, store, log_joints, runs, stats):
        self.store, self.log_joints, self.runs, self.stats = store, log_joints, runs, stats

    def __len__(self):
        return self.store.num_runs

    def __reduce__(self):
        # A result leaves its worker as self-contained bytes (tensors by value). multiprocessing's pickler, which
        # concurrent.futures' process pools use, would send each tensor as a handle to the worker's shared memory
        # that the caller opens when it reads the result, and only while the worker lives: a worker that dies
        # just after sending (in the next chunk) would lose this finished one.
        return _result_from_bytes, (pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL),)


def _result_from_bytes(data):
    result = ChunkResult.__new__(ChunkResult)
    result.__dict__.update(pickle.loads(data))
    return result


def compact(posterior):
    """A chunk's posterior (after its run) in the form it travels in: its store, without trace objects.

    Each column keeps its first site for its kind and distribution; that site travels without its value,
    arguments and call (they belong to one run and may be large).
    """
    store = posterior.store
    store._settle()
    for column in store.columns.values():
        if column.site is not None:
            column.site = _bare(column.site)
    return ChunkResult(store, posterior._log_joints, posterior._done, {})


def _bare(site):
    bare = Site(site.type, site.name, site.fn, (), {}, None, site.is_observed, dict(site.infer))
    bare.scale, bare.mask, bare.cond_indep_stack, bare.done = site.scale, site.mask, site.cond_indep_stack, site.done
    return bare


def absorb(posterior, result, chain_offset=0):
    """Add a chunk's runs to a posterior (on the caller's side), chain numbers shifted by ``chain_offset``."""
    posterior.add_runs(result.store, chain_offset, result.log_joints)


def clear(posterior):
    """Empty a posterior's runs before the chunks are merged (again) into it."""
    posterior.clear_runs()


def run_chunk(blob, size, offset, seed, inputs=None):
    """Run the chunk of ``size`` units starting ``offset`` units in, with ``seed`` (in a worker).

    ``inputs`` (bytes, or None) is what only this chunk needs, from the algorithm's ``_chunk_inputs``.
    Returns its :class:`ChunkResult`.
    """
    cloudpickle = _cloudpickle()
    with _CHUNK_LOCK:
        task = cloudpickle.loads(blob)
        in_driver = task.driver_pid == os.getpid()  # a thread of the calling process: its store is the same
        if task.params is not None and not in_driver:
            get_param_store().set_state(task.params)
        states = rng.get_state()
        try:
            rng.seed_all(seed)
            if inputs is None:
                chunk = task.template._chunk(size, offset)
            else:
                chunk = task.template._chunk(size, offset, inputs=cloudpickle.loads(inputs))
            return chunk._run_chunk(task.args, task.kwargs)
        finally:
            rng.set_state(states)  # a thread of the caller leaves the caller's generators as they were


# ---- the run, on the caller's side ---------------------------------------------------------------------
def _worker_died(error):
    """True when a future failed because its worker went away (not because the model raised)."""
    if isinstance(error, concurrent.futures.BrokenExecutor):
        return True
    # Dask's and Ray's names for it, matched by name so that neither needs to be installed.
    return type(error).__name__ in ("KilledWorker", "WorkerCrashedError", "CommClosedError", "WorkerDiedError")


class _Lost:
    def __init__(self, error):
        self.error = error


def run_split(algorithm, args, kwargs, unit, total, chunks):
    """Run ``algorithm`` (its ``executor`` set) as chunks of ``total`` units; merge them into it.

    The algorithm provides ``_chunk(size, offset)`` (a fresh copy for the ``size`` units from ``offset``, to
    run in one process), whose ``_run_chunk(args, kwargs)`` returns a :class:`ChunkResult`;
    ``_clear_chunks()`` and ``_absorb(result, offset)`` (add one chunk's runs); ``_report(done)`` (progress;
    raises KeyboardInterrupt to stop). An algorithm whose input is cut along with the work (Predictive's
    posterior samples) also provides ``_chunk_inputs(size, offset)`` (that chunk's part of the input), and
    its ``_chunk`` takes ``inputs=``: the part goes to its chunk alone, the shared task carries none of it.
    ``unit`` names a unit for messages (``"chains"``). Returns the number of model runs made (for progress).
    """
    executor = algorithm.executor
    who = type(algorithm).__name__
    sizes = split(total, chunks)
    seeds = chunk_seeds(base_seed(), len(sizes))
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    what = f"the run of model '{model_name(algorithm.model)}'"
    own_inputs = getattr(algorithm, "_chunk_inputs", None)
    template = algorithm._chunk(total, 0) if own_inputs is None else algorithm._chunk(total, 0, inputs={})
    blob = pack(ChunkTask(template, args, kwargs), who, what)
    results = [None] * len(sizes)
    retried = set()
    futures = {}

    def submit(i):
        extra = () if own_inputs is None else (pack(own_inputs(sizes[i], offsets[i]), who, what),)
        futures[executor.submit(run_chunk, blob, sizes[i], offsets[i], seeds[i], *extra)] = i

    algorithm._clear_chunks()
    in_order = True
    done_runs = 0
    try:
        for i in range(len(sizes)):
            submit(i)
        pending = set(futures)
        while pending:
            finished, pending = concurrent.futures.wait(pending, timeout=_WAIT,
                                                        return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                i = futures.pop(future)
                error = future.exception()
                if error is None:
                    results[i] = result = future.result()
                    in_order = in_order and all(r is not None for r in results[:i])
                    algorithm._absorb(result, offsets[i])
                    done_runs += result.runs
                    continue
                if not _worker_died(error):
                    raise error  # the model's own error, as it would be raised without executor=
                if i not in retried:
                    retried.add(i)
                    try:
                        submit(i)
                    except Exception as e:  # the executor itself is gone (a broken process pool)
                        results[i] = _Lost(e)
                    else:
                        pending = pending | {f for f, j in futures.items() if j == i}
                        continue
                else:
                    results[i] = _Lost(error)
            algorithm._report(done_runs)
    except BaseException:
        for future in futures:
            future.cancel()  # chunks not started yet never start; finished ones stay merged
        raise
    finally:
        if not in_order:  # chunks finished out of order: merge again in chunk order, for an exact result
            algorithm._clear_chunks()
            for i, result in enumerate(results):
                if isinstance(result, ChunkResult):
                    algorithm._absorb(result, offsets[i])
        lost = [i for i, r in enumerate(results) if isinstance(r, _Lost)]
        algorithm.lost_runs = sum(sizes[i] for i in lost)
        if lost:
            _warn_lost(who, algorithm, unit, total, sizes, lost, results[lost[0]].error)
    return done_runs


def _warn_lost(who, algorithm, unit, total, sizes, lost, error):
    kept = total - algorithm.lost_runs
    warnings.warn(
        f"{who}: {algorithm.lost_runs} of {total} {unit} of model '{model_name(algorithm.model)}' were lost: "
        f"{len(lost)} of the {len(sizes)} chunks of the run lost their worker ({type(error).__name__}: {error}) "
        f"and could not be run again. The posterior holds the other {kept} {unit} "
        f"(posterior.lost_runs = {algorithm.lost_runs}). If the model itself ends its process (os._exit, "
        "a crash in native code, running out of memory), fix that; else run again, with a new executor "
        "if it is broken.",
        RunsLostWarning,
        stacklevel=5,  # the user's line: _warn_lost, run_split, the algorithm's _run, its run, the caller
    )


def check_chunks(who, chunks):
    if chunks is not None and (not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 1):
        raise ValueError(f"{who}: chunks must be a positive integer (how many pieces to cut the work into), "
                         f"got {chunks!r}")


def check_executor(who, executor):
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"{who}: executor must be a concurrent.futures.Executor (something with .submit(fn, *args)), such "
            f"as concurrent.futures.ProcessPoolExecutor() or a Dask client's client.get_executor(); got "
            f"{type(executor).__name__}"
        )


