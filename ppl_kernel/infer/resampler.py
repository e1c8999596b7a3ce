"""``Resampler``: reweigh one large batch of prior draws for a changed prior, without running the
simulator again (Pyro's ``pyro.infer.resampler``; its prior predictive tutorial tunes priors with sliders
this way)."""

import torch

from .. import poutine
from ..primitives import plate


class Resampler:
    """Draw ``num_guide_samples`` runs of a diffuse ``guide`` (and of ``simulator`` replayed on them) once;
    then :meth:`sample` returns runs distributed as another ``model`` over the guide's sites, by importance
    resampling those draws with weights ``p_model / p_guide``.

    ``guide``, ``simulator`` and ``model`` take no arguments and must vectorize under a ``plate`` (the
    draws are one batched run at dimension ``-1 - max_plate_nesting``, guessed from a run when not given).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.set_rng_seed(0)
    >>> wide = lambda: pyro.sample("x", dist.Normal(0.0, 10.0))
    >>> narrow = lambda: pyro.sample("x", dist.Normal(5.0, 1.0))
    >>> draws = Resampler(wide, num_guide_samples=20000).sample(narrow, num_samples=1000)["x"]
    >>> abs(draws.mean().item() - 5.0) < 0.3
    True
    """

    def __init__(self, guide, simulator=None, *, num_guide_samples, max_plate_nesting=None):
        if max_plate_nesting is None:
            max_plate_nesting = _guess_max_plate_nesting(guide if simulator is None else simulator)
        self._particle_dim = -1 - max_plate_nesting
        self._gumbels = None
        with torch.no_grad(), plate("particles", num_guide_samples, dim=self._particle_dim):
            trace = poutine.trace(guide).get_trace()
            self._old_logp = _log_prob_sum(trace, num_guide_samples)
            if simulator is not None:
                trace = poutine.trace(poutine.replay(simulator, trace=trace)).get_trace()
        self._samples = {name: site.value for name, site in trace.nodes.items() if site.type == "sample"}

    @torch.no_grad()
    def sample(self, model, num_samples, stable=True):
        """``{site: values}`` of ``num_samples`` runs resampled for ``model``. ``stable=True`` keeps the same
        random numbers from call to call (Gumbel-max), so that a small change of ``model`` changes few runs:
        what a slider wants; ``stable=False`` draws afresh, for Monte Carlo estimates."""
        num_guide_samples = len(self._old_logp)
        with plate("particles", num_guide_samples, dim=self._particle_dim):
            trace = poutine.trace(poutine.condition(model, data=self._samples)).get_trace()
        logits = _log_prob_sum(trace, num_guide_samples) - self._old_logp
        index = self._categorical_sample(logits, num_samples, stable)
        return {name: value[index] for name, value in self._samples.items()}

    def _categorical_sample(self, logits, num_samples, stable):
        if not stable:
            return torch.multinomial((logits - logits.max()).exp(), num_samples, replacement=True)
        if self._gumbels is None or len(self._gumbels) < num_samples:
            tiny = torch.finfo(logits.dtype).tiny
            uniform = logits.new_empty(num_samples, len(logits)).uniform_().clamp_(min=tiny)
            self._gumbels = -(-uniform.log()).clamp_(min=tiny).log()
        return (self._gumbels[:num_samples] + logits).max(-1).indices


def _log_prob_sum(trace, batch_size):
    """Each particle's summed log-density (the particle dim leftmost in every site's log_prob)."""
    total = torch.zeros(batch_size)
    for site in trace.sample_sites:
        log_prob = site.log_prob
        if log_prob.dim() == 0 or log_prob.shape[0] != batch_size:
            raise ValueError(f"Resampler: site '{site.name}' did not vectorize over the particles (log_prob shape "
                             f"{tuple(log_prob.shape)}, {batch_size} particles expected leftmost). Sample it inside "
                             "the model's plates, or give max_plate_nesting= if the guess from one run was too small.")
        total = total.to(log_prob) + log_prob.reshape(batch_size, -1).sum(-1)
    return total


def _guess_max_plate_nesting(model):
    with torch.no_grad(), poutine.block(), poutine.mask(mask=False):
        trace = poutine.trace(model).get_trace()
    return max([0] + [-frame.dim for site in trace.nodes.values() for frame in site.cond_indep_stack
                      if frame.dim is not None])
