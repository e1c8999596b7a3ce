"""Rejection sampling: run the model from its prior, keep a run with probability w / bound."""

import math

from .. import poutine
from ..rng import inference_random
from ..runtime import model_name
from ..signals import ZeroProbability
from . import parallel
from .errors import InferenceError
from .posterior import TracePosterior
from .sites import EvidenceWeight, nan_score_error, score


class Rejection(TracePosterior):
    """Exact samples from the posterior by rejection, for hard conditions and bounded likelihoods.

    Each try runs the model from its prior and computes w = p(data | x) (observations and
    factors). With hard conditions only (``factor(name, -inf)`` or 0; discrete observations) w is at
    most 1 and a run is kept with probability w. When w can exceed 1 (a density above 1, a positive
    factor) give ``max_log_weight``, an upper bound on log w: a run is kept with probability
    exp(log w - max_log_weight). A run above the bound raises an error naming the sites, since the
    samples would no longer be exact.

    The kept traces have equal weight. ``acceptance_rate`` is kept / tried;
    ``log_marginal_likelihood`` estimates log p(data) = log(acceptance rate) + max_log_weight.
    At most ``max_tries`` runs are made. ``progress(posterior, done, total)`` counts tries
    (``total`` is None).

    ``executor=`` (any ``concurrent.futures.Executor``) draws the samples in its workers, in ``chunks``
    pieces (default 16), each with its share of ``max_tries`` (see :mod:`ppl_kernel.infer.parallel`).

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import Rejection, EmpiricalMarginal
    >>> pyro.set_rng_seed(0)
    >>> def two_dice():
    ...     a = pyro.sample("a", dist.Categorical(torch.ones(6)))
    ...     b = pyro.sample("b", dist.Categorical(torch.ones(6)))
    ...     pyro.factor("sum is 4", 0.0 if a + b + 2 == 4 else -math.inf)
    ...     return a + 1
    >>> EmpiricalMarginal(Rejection(two_dice, num_samples=50).run()).support
    [tensor(1), tensor(2), tensor(3)]
    """

    def __init__(self, model, num_samples=100, max_log_weight=0.0, max_tries=1_000_000, progress=None,
                 executor=None, chunks=None):
        super().__init__(model, progress)
        parallel.check_executor("Rejection", executor)
        parallel.check_chunks("Rejection", chunks)
        self.executor, self.chunks = executor, chunks
        self.lost_runs = 0
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"Rejection: num_samples must be a positive integer, got {num_samples!r}")
        self.num_samples = num_samples
        self.max_log_weight = float(max_log_weight)
        self.max_tries = int(max_tries)
        self.tries = 0

    @property
    def acceptance_rate(self):
        return len(self) / self.tries if self.tries else math.nan

    @property
    def log_marginal_likelihood(self):
        """log p(data) estimated from the acceptance rate: log(kept / tried) + max_log_weight."""
        if not len(self):
            return -math.inf
        return math.log(len(self) / self.tries) + self.max_log_weight

    def _run(self, args, kwargs):
        if self.executor is not None:
            self.tries = 0
            chunks = self.chunks or parallel.DEFAULT_CHUNKS
            return parallel.run_split(self, args, kwargs, "samples", self.num_samples, chunks)
        bound = self.max_log_weight
        weight = EvidenceWeight(self.model)
        tracer = poutine.trace(weight, calls=False)  # one handler pair for all runs; each run gets a fresh Trace
        self.tries = 0
        while len(self) < self.num_samples:
            if self.tries >= self.max_tries:
                raise self._too_many_tries()
            self.tries += 1
            weight.start()
            try:
                trace = tracer.get_trace(*args, **kwargs)
            except ZeroProbability:  # the run ended where it became impossible: rejected
                self._report(self.tries)
                continue
            log_weight = weight.log_weight
            if log_weight != log_weight:
                raise nan_score_error(trace, self.model)
            if log_weight > bound:
                raise self._above_bound(trace, log_weight)
            if log_weight == -math.inf:
                pass
            elif log_weight == bound or inference_random.random() < math.exp(log_weight - bound):
                self.add(trace, 0.0)
            self._report(self.tries)
        return self.tries

    # ---- chunks of samples on an executor (ppl_kernel.infer.parallel) ----------------------------------
    def _chunk(self, size, offset):
        share = -(-self.max_tries * size // self.num_samples)  # this chunk's share of the tries, rounded up
        return Rejection(self.model, size, self.max_log_weight, share)

    def _run_chunk(self, args, kwargs):
        self.run(*args, **kwargs)
        result = parallel.compact(self)
        result.stats = {"tries": self.tries}
        return result

    def _clear_chunks(self):
        parallel.clear(self)
        self.tries = 0

    def _absorb(self, result, offset):
        parallel.absorb(self, result)
        self.tries += result.stats["tries"]

    def _above_bound(self, trace, log_weight):
        parts = [f"'{s.name}' ({score(s):+.3g})" for s in trace if s.type == "sample" and not s.is_choice]
        return InferenceError(
            f"Rejection: a run of model '{model_name(self.model)}' has log-weight {log_weight:.4g}, above "
            f"max_log_weight={self.max_log_weight:g} (observed sites and factors: {', '.join(parts)}). Rejection "
            "needs an upper bound on the log-likelihood: pass Rejection(model, max_log_weight=B) with B at least "
            "the largest possible sum of those scores, or use Importance, which needs no bound."
        )

    def _too_many_tries(self):
        return InferenceError(
            f"Rejection: model '{model_name(self.model)}' kept {len(self)} of {self.tries} runs "
            f"(max_tries={self.max_tries}), short of num_samples={self.num_samples}. The conditions are rarely "
            "met: raise max_tries, tighten max_log_weight to the true bound, or use Importance or MH."
        )
