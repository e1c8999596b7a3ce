"""Importance sampling: run the model (or a guide), weight each run by how well it explains the data.

This is also where a model's runs are batched (one vmapped execution, :mod:`ppl_kernel.vectorize`), when
the user asks with ``vectorize=True``: batching runs the model's Python body once for all samples, so a
model with a Python side effect (appending to a list, printing) would see one run instead of n. Pyro
runs the model once per sample, and so do we unless asked.
"""

import math
import warnings

import torch

from .. import poutine
from ..runtime import model_name
from ..signals import ZeroProbability
from ..vectorize import NotBatchable, SequentialFallbackWarning, run_batched
from . import parallel
from .posterior import TracePosterior
from .sites import EvidenceWeight, nan_score_error, score

_FIRST_CHUNK = 64  # batched runs before the first progress frame with data (later chunks are sized by time)


class Importance(TracePosterior):
    """Likelihood weighting from the prior, or importance sampling from a ``guide``.

    Without a guide each run samples its latent sites from the prior and is weighted by its
    observations and factors, w = p(data | x). With a guide, the latent sites the guide samples are
    replayed into the model and w = p(x, data) / q(x); latent sites the guide lacks come from the
    prior and cancel out of the weight.

    ``vectorize=True`` (no guide) runs all samples as one batched execution when the model allows it
    (``posterior.vectorized``, ``posterior.batched_trace``), and one by one with a
    :class:`~ppl_kernel.vectorize.SequentialFallbackWarning` naming the line when it does not
    (``posterior.fallback_reason``); ``vectorize="only"`` raises :class:`~ppl_kernel.vectorize.NotBatchable`
    instead of falling back. The model's Python body then runs once, not once per sample (once per
    chunk when a ``progress`` callback watches: the batch is cut into chunks of about a frame's time,
    so that a live view has frames; ``batched_trace`` is then the last chunk's).

    ``log_marginal_likelihood`` estimates log p(data) = log mean(w); ``get_ESS()`` is the effective
    sample size. ``progress(posterior, done, total)`` is called a few times a second (see
    :mod:`ppl_kernel.infer.posterior`).

    ``executor=`` (any ``concurrent.futures.Executor``) draws the samples in its workers, in ``chunks``
    pieces (default 16); the merged weights are exactly those of the pieces (see
    :mod:`ppl_kernel.infer.parallel`).

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import Importance, EmpiricalMarginal
    >>> pyro.set_rng_seed(0)
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(1.0))
    ...     return x
    >>> posterior = Importance(model, num_samples=2000).run()
    >>> abs(EmpiricalMarginal(posterior).mean.item() - 0.5) < 0.1
    True
    """

    vectorized = False
    fallback_reason = None

    def __init__(self, model, guide=None, num_samples=None, progress=None, vectorize=False, executor=None,
                 chunks=None):
        super().__init__(model, progress)
        parallel.check_executor("Importance", executor)
        parallel.check_chunks("Importance", chunks)
        self.executor, self.chunks = executor, chunks
        self.lost_runs = 0
        if num_samples is None:
            num_samples = 10  # Pyro's default
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
            raise ValueError(f"Importance: num_samples must be a positive integer, got {num_samples!r}")
        if vectorize not in (False, True, "only"):
            raise ValueError(f"Importance: vectorize must be True, False or 'only', got {vectorize!r}")
        if vectorize and guide is not None:
            raise ValueError("Importance: vectorize=True batches runs of the model's prior; it takes no guide.")
        self.guide = guide
        self.num_samples = num_samples
        self.vectorize = vectorize

    def _planned_runs(self):
        return self.num_samples

    def _run(self, args, kwargs):
        self.vectorized, self.fallback_reason = False, None
        if self.executor is not None:
            chunks = self.chunks or parallel.DEFAULT_CHUNKS
            return parallel.run_split(self, args, kwargs, "samples", self.num_samples, chunks)
        if self.guide is not None:
            return self._run_guide(args, kwargs)
        start = 0
        if self.vectorize:
            try:
                start = self._run_batched(args, kwargs)
            except NotBatchable as e:
                if self.vectorize == "only":
                    raise
                start = len(self)  # the chunks batched before a chunk that could not be are kept
                left = self.num_samples - start
                self.fallback_reason = f"{e.reason}: running {left} runs one by one"
            else:
                return self.num_samples
            # Outside the except: an error of the model itself then reads as it would without batching.
            warnings.warn(self.fallback_reason, SequentialFallbackWarning, stacklevel=4)
        return self._run_prior(args, kwargs, start)

    def _run_batched(self, args, kwargs):
        """All samples as batched runs: one batch, or with a progress callback, chunks that each report.

        A live view needs frames while the run goes (the first at once, then a few a second): so the
        first chunk is small, and each next one is sized from the rate so far to last about one frame
        interval of the throttle.
        """
        n, done = self.num_samples, 0
        size = n if self.progress is None else min(n, _FIRST_CHUNK)
        clock = self.progress_throttle.clock
        while done < n:
            began = clock()
            trace = run_batched(self.model, size, *args, **kwargs)
            self.vectorized = True
            self.add_batched(trace, trace.log_prob_sums(lambda name, site: not site.is_choice))
            done += size
            self._report(done)
            rate = size / max(clock() - began, 1e-6)
            size = max(1, min(n - done, int(rate * self.progress_throttle.interval), 8 * size))
        return n

    def _run_prior(self, args, kwargs, start=0):
        add, report, model = self.add, self._report, self.model
        weight = EvidenceWeight(model)
        tracer = poutine.trace(weight, calls=False)  # one handler pair for all runs; each run gets a fresh Trace
        for i in range(start, self.num_samples):
            weight.start()
            try:
                trace = tracer.get_trace(*args, **kwargs)
            except ZeroProbability:  # the run ended where it became impossible: weight zero
                add(tracer.trace, -math.inf)
            else:
                log_weight = weight.log_weight
                if log_weight != log_weight:
                    raise nan_score_error(trace, model)
                add(trace, log_weight)
            report(i + 1)
        return self.num_samples

    def _run_guide(self, args, kwargs):
        model, guide = self.model, self.guide
        for i in range(self.num_samples):
            guide_trace = poutine.trace(guide, calls=False).get_trace(*args, **kwargs)
            tracer = poutine.trace(EvidenceWeight(poutine.replay(model, trace=guide_trace)), calls=False)
            try:
                trace = tracer.get_trace(*args, **kwargs)
            except ZeroProbability:  # the run ended where it became impossible: weight zero
                self.add(tracer.trace, -math.inf)
                self._report(i + 1)
                continue
            log_weight = 0.0
            for site in trace:
                if site.type != "sample":
                    continue
                if not site.is_choice or site.name in guide_trace.nodes:
                    log_weight += score(site)
            for site in guide_trace:
                if site.is_choice:
                    if site.name not in trace.nodes:
                        raise _unused_guide_site(site.name, model, guide)
                    log_weight -= score(site)
            self.add(trace, log_weight)
            self._report(i + 1)
        return self.num_samples

    # ---- chunks of samples on an executor (ppl_kernel.infer.parallel) ----------------------------------
    def _chunk(self, size, offset):
        return Importance(self.model, self.guide, num_samples=size, vectorize=self.vectorize)

    def _run_chunk(self, args, kwargs):
        self.run(*args, **kwargs)
        return parallel.compact(self)

    def _clear_chunks(self):
        parallel.clear(self)

    def _absorb(self, result, offset):
        parallel.absorb(self, result)

    def get_log_normalizer(self):
        """Estimate of log p(data) = log of the mean weight (Pyro's name)."""
        return self.log_marginal_likelihood

    @property
    def log_marginal_likelihood(self):
        """log p(data) estimated as log((1/N) sum w_i)."""
        if not len(self):
            raise ValueError("Importance: no samples yet; call .run(...) first.")
        logw = self.log_weights_tensor()
        return float(torch.logsumexp(logw, 0)) - math.log(len(logw))


def _unused_guide_site(name, model, guide):
    return ValueError(
        f"Importance: the guide '{model_name(guide)}' samples site '{name}', which model '{model_name(model)}' "
        "did not make in the same run. A guide must propose only the model's latent sites: rename the "
        "guide's site to match the model's, or remove it."
    )


def sample_batched(model, num_samples, *args, **kwargs):
    """n weighted runs as one batched run (an :class:`Importance` posterior), or ``None`` when the model
    cannot batch -- for callers with their own one-by-one path (the notebook layer): no warning, no fallback.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def branching():
    ...     return 1.0 if pyro.sample("c", dist.Bernoulli(0.5)).item() else 0.0
    >>> sample_batched(branching, 100) is None
    True
    >>> len(sample_batched(lambda: pyro.sample("c", dist.Bernoulli(0.5)), 100))
    100
    """
    try:
        return Importance(model, num_samples=num_samples, vectorize="only").run(*args, **kwargs)
    except NotBatchable:
        return None
