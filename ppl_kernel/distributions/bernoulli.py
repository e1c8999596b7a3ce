"""Bernoulli draws as uniforms compared with the probabilities: ``rand(shape) < probs``.

torch's ``Bernoulli.sample`` calls ``torch.bernoulli``, which on the CPU costs about three times
``torch.rand`` of the same size (0.9 ms against 0.3 ms for 100,000 draws, one thread): a batched or
plate run of a model with a coin spends more time in that one call than in the rest of its sampling.
Comparing uniforms is exact: P(U < p) = p up to the grid of ``torch.rand`` (multiples of 2^-24 in
float32, 2^-53 in float64), the resolution at which a probability of that dtype is stored anyway. It
draws a different random stream from ``torch.bernoulli`` for the same seed.

Every draw that does not take the scalar fast path (``scoring.py``) comes here: tensors of any shape,
plates (an expanded distribution), and batched runs under ``torch.func.vmap(randomness="different")``,
where ``torch.rand`` draws independently per run.
"""

import torch
import torch.distributions as td
from torch.distributions.utils import broadcast_all


def bernoulli_draw(probs, shape, generator=None):
    """``shape`` independent 0/1 draws with ``P(1) = probs`` (broadcast to ``shape``), in ``probs``' dtype and
    on its device, from ``generator`` (None: torch's default generator of that device).

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> draws = bernoulli_draw(torch.tensor(0.25), (10_000,), generator=g)
    >>> draws.dtype, round(draws.mean().item(), 1)
    (torch.float32, 0.2)
    """
    # The uniforms in probs' own dtype: float64 probabilities keep their 2^-53 resolution. The 0/1 values are
    # written over the uniforms (copy_ converts the comparison's booleans; vmap batches it): a million draws
    # then need one fresh tensor of floats, not two.
    uniforms = torch.rand(shape, dtype=probs.dtype, device=probs.device, generator=generator)
    return uniforms.copy_(uniforms < probs)


class Bernoulli(td.Bernoulli):
    """torch.distributions.Bernoulli (see torch's documentation for its parameters and methods), drawing by
    :func:`bernoulli_draw`: ``rand(shape) < probs``, exact and about three times faster than
    ``torch.bernoulli`` on the CPU.

    >>> import torch, ppl_kernel.distributions as dist
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> round(dist.Bernoulli(torch.full((100_000,), 0.3)).sample().mean().item(), 2)
    0.3
    """

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return bernoulli_draw(self.probs, self._extended_shape(sample_shape))

    def log_prob(self, value):
        """torch's ``-binary_cross_entropy_with_logits(logits, value)``, written as ``value * logits -
        logaddexp(0, logits)``: the same value and gradient, in three operations. torch's fused loss, traced by
        a captured batched run (``vectorize/captured.py``), becomes seven, and its in-place shape checks import
        torch's symbolic-shape machinery (a second, on the first capture of a process)."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return value * logits - torch.logaddexp(torch.zeros((), dtype=logits.dtype, device=logits.device), logits)
