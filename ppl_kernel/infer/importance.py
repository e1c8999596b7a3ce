"""Importance sampling: run the model (or a guide), weight each run by how well it explains the data."""

import math

from .. import poutine
from ..runtime import model_name
from .posterior import TracePosterior
from .sites import is_choice, score


class Importance(TracePosterior):
    """Likelihood weighting from the prior, or importance sampling from a ``guide``.

    Without a guide each run samples its latent sites from the prior and is weighted by its
    observations and factors, w = p(data | x). With a guide, the latent sites the guide samples are
    replayed into the model and w = p(x, data) / q(x); latent sites the guide lacks come from the
    prior and cancel out of the weight.

    ``log_marginal_likelihood`` estimates log p(data) = log mean(w); ``get_ESS()`` is the effective
    sample size. ``progress(posterior, done, total)`` is called a few times a second (see
    :mod:`ppl_kernel.infer.posterior`).

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

    def __init__(self, model, guide=None, num_samples=None, progress=None):
        super().__init__(model, progress)
        if num_samples is None:
            num_samples = 10  # Pyro's default
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"Importance: num_samples must be a positive integer, got {num_samples!r}")
        self.guide = guide
        self.num_samples = num_samples

    def _planned_runs(self):
        return self.num_samples

    def _run(self, args, kwargs):
        if self.guide is None:
            # All samples as one vmapped run when the model allows it (see ppl_kernel.vectorize); else one by one.
            from ..vectorize.runs import adopt_batched

            if adopt_batched(self, args, kwargs):
                return self.num_samples
            return self._run_prior(args, kwargs)
        return self._run_guide(args, kwargs)

    def _run_prior(self, args, kwargs):
        add, report = self.add, self._report
        tracer = poutine.trace(self.model, calls=False)  # one handler for all runs; each run gets a fresh Trace
        for i in range(self.num_samples):
            trace = tracer.get_trace(*args, **kwargs)
            log_weight = 0.0
            for site in trace:
                if site.type == "sample" and not is_choice(site):
                    log_weight += score(site)
            add(trace, log_weight)
            report(i + 1)
        return self.num_samples

    def _run_guide(self, args, kwargs):
        model, guide = self.model, self.guide
        for i in range(self.num_samples):
            guide_trace = poutine.trace(guide, calls=False).get_trace(*args, **kwargs)
            trace = poutine.trace(poutine.replay(model, trace=guide_trace), calls=False).get_trace(*args, **kwargs)
            log_weight = 0.0
            for site in trace:
                if site.type != "sample":
                    continue
                if not is_choice(site) or site.name in guide_trace.nodes:
                    log_weight += score(site)
            for site in guide_trace:
                if site.type == "sample" and is_choice(site):
                    if site.name not in trace.nodes:
                        raise _unused_guide_site(site.name, model, guide)
                    log_weight -= score(site)
            self.add(trace, log_weight)
            self._report(i + 1)
        return self.num_samples

    def get_log_normalizer(self):
        """Estimate of log p(data) = log of the mean weight (Pyro's name)."""
        return self.log_marginal_likelihood

    @property
    def log_marginal_likelihood(self):
        """log p(data) estimated as log((1/N) sum w_i)."""
        import torch

        if not self.log_weights:
            raise ValueError("Importance: no samples yet; call .run(...) first.")
        logw = self.log_weights_tensor()
        return float(torch.logsumexp(logw, 0)) - math.log(len(logw))


def _unused_guide_site(name, model, guide):
    return ValueError(
        f"Importance: the guide '{model_name(guide)}' samples site '{name}', which model '{model_name(model)}' "
        "did not make in the same run. A guide must propose only the model's latent sites: rename the "
        "guide's site to match the model's, or remove it."
    )
