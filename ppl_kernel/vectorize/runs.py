"""N runs of a model as a posterior: batched when the model allows it, one by one (with a note) when not.

Both ways the result is a :class:`~ppl_kernel.infer.TracePosterior` over the N runs, each weighted by
the likelihood of its observed sites (the prior is the proposal, as in Pyro's ``Importance`` without a
guide; a model without observations gives N equally weighted prior runs).
"""

import math
import warnings
from collections.abc import Sequence

import torch

from .. import poutine
from ..infer.posterior import EmpiricalMarginal, TracePosterior, _normalized_log_weights
from ..infer.sites import is_choice
from ..trace import RETURN
from .batched_run import run_batched
from .fallback import NotBatchable, SequentialFallbackWarning


def weighting(name, site):
    """Site filter: the sites whose log-probability is a run's importance weight, as ``Importance`` counts
    them: every sample site that is not a random choice (observations, factors, values fixed in the model)."""
    return not is_choice(site)


def adopt_batched(posterior, args, kwargs):
    """Fill ``posterior`` (a TracePosterior with ``model`` and ``num_samples``) with one batched run of all its
    samples, weighted by :func:`weighting`. Returns False, leaving it untouched, when the model cannot batch
    (``posterior.fallback_reason`` says why); then the caller runs the samples one by one.
    """
    try:
        trace = run_batched(posterior.model, posterior.num_samples, *args, **kwargs)
    except NotBatchable as e:
        posterior.vectorized, posterior.fallback_reason = False, e.reason
        return False
    posterior.vectorized, posterior.fallback_reason = True, None
    log_weights = trace.log_prob_sums(weighting)
    posterior.batched_trace = trace
    posterior.traces = RunsOf(trace, log_weights)
    posterior.chain_ids = [0] * trace.num_runs
    posterior.log_weights = None  # read from traces.log_weights, as a list only when asked (TracePosterior)
    return True


class BatchedPosterior(TracePosterior):
    """The runs of one batched execution as a TracePosterior; ``batched_trace`` holds them all.

    ``traces[i]`` builds run i's Trace on demand; ``marginal(site)`` reads the batched tensors directly
    (no per-run objects), which is what makes 100,000 runs cheap.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(1.0))
    ...     return x
    >>> post = BatchedPosterior(model, 20000).run()
    >>> round(post.marginal("x").mean.item(), 1)  # the exact posterior mean is 0.5
    0.5
    """

    vectorized = True
    fallback_reason = None

    def __init__(self, model, num_samples, progress=None):
        self.num_samples = int(num_samples)
        self.batched_trace = None
        super().__init__(model, progress)

    def _run(self, args, kwargs):
        self._total = self.num_samples
        if not adopt_batched(self, args, kwargs):
            raise NotBatchable(self.fallback_reason)
        return self.num_samples

    def log_weights_tensor(self):
        runs = pristine_runs(self)
        return runs.log_weights.to(torch.float64) if runs is not None else super().log_weights_tensor()

    def marginal(self, sites=None):
        return BatchedMarginal(self, sites)


class RunsOf(Sequence):
    """The runs of a BatchedTrace as a sequence of Traces, each built when it is read.

    ``log_weights`` is the tensor of their log-weights. Traces added later (``append``) come after them.
    """

    def __init__(self, batched_trace, log_weights):
        self.batched_trace = batched_trace
        self.log_weights = log_weights
        self.extra = []

    def __len__(self):
        return self.batched_trace.num_runs + len(self.extra)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = self.batched_trace.num_runs
        i = index if index >= 0 else index + len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"trace index {index} out of range for {len(self)} traces")
        return self.batched_trace.run(i) if i < n else self.extra[i - n]

    def append(self, trace):
        self.extra.append(trace)


def pristine_runs(posterior):
    """The posterior's RunsOf when its traces are exactly one batched run (nothing added), else None."""
    runs = getattr(posterior, "traces", None)
    return runs if isinstance(runs, RunsOf) and not runs.extra else None


class BatchedMarginal(EmpiricalMarginal):
    """EmpiricalMarginal of a BatchedPosterior, read straight from the batched tensors.

    Numeric sites and tensor return values go the fast way; anything else (several sites, non-tensor
    return values, booleans) is read run by run, exactly as EmpiricalMarginal does.
    """

    def __init__(self, posterior, sites=None, missing="drop", validate_args=None):
        runs = pristine_runs(posterior)
        samples = _batched_values(runs.batched_trace, sites) if runs is not None else None
        if samples is None:
            super().__init__(posterior, sites, missing, validate_args)
            return
        self.posterior, self.sites = posterior, sites
        self.values = RowsOf(samples)
        self.missing_mass = 0.0
        logw = runs.log_weights.to(torch.float64)
        total = torch.logsumexp(logw, 0)
        if not math.isfinite(total.item()):
            _normalized_log_weights(logw.tolist(), self._what())  # raises the explaining error
        self.log_weights = logw - total
        self.weights = self.log_weights.exp()
        self.is_numeric = True
        self.samples = samples
        self._masses = None
        torch.distributions.Distribution.__init__(self, torch.Size(), samples.shape[1:], validate_args=False)


def _batched_values(trace, sites):
    if not (sites is None or isinstance(sites, str)):
        return None
    name = RETURN if sites is None else sites
    if name not in trace.nodes:
        return None  # EmpiricalMarginal's own path explains the missing name
    value = trace.nodes[name].value
    if not isinstance(value, torch.Tensor) or value.dtype == torch.bool or value.dim() == 0:
        return None
    return value.detach()


class RowsOf(Sequence):
    """The runs' values of a batched tensor as a sequence (``rows[i]`` is run i's value)."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __len__(self):
        return self.tensor.shape[0]

    def __getitem__(self, index):
        return self.tensor[index]

    def __iter__(self):
        return iter(self.tensor.unbind(0))


class SequentialRuns(TracePosterior):
    """N traced runs one after another, weighted like BatchedPosterior's: what vectorize falls back to."""

    vectorized = False

    def __init__(self, model, num_samples, progress=None, fallback_reason=None):
        self.num_samples = int(num_samples)
        self.fallback_reason = fallback_reason
        super().__init__(model, progress)

    def _run(self, args, kwargs):
        self._total = self.num_samples
        traced = poutine.trace(self.model, calls=False)
        for i in range(self.num_samples):
            trace = traced.get_trace(*args, **kwargs)
            self.add(trace, observed_log_weight(trace))
            self._report(i + 1)
        return self.num_samples


def observed_log_weight(trace):
    return float(trace.log_prob_sum(weighting))


class Vectorized:
    """``vectorize(model, n)``: call it with the model's arguments to get the posterior of n runs."""

    def __init__(self, model, num_samples, progress=None):
        if not callable(model):
            raise TypeError(f"vectorize(model, num_samples): model must be callable, got {type(model).__name__}")
        if int(num_samples) < 1:
            raise ValueError(f"vectorize: num_samples must be at least 1, got {num_samples}")
        self.model = model
        self.num_samples = int(num_samples)
        self.progress = progress

    def __call__(self, *args, **kwargs):
        try:
            return BatchedPosterior(self.model, self.num_samples, self.progress).run(*args, **kwargs)
        except NotBatchable as e:
            reason = f"{e.reason}: running {self.num_samples} runs one by one"
        # Outside the except: an error of the model itself then reads as it would without vectorize.
        warnings.warn(reason, SequentialFallbackWarning, stacklevel=2)
        runs = SequentialRuns(self.model, self.num_samples, self.progress, fallback_reason=reason)
        return runs.run(*args, **kwargs)
