"""N runs of a model as one execution, under ``torch.func.vmap(..., randomness="different")``.

The model's Python code runs once. Every tensor in it carries an invisible run dimension of size N,
so each ``sample`` draws N independent values and everything computed from them stays per run. vmap
raises on anything that cannot stay per run (``if`` on a sampled value, ``.item()``, ``.data``), so a
model either runs exactly as N separate runs would, or we get an error and say why
(:mod:`.fallback`). Two things vmap cannot see are checked here: draws from Python's ``random`` or
NumPy (made once, shared by all runs) and non-tensor objects coming out of the run (they could
hold per-run tensors that die with the vmap).
"""

import random
import sys
import threading

import torch
from torch.distributions import constraints
from torch.utils._pytree import tree_flatten, tree_unflatten

from ..errors import InvalidParameterError
from ..runtime import Messenger, model_name
from ..settings import settings, validation_suspended
from ..trace import CallNode
from .batched_trace import BatchedSite, BatchedTrace, distribution_tensors, rebuild_distribution
from .fallback import NotBatchable, describe_failure, user_line

# Values that may leave the batched run as they are: they cannot hide a per-run tensor.
_PLAIN = (str, bytes, int, float, complex, bool, type(None))

# Argument validation must be off inside vmap (its checks read tensors into Python): a batched run
# suspends it in its own thread only (settings.validation_suspended), then checks the whole batch.


class _Recorder(Messenger):
    """The outermost handler of the batched run: records the sites and draws with torch's samplers.

    It sees each site after the model's own handlers (condition, replay, ...). Drawing here keeps clear
    of the scalar fast path, whose in-place draws vmap refuses; and we call ``sample``, not ``rsample``:
    torch's reparameterized samplers fill an un-batched tensor in place (``_standard_normal``), which vmap
    refuses too. So batched values carry no gradient through the draw (the batched path is for sampling
    and importance weights, not for gradient estimates).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.sites = []
        self.drawing = None

    def process_message(self, msg):
        if msg.type == "sample" and msg.value is None and not msg.done:
            fn = msg.fn
            self.drawing = msg
            msg.value = fn.sample()
            self.drawing = None

    def postprocess_message(self, msg):
        if msg.type == "sample" and hasattr(type(msg.fn), "object_valued"):
            # Choice and inference marginals hold Python values and score them one at a time.
            raise NotBatchable(
                f"site '{msg.name}' of model '{model_name(self.model)}' draws from {type(msg.fn).__name__}, whose "
                "values are Python objects looked up one run at a time"
            )
        self.sites.append(msg)
        if len(self.sites) > settings.max_sites:
            raise NotBatchable(f"model '{model_name(self.model)}' made more than {settings.max_sites} sites in one run")


def run_batched(model, num_runs, *args, **kwargs):
    """Run ``model(*args, **kwargs)`` ``num_runs`` times as one batched execution; return a BatchedTrace.

    Raises :class:`NotBatchable` (with a one-line ``reason``) when the runs cannot go as one batch;
    errors of the model itself (an invalid parameter in some run) are raised as they would be by
    separate runs, naming the site and the run.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
    >>> def weather():
    ...     cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    ...     temp = pyro.sample("temp", dist.Normal(torch.where(cloudy == 1, 55.0, 75.0), 10.0))
    ...     return temp
    >>> tr = run_batched(weather, 1000)
    >>> tr["temp"].value.shape, tr.return_value.shape
    (torch.Size([1000]), torch.Size([1000]))
    """
    return run_batched_with(model, num_runs, args, kwargs)


def run_batched_with(model, num_runs, args, kwargs, inner=None, inputs=None, check_values=True):
    """:func:`run_batched` with a handler of the caller's inside the batch.

    ``inputs`` is a dict of tensors with the run dimension first; ``inner(one_run_inputs)`` makes a handler
    (a Messenger) from one run's slice of them, which sees every site before the batched draw (it may give
    a site its value). ``check_values=False`` leaves out the check that latent values lie in their
    distribution's support (a caller that reuses values scores such runs itself).
    """
    n = int(num_runs)
    if n < 1:
        raise ValueError(f"run_batched: num_runs must be at least 1, got {num_runs}")
    box = {}

    def site_tensors(sites, ret):
        leaves, spec = tree_flatten(ret)
        out = [leaf for leaf in leaves if isinstance(leaf, torch.Tensor)]
        box["return"], counts = (leaves, spec), []
        for site in sites:
            if site.type != "sample":
                continue
            site.fn.batch_shape  # noqa: B018  materializes a deferred distribution: its tensors must come out
            out.append(site.value)
            tensors = distribution_tensors(site.fn)
            counts.append(len(tensors))
            out.extend(tensors)
            if isinstance(site.mask, torch.Tensor):
                out.append(site.mask)
        box["dist_counts"] = counts
        return tuple(out)

    runs = BatchedFunction(model, args, kwargs, site_tensors, inner)
    validate = settings.validate
    outputs = runs.guarded(lambda: runs(n, inputs))
    box["recorder_sites"] = runs.sites
    trace = _assemble(model, n, box, list(outputs), args, kwargs)
    if validate:
        for site in trace:
            if site.type == "sample":
                _check_site(site, n, check_values or site.is_observed or site.done)
    return trace


class BatchedFunction:
    """``reduce(sites, return_value)`` (a tuple of tensors) of each of n runs of a model, as one vmapped call.

    A function of tensors, not a trace: for callers that make the same batched execution many times and
    need only some numbers of each run (MH's steps), or that capture it once (:mod:`.captured`). ``reduce``
    runs inside the batch, where each tensor is one run's; ``inner(one_run_inputs)`` is a handler of the
    caller's inside the model's handlers, as in :func:`run_batched_with`. After a call, ``sites`` are the
    sites it recorded (their tensors belong to the finished vmap: read their names and structure only).
    Errors are vmap's; :meth:`guarded` turns them into :class:`NotBatchable` naming the line.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
    >>> def coin():
    ...     return pyro.sample("x", dist.Bernoulli(0.5))
    >>> heads = BatchedFunction(coin, (), {}, lambda sites, ret: (ret == 1,))
    >>> (count,) = heads.guarded(lambda: heads(1000))
    >>> count.shape, [site.name for site in heads.sites]
    (torch.Size([1000]), ['x'])
    """

    def __init__(self, model, args, kwargs, reduce, inner=None):
        self.model, self.args, self.kwargs, self.reduce, self.inner = model, args, kwargs, reduce, inner
        self.sites, self.drawing = [], None
        self._vmapped = torch.func.vmap(self._one_run, randomness="different")

    def _one_run(self, _, run_inputs):
        recorder = self._recorder = _Recorder(self.model)
        with recorder:
            if self.inner is None:
                ret = self.model(*self.args, **self.kwargs)
            else:
                with self.inner(run_inputs):
                    ret = self.model(*self.args, **self.kwargs)
        _check_return(self.model, ret)
        self.sites = recorder.sites
        return self.reduce(recorder.sites, ret)

    def __call__(self, n, inputs=None):
        """The reduced outputs of n runs (``inputs``: a dict of tensors with the run dimension first)."""
        self._recorder = None
        # torch's checks call bool() on tensors, which vmap refuses: skip them in this thread while the
        # batched run goes (the caller checks the whole batch afterwards).
        with validation_suspended():
            return self._vmapped(torch.empty((n, 0), device=_device_of(inputs)), inputs or {})

    def guarded(self, call):
        """``call()`` (which calls this function), with the random generators put back and the failure said
        as :class:`NotBatchable` when the runs cannot go as one batch, or when the model drew from Python's
        ``random`` or NumPy (which vmap cannot see: drawn once, shared by all runs)."""
        states = _RandomStates()
        try:
            outputs = call()
        except NotBatchable as e:
            states.restore()
            where = user_line(e.__traceback__)  # raised inside the model's run: the line it was at
            if where is None or where in e.reason:
                raise
            raise NotBatchable(f"{e.reason} ({where})") from e
        except Exception as e:
            states.restore()
            recorder = self._recorder
            raise NotBatchable(describe_failure(self.model, e, recorder.drawing if recorder else None)) from e
        if states.python_or_numpy_drew():
            states.restore()
            raise NotBatchable(
                f"model '{model_name(self.model)}' draws from Python's random or NumPy, which a batched run would "
                "draw once for all runs (use ppl_kernel.sample or torch's random functions instead)"
            )
        return outputs


def _device_of(inputs):
    leaves = [leaf for leaf in tree_flatten(inputs)[0] if isinstance(leaf, torch.Tensor)] if inputs else []
    return leaves[0].device if leaves else None


def _check_return(model, ret):
    """A batched run hands back tensors and plain values only: any other object may hold one run's tensors."""
    for leaf in tree_flatten(ret)[0]:
        if not isinstance(leaf, (torch.Tensor,) + _PLAIN):
            raise NotBatchable(
                f"model '{model_name(model)}' returns a {type(leaf).__name__}, which may hold values of "
                "one run; a batched run can hand back only tensors and plain values (numbers, strings)"
            )


class _RandomStates:
    """The random generators' states before a batched attempt: put back when it fails, so that the runs
    made one by one instead draw exactly what they would have drawn without the attempt.

    Whether the model drew from Python's or NumPy's global generator is read from their states; but when
    other threads run (a Dask worker's event loop, which draws from ``random``), a changed state says
    nothing about the model, so this thread's calls to those generators are watched instead (a profile
    hook for this thread only, during the one batched execution).
    """

    def __init__(self):
        self.numpy = sys.modules.get("numpy")
        self.python = random.getstate()
        self.numpy_state = self.numpy.random.get_state() if self.numpy is not None else None
        self.torch = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.watched = None
        if threading.active_count() > 1 and sys.getprofile() is None:  # not under a profiler of the user's
            generators = (random._inst,) + ((self.numpy.random.mtrand._rand,) if self.numpy is not None else ())
            self.watched = []

            def watch(frame, event, arg):
                if event == "c_call" and getattr(arg, "__self__", None) in generators:
                    self.watched.append(arg)

            sys.setprofile(watch)

    def _unwatch(self):
        if self.watched is not None:
            sys.setprofile(None)

    def python_or_numpy_drew(self):
        self._unwatch()
        if self.watched is not None:
            return bool(self.watched)
        if random.getstate() != self.python:
            return True
        return self.numpy is not None and not (self.numpy.random.get_state()[1] == self.numpy_state[1]).all()

    def restore(self):
        self._unwatch()
        random.setstate(self.python)
        if self.numpy is not None:
            self.numpy.random.set_state(self.numpy_state)
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


def _assemble(model, n, box, outputs, args, kwargs):
    """Build the BatchedTrace from the recorded sites and the tensors vmap handed back (in one_run's order)."""
    root = CallNode(model_name(model), tuple((None, a) for a in args if isinstance(a, _PLAIN))
                    + tuple((k, v) for k, v in kwargs.items() if isinstance(v, _PLAIN)))
    trace = BatchedTrace(n, root)
    leaves, spec = box["return"]
    pos = 0
    ret_leaves = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            ret_leaves.append(outputs[pos])
            pos += 1
        else:
            ret_leaves.append(leaf)
    counts = iter(box.get("dist_counts", ()))
    for inner in box["recorder_sites"]:
        site = BatchedSite(inner.type, inner.name, inner.fn, (), {}, inner.value, inner.is_observed, dict(inner.infer))
        # (args are left out: they may hold per-run tensors of the finished vmap)
        site.scale, site.mask, site.cond_indep_stack, site.done, site.stop, site.call = (
            inner.scale, inner.mask, inner.cond_indep_stack, inner.done, inner.stop, root,
        )
        if inner.type == "sample":
            site.value, site.per_run_fn = outputs[pos], inner.fn
            k = next(counts)
            site.fn = rebuild_distribution(inner.fn, outputs[pos + 1: pos + 1 + k], runs=(n,))
            pos += 1 + k
            if isinstance(inner.mask, torch.Tensor):
                site.mask = outputs[pos]
                pos += 1
        root.children.append(site)
        trace.nodes[site.name] = site
    ret = tree_unflatten(ret_leaves, spec)
    root.ret, root.returned = ret, True
    trace.add_return(ret)
    return trace


def site_checks(site, check_value=True):
    """The argument checks that vmap made us skip, as (constraint, tensor, what, fix): the distribution's
    parameters, and its value when ``check_value``."""
    d = site.fn
    checks = []
    for param, constraint in d.arg_constraints.items():
        if constraints.is_dependent(constraint) or param not in d.__dict__:
            continue
        checks.append((constraint, d.__dict__[param], f"parameter '{param}' of {type(d).__name__}",
                       f"Fix the value passed as '{param}' to this sample statement."))
    support = d.support
    if check_value and support is not None and not constraints.is_dependent(support):
        checks.append((support, site.value, f"the value of {type(d).__name__}",
                       "Fix the observed value (obs=...) or choose a distribution whose support contains it."))
    return checks


def _check_site(site, n, check_value=True):
    """The argument checks that vmap made us skip, done on the whole batch at once; names the first bad run."""
    for constraint, value, what, fix in site_checks(site, check_value):
        require(site.name, n, constraint, value, what, fix)


def require(name, n, constraint, value, what, fix):
    """Raise InvalidParameterError naming site ``name`` and the first of the ``n`` runs where ``value`` (run
    dimension first, or shared by all runs) does not satisfy ``constraint``."""
    ok = constraint.check(value)
    if bool(ok.all()):
        return
    bad = (~ok).reshape(n, -1).any(1).nonzero() if ok.dim() and ok.shape[0] == n else ok.new_zeros((0,))
    run = int(bad[0]) if len(bad) else 0
    raise InvalidParameterError(
        f"site '{name}': {what} must satisfy {constraint}, but in run {run} of {n} (a batched run) it is "
        f"{value[run] if value.dim() and value.shape[0] == n else value}. {fix}"
    )
