"""Sequential Monte Carlo over a program: particles advance from one piece of evidence to the next.

A *checkpoint* is a site that scores evidence: an observed ``sample`` or a ``factor`` (``require``).
Each generation moves every particle to its next checkpoint, weights it by that site's score,
and resamples the population when its effective sample size falls below ``ess_threshold * N``, so
that effort goes to the runs that explain the evidence so far. ``rejuvenate=k`` then takes ``k``
single-site MH steps per particle on the evidence so far, to restore the diversity that resampling
loses. A particle whose run ends (no more checkpoints) keeps its weight until the others finish.

How a particle continues. Python cannot copy a running function, so a particle cannot be forked
at a checkpoint. The two ways round that were weighed:

- real continuations (the ``greenlet`` package): each particle's run suspends at a checkpoint and
  resumes from there. But resampling *duplicates* particles, and a greenlet cannot be copied, so
  every duplicate must still be rebuilt by re-running its prefix; it also adds a compiled
  dependency, keeps N suspended Python stacks alive, and interacts badly with the thread-local
  handler stack (a greenlet switch does not switch it).
- re-execution (chosen): a particle is the dict of its random choices; advancing it re-runs the
  model from the start, replaying those choices by name, until the next checkpoint, where a
  :class:`~ppl_kernel.signals.RunSignal` stops the run. This costs O(T^2) site visits for T
  checkpoints, which is small for the models SMC is used for here (tens of observations), needs no
  dependency, and makes duplicating a particle free (the dict is shared: values are never mutated).

The model's Python code before a checkpoint runs again at each generation; a model with side
effects (printing, appending) shows them repeatedly.
"""

import math
import random

import torch

from .. import poutine
from ..runtime import Messenger, model_name
from ..signals import RunSignal, ZeroProbability
from .errors import InferenceError
from .posterior import TracePosterior
from .sites import score, score_reused


class _Checkpoint(RunSignal):
    """The run reached the checkpoint it was asked to stop at."""


class _Particle:
    __slots__ = ("checkpoints", "done", "fixed", "log_weight", "trace", "values")

    def __init__(self, values, log_weight=0.0, checkpoints=0, done=False, trace=None, fixed=0.0):
        self.values, self.log_weight, self.checkpoints = values, log_weight, checkpoints
        self.done, self.trace, self.fixed = done, trace, fixed

    def copy(self):
        return _Particle(self.values, self.log_weight, self.checkpoints, self.done, self.trace, self.fixed)


class _Advance(Messenger):
    """Replays a particle's choices by name (except ``target``), draws the rest, stops at checkpoint ``stop_at``."""

    def __init__(self, model):
        super().__init__(model)
        self.start({}, None, None)

    def start(self, values, stop_at, target):
        self.values, self.stop_at, self.target = values, stop_at, target
        self.count = 0
        self.fixed = 0.0  # the evidence scored so far in this run
        self.last = 0.0  # the score of the checkpoint the run stopped at

    def process_message(self, msg):
        if msg.type != "sample" or msg.is_observed or msg.done or msg.value is not None:
            return
        if msg.name != self.target:
            value = self.values.get(msg.name)
            if value is not None:
                msg.value = value

    def postprocess_message(self, msg):
        if msg.type != "sample" or msg.is_choice:
            return
        self.count += 1
        lp = score(msg)
        if lp == -math.inf:
            raise ZeroProbability(msg.name)
        self.fixed += lp
        if self.count == self.stop_at:
            self.last = lp
            raise _Checkpoint


class SMC(TracePosterior):
    """Sequential Monte Carlo with ``num_particles`` particles, for models whose evidence arrives in steps.

    The stored traces are the final particles with their log-weights; ``log_marginal_likelihood``
    estimates log p(evidence) (unbiased in p); ``ess_history`` holds the effective sample size
    before each resampling decision, ``resample_count`` how many times the population was resampled.
    ``ess_threshold`` (default 0.5) resamples when ESS < threshold * N (1.0: every generation, 0: never).
    ``rejuvenate`` MH steps per particle follow each resampling (default 0).
    ``progress(posterior, done, None)`` counts model runs.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import SMC, EmpiricalMarginal
    >>> pyro.set_rng_seed(0)
    >>> def coin(flips):
    ...     p = pyro.sample("p", dist.Choice([0.2, 0.5, 0.8]))
    ...     for i, f in enumerate(flips):
    ...         pyro.sample(f"flip_{i}", dist.Bernoulli(p), obs=torch.tensor(f))
    ...     return p
    >>> posterior = SMC(coin, num_particles=2000).run([1.0, 1.0, 1.0, 0.0])
    >>> abs(EmpiricalMarginal(posterior).probability(0.8) - 0.5978) < 0.06   # exact: 0.1024 / 0.1713
    True
    """

    def __init__(self, model, num_particles=100, ess_threshold=0.5, rejuvenate=0, progress=None):
        super().__init__(model, progress)
        if not isinstance(num_particles, int) or num_particles < 1:
            raise ValueError(f"SMC: num_particles must be a positive integer, got {num_particles!r}")
        if not 0.0 <= float(ess_threshold) <= 1.0:
            raise ValueError(f"SMC: ess_threshold must be between 0 and 1, got {ess_threshold!r}")
        if not isinstance(rejuvenate, int) or rejuvenate < 0:
            raise ValueError(f"SMC: rejuvenate must be an integer >= 0, got {rejuvenate!r}")
        self.num_particles = num_particles
        self.ess_threshold = float(ess_threshold)
        self.rejuvenate = rejuvenate
        self.ess_history = []
        self.resample_count = 0
        self._log_marginal = None

    def _run(self, args, kwargs):
        self._args_kwargs = (args, kwargs)
        self._advance = _Advance(self.model)
        self._tracer = poutine.trace(self._advance, calls=False)
        self.ess_history, self.resample_count = [], 0
        self._runs = 0
        n = self.num_particles
        particles = [_Particle({}) for _ in range(n)]
        log_z = 0.0  # the log of the mean weight absorbed at each resampling
        generation = 0
        while any(not p.done and p.log_weight > -math.inf for p in particles):
            generation += 1
            for p in particles:
                if not p.done and p.log_weight > -math.inf:
                    self._step(p, generation)
            if all(p.log_weight == -math.inf for p in particles):
                raise self._all_impossible(generation)
            logw = torch.tensor([p.log_weight for p in particles], dtype=torch.float64)
            ess = _ess(logw)
            self.ess_history.append(ess)
            if ess < self.ess_threshold * n and any(not p.done for p in particles):
                mean = float(torch.logsumexp(logw, 0)) - math.log(n)
                log_z += mean
                particles = _systematic_resample(particles, logw)
                for p in particles:
                    p.log_weight = 0.0
                self.resample_count += 1
                for _ in range(self.rejuvenate):
                    for i, p in enumerate(particles):
                        if not p.done:
                            particles[i] = self._rejuvenate(p, generation)
        final = torch.tensor([p.log_weight for p in particles], dtype=torch.float64)
        self._log_marginal = log_z + float(torch.logsumexp(final, 0)) - math.log(n)
        for p in particles:
            if p.log_weight > -math.inf:  # a dead particle has weight zero and may have no trace at all
                self.add(p.trace, p.log_weight + log_z)
        return self._runs

    def _run_once(self, values, stop_at, target=None):
        """Run the model replaying ``values``: (trace, finished) or raise ZeroProbability."""
        self._advance.start(values, stop_at, target)
        self._runs += 1
        args, kwargs = self._args_kwargs
        try:
            trace = self._tracer.get_trace(*args, **kwargs)
            finished = True
        except _Checkpoint:
            trace = self._tracer.trace
            finished = False
        finally:
            self._report(self._runs)
        return trace, finished

    def _step(self, particle, generation):
        try:
            trace, finished = self._run_once(particle.values, generation)
        except ZeroProbability:
            particle.log_weight = -math.inf
            return
        advance = self._advance
        particle.values = {s.name: s.value for s in trace if s.is_choice}
        particle.fixed = advance.fixed
        particle.checkpoints = advance.count
        particle.trace = trace
        if finished:  # the run ended before checkpoint `generation`: no new evidence to weigh
            particle.done = True
        else:
            particle.log_weight += advance.last

    def _rejuvenate(self, particle, generation):
        """One single-site MH step (prior proposal) targeting the evidence up to this generation."""
        names = list(particle.values)
        if not names:
            return particle
        target = names[random.randrange(len(names))]
        # Done or not, the run stops at this generation's checkpoint, so that a state is "done" (fewer
        # checkpoints than the generation) the same way whichever state the move starts from.
        stop_at = generation
        try:
            trace, finished = self._run_once(particle.values, stop_at, target)
        except ZeroProbability:
            return particle
        if finished != particle.done:
            return particle  # the proposal changed how far the run gets: keep the current state
        old_trace = particle.trace
        old_scores = {s.name: score(s) for s in old_trace if s.is_choice}
        new_values = {}
        log_accept = self._advance.fixed - particle.fixed + math.log(len(names))
        for site in trace:
            if not site.is_choice:
                continue
            new_values[site.name] = site.value
            if site.name != target and site.name in old_scores:
                log_accept += score_reused(site) - old_scores[site.name]
        log_accept -= math.log(len(new_values)) if new_values else 0.0
        if log_accept >= 0.0 or random.random() < math.exp(log_accept):
            return _Particle(new_values, particle.log_weight, self._advance.count, finished, trace, self._advance.fixed)
        return particle

    def _all_impossible(self, generation):
        return InferenceError(
            f"SMC: every one of the {self.num_particles} particles of model '{model_name(self.model)}' reached "
            f"probability zero by checkpoint {generation} (an observation or condition none of them "
            "satisfies). Check that the evidence is possible under the model, or use more particles."
        )

    @property
    def log_marginal_likelihood(self):
        """Estimate of log p(evidence): the log of the product of the mean incremental weights."""
        if self._log_marginal is None:
            raise ValueError("SMC: no particles yet; call .run(...) first.")
        return self._log_marginal

    def get_log_normalizer(self):
        return self.log_marginal_likelihood


def _ess(logw):
    if not bool(torch.isfinite(logw).any()):
        return 0.0
    w = torch.softmax(logw, 0)
    return float(1.0 / (w * w).sum())


def _systematic_resample(particles, logw):
    """N particles drawn in proportion to their weights, with one uniform draw (low variance)."""
    n = len(particles)
    w = torch.softmax(logw, 0)
    cumulative = torch.cumsum(w, 0)
    cumulative[-1] = 1.0
    positions = (torch.arange(n, dtype=torch.float64) + random.random()) / n
    picks = torch.searchsorted(cumulative, positions).clamp(max=n - 1).tolist()
    return [particles[i].copy() for i in picks]
