"""``Choice``: a categorical distribution over arbitrary values (WebPPL's ``Categorical({ps, vs})``)."""

import math

import torch

from .deferred import TorchDistributionMixin


class Choice(TorchDistributionMixin, torch.distributions.Distribution):
    """One of ``values`` (any Python values: strings, tuples, numbers), with probabilities ``probs``.

    ``probs`` (default: uniform) need not sum to 1; they are normalised. A draw is the value itself,
    not an index, so a model reads as the story it tells. ``Enumerate`` sums over the values.

    >>> import ppl_kernel.distributions as dist
    >>> d = dist.Choice(["rain", "sun"], probs=[1, 3])
    >>> d.sample() in ("rain", "sun"), round(d.log_prob("sun").exp().item(), 4)
    (True, 0.75)
    """

    arg_constraints = {}  # noqa: RUF012  (torch's class attribute)
    has_enumerate_support = True
    object_valued = True  # obs= may be any value, not only a number or tensor

    def __init__(self, values, probs=None, validate_args=None):
        values = list(values)
        if not values:
            raise ValueError("Choice: give at least one value, e.g. dist.Choice(['a', 'b'])")
        if probs is None:
            probs = [1.0] * len(values)
        probs = torch.as_tensor(probs, dtype=torch.float64).reshape(-1)
        if probs.numel() != len(values):
            raise ValueError(f"Choice: {len(values)} values but {probs.numel()} probabilities; give one per value.")
        if bool((probs < 0).any()) or not bool(torch.isfinite(probs).all()) or probs.sum().item() <= 0:
            raise ValueError(f"Choice: probabilities must be finite, non-negative and not all zero, got {probs.tolist()}")
        self.values = values
        self.probs = probs / probs.sum()
        self._index = {}
        for i, v in enumerate(values):
            self._index.setdefault(_key(v), []).append(i)
        super().__init__(torch.Size(), torch.Size(), validate_args=False)

    def sample(self, sample_shape=torch.Size()):
        shape = torch.Size(sample_shape)
        picks = torch.multinomial(self.probs, max(shape.numel(), 1), replacement=True).tolist()
        if not shape:
            return self.values[picks[0]]
        return [self.values[i] for i in picks]

    def log_prob(self, value):
        p = sum(self.probs[i].item() for i in self._index.get(_key(value), ()))
        return torch.tensor(math.log(p) if p > 0 else -math.inf, dtype=torch.float64)

    def enumerate_support(self, expand=True):
        return list(self.values)

    def __repr__(self):
        return f"Choice({self.values!r}, probs={[round(p, 4) for p in self.probs.tolist()]})"


def _key(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.reshape(-1).tolist()), tuple(value.shape))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
