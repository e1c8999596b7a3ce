"""``Choice``: a categorical distribution over arbitrary values (WebPPL's ``Categorical({ps, vs})``)."""

import bisect
import itertools
import math
import random

import torch

from .deferred import TorchDistributionMixin


_SCALAR = torch.Size()


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
        # Plain Python numbers throughout: a model builds a fresh Choice at every sample statement, and
        # torch's per-call overhead would cost more than the draw (values are looked up, not computed on).
        values = values if type(values) is list else list(values)
        if not values:
            raise ValueError("Choice: give at least one value, e.g. dist.Choice(['a', 'b'])")
        if probs is None:
            self.weights = [1.0 / len(values)] * len(values)
        else:
            weights = probs.reshape(-1).tolist() if isinstance(probs, torch.Tensor) else [float(p) for p in probs]
            if len(weights) != len(values):
                raise ValueError(f"Choice: {len(values)} values but {len(weights)} probabilities; give one per value.")
            if not all(0.0 <= w < math.inf for w in weights) or sum(weights) <= 0:
                raise ValueError(f"Choice: probabilities must be finite, non-negative and not all zero, got {weights}")
            total = math.fsum(weights)
            self.weights = [w / total for w in weights]
        self.values = values
        self._cumulative = self._index = None  # made when first drawn from / scored (enumeration needs neither)
        # What torch's Distribution.__init__ sets for a scalar distribution without validation, set directly:
        # its call costs more than the rest of this constructor.
        self._batch_shape = self._event_shape = _SCALAR
        self._validate_args = False

    @property
    def probs(self):
        """The normalised probabilities, parallel to ``values``, as a float64 tensor."""
        return torch.tensor(self.weights, dtype=torch.float64)

    def _draw_index(self):
        # Python's random, as MH's proposals: seeded by pyro.set_rng_seed and poutine.seed alike.
        cumulative = self._cumulative
        if cumulative is None:
            cumulative = self._cumulative = list(itertools.accumulate(self.weights))
        i = bisect.bisect_right(cumulative, random.random() * cumulative[-1])
        return min(i, len(self.values) - 1)

    def sample(self, sample_shape=torch.Size()):
        shape = torch.Size(sample_shape)
        if not shape:
            return self.values[self._draw_index()]
        return [self.values[self._draw_index()] for _ in range(shape.numel())]

    def log_prob(self, value):
        return torch.tensor(self.log_prob_float(value), dtype=torch.float64)

    def log_prob_float(self, value):
        """``log_prob`` as a Python float (what inference's scoring reads, without making a tensor)."""
        index = self._index
        if index is None:
            index = self._index = {}
            for i, v in enumerate(self.values):
                index.setdefault(_key(v), []).append(i)
        p = sum(self.weights[i] for i in index.get(_key(value), ()))
        return math.log(p) if p > 0 else -math.inf

    def enumerate_support(self, expand=True):
        return list(self.values)

    def __repr__(self):
        return f"Choice({self.values!r}, probs={[round(p, 4) for p in self.weights]})"


def _key(value):
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            return value.item()  # tensor(2) is the value 2
        return ("tensor", tuple(value.reshape(-1).tolist()), tuple(value.shape))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
