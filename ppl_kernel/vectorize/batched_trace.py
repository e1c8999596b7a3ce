"""BatchedTrace: N independent runs of one model held as one Trace with a leading run dimension.

Layout (what every consumer may rely on):

- ``trace.num_runs`` is N; ``trace.nodes`` holds one :class:`~ppl_kernel.runtime.Site` per site
  name, in the order of the (single) batched execution, with ``"_RETURN"`` last.
- A sample site's ``value`` has shape ``(N,) + per-run shape``; its ``log_prob`` has shape
  ``(N,) + per-run batch shape`` (already scaled and masked); its ``fn`` is the distribution with
  every parameter carrying the leading run dimension (``batch_shape == (N,) + per-run batch shape``).
  Observed sites and parameters that do not vary between runs are broadcast (expanded views, no copies).
- ``param`` sites keep their un-batched value (the tensor from the parameter store), as a run sees it.
- ``cond_indep_stack`` frames count plate dims from the right, so they still name the right dims.
- The return value has the run dimension on every tensor in it; non-tensor parts (a constant string,
  say) are the same for all runs and kept as they are.
- ``trace.log_prob_sum()`` is the joint log-probability of all N runs (as for any Trace: the sum of
  every site's log-probabilities); ``trace.log_prob_sums()`` gives one number per run, shape ``(N,)``.
- ``trace.run(i)`` is run ``i`` as an ordinary :class:`~ppl_kernel.trace.Trace`; ``trace.unbind()``
  all of them (N Python objects: use the batched tensors directly when N is large).
"""

import torch

from ..runtime import Site
from ..trace import RETURN, CallNode, Trace


class BatchedTrace(Trace):
    """N runs of a model as one trace whose site values carry a leading dimension of size N.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.vectorize import run_batched
    >>> def model():
    ...     return pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> tr = run_batched(model, 5)
    >>> tr["x"].value.shape, tr.log_prob_sums().shape, tr.run(2)["x"].value.shape
    (torch.Size([5]), torch.Size([5]), torch.Size([]))
    """

    def __init__(self, num_runs, root=None):
        super().__init__(root)
        self.num_runs = int(num_runs)

    def log_prob_sums(self, site_filter=None):
        """Per-run log-probability: shape ``(N,)``, summed over each run's sample sites (``site_filter(name, site)``
        selects some, as in :meth:`Trace.log_prob_sum`)."""
        total = None
        for site in self:
            if site.type != "sample" or (site_filter is not None and not site_filter(site.name, site)):
                continue
            lp = site.log_prob
            per_run = lp.reshape(self.num_runs, -1).sum(1) if lp.dim() > 1 else lp.expand(self.num_runs)
            total = per_run if total is None else total + per_run
        if total is None:
            return torch.zeros(self.num_runs)
        return total

    def run(self, index):
        """Run ``index`` as an ordinary Trace (values without the run dimension)."""
        i = int(index)
        if not -self.num_runs <= i < self.num_runs:
            raise IndexError(f"BatchedTrace.run({index}): this trace holds runs 0..{self.num_runs - 1}")
        root = CallNode(self.root.name, self.root.args) if self.root is not None else None
        single = Trace(root)
        for name, site in self.nodes.items():
            if name == RETURN:
                continue
            one = _run_site(site, i)
            if root is not None:
                one.call = root
                root.children.append(one)
            single.nodes[name] = one
        if RETURN in self.nodes:
            ret = index_runs(self.nodes[RETURN].value, i)
            single.nodes[RETURN] = Site("return", RETURN, None, (), {}, ret)
            if root is not None:
                root.ret, root.returned = ret, True
        return single

    def unbind(self):
        """Every run as its own Trace (a list of N)."""
        return [self.run(i) for i in range(self.num_runs)]

    def __repr__(self):
        names = ", ".join(s.name for s in self)
        model = self.root.name if self.root is not None else "a model"
        return f"<BatchedTrace of {model}: {self.num_runs} runs of {names}>"


class BatchedSite(Site):
    """A sample site of a BatchedTrace. ``per_run_fn`` is the distribution as one run built it (its tensors
    belong to the finished vmap: only its structure is used); ``log_prob`` scores each run under that
    distribution, vmapped, so the batched score is exactly what separate runs would give."""

    __slots__ = ("per_run_fn",)

    def _score(self):
        return score_per_run(self)


def score_per_run(site):
    """The (scaled, masked) log-probability of every run's value, shape ``(N,) + per-run batch shape``."""
    from ..runtime import site_log_prob

    mask = site.mask if isinstance(site.mask, torch.Tensor) else None
    n = site.value.shape[0]

    def one_run(value, run_mask, *tensors):
        # validation was done on the whole batch when the trace was made; inside vmap it cannot run
        d = rebuild_distribution(site.per_run_fn, tensors, validate_args=False)
        probe = Site("sample", site.name, d, (), {}, value, site.is_observed)
        probe.scale, probe.mask = site.scale, run_mask if mask is not None else site.mask
        return site_log_prob(probe)

    run_masks = mask if mask is not None else torch.empty((n, 0))
    return torch.func.vmap(one_run)(site.value, run_masks, *distribution_tensors(site.fn))


def _run_site(site, i):
    one = Site(site.type, site.name, site.fn, site.args, site.kwargs, site.value, site.is_observed, dict(site.infer))
    one.scale, one.mask, one.cond_indep_stack, one.done, one.stop = (
        site.scale, site.mask, site.cond_indep_stack, site.done, site.stop,
    )
    if site.type == "sample":
        one.value = site.value[i]
        one.fn = rebuild_distribution(site.fn, lambda t: t[i], strip_leading=True)
        if site._log_prob is not None:
            one._log_prob = site._log_prob[i]
        if isinstance(site.mask, torch.Tensor) and site.mask.dim():
            one.mask = site.mask[i]
    return one


def index_runs(value, i):
    """Run ``i``'s part of a batched return value: tensors indexed, everything else as it is."""
    if isinstance(value, torch.Tensor):
        return value[i]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(index_runs(v, i) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(index_runs(v, i) for v in value)
    if isinstance(value, dict):
        return {k: index_runs(v, i) for k, v in value.items()}
    return value


# ---- distributions with the run dimension ------------------------------------------------------------
def _walk(obj):
    """The objects whose tensor attributes make up a distribution: itself, its base distributions, transforms."""
    return isinstance(obj, (torch.distributions.Distribution, torch.distributions.Transform))


def distribution_tensors(d):
    """Every tensor a distribution holds (parameters, cached derived tensors), depth first, in a fixed order."""
    out = []
    _collect(d, out)
    return out


def _collect(obj, out):
    for value in vars(obj).values():
        if isinstance(value, torch.Tensor):
            out.append(value)
        elif _walk(value):
            _collect(value, out)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if _walk(item):
                    _collect(item, out)


def rebuild_distribution(d, change, runs=None, strip_leading=False, validate_args=None):
    """A copy of ``d`` whose tensors are ``change(tensor)`` (or, when ``change`` is an iterable, its items
    in :func:`distribution_tensors` order); ``runs`` (a shape prefix such as ``(N,)``) is put in front of
    every batch shape, or ``strip_leading`` takes the first dim off; ``validate_args`` (if given) is set on
    the copy and its base distributions.

    No constructor runs: torch's constructors validate and broadcast, which the batched tensors need not
    repeat, and this works for any distribution that keeps its state in attributes (all of torch's do).
    """
    if callable(change):
        fn = change
    else:
        it = iter(change)

        def fn(_):
            return next(it)

    return _rebuild(d, fn, runs, strip_leading, validate_args)


def _rebuild(obj, fn, runs, strip_leading, validate_args):
    new = object.__new__(type(obj))
    state = dict(vars(obj))
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            state[key] = fn(value)
        elif _walk(value):
            state[key] = _rebuild(value, fn, runs, strip_leading, validate_args)
        elif isinstance(value, (list, tuple)) and any(_walk(item) for item in value):
            state[key] = type(value)(
                _rebuild(item, fn, runs, strip_leading, validate_args) if _walk(item) else item for item in value
            )
    if isinstance(obj, torch.distributions.Distribution) and validate_args is not None:
        state["_validate_args"] = validate_args
    if isinstance(obj, torch.distributions.Distribution) and "_batch_shape" in state:
        if strip_leading:
            state["_batch_shape"] = state["_batch_shape"][1:]
        elif runs is not None:
            state["_batch_shape"] = torch.Size(runs) + state["_batch_shape"]
    new.__dict__.update(state)
    return new
