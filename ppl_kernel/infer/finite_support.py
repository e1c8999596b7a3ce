"""The finite values of a random choice and their log-probabilities: what enumeration branches over.

:class:`SupportTable` serves one enumeration. A choice met for the first time is expanded once: its
values (the distribution's support) with the log-probability of each, as Python floats, computed in one
call for the whole support (one torch ``log_prob`` on the stacked values, or plain floats for a coin and
a ``Choice``). A distribution whose constructor arguments are numbers, or tensors not changed in place
since (a tensor's ``_version``), is looked up instead: the tug of war's ``Bernoulli(1 / 3)``, made afresh
at every sample statement of every path, is expanded once for the whole enumeration.
"""

import itertools
import math

import torch

from ..distributions import Bernoulli
from ..distributions.choice import Choice
from ..distributions.point import Delta
from ..runtime import explain, model_name
from ..trace import describe_distribution
from .errors import EnumerationError

_COIN_VALUES = {}  # dtype -> (0., 1.), shared by every coin: a site's value is never changed in place
_UNCACHED = object()


class SupportTable:
    """``expand(msg)``: the values of the choice at ``msg`` and their log-probabilities (two lists)."""

    def __init__(self, model, max_paths):
        self.model = model
        self.max_paths = max_paths
        self._known = {}  # key of a distribution's constructor arguments -> (values, scores, the arguments)

    def expand(self, msg):
        fn = msg.fn
        key = _key(fn)
        if key is not None:
            known = self._known.get(key)
            if known is not None:
                return known[0], known[1]
        try:
            values = self.support(msg)
            scores = _scores(fn, values)
        except EnumerationError:
            raise
        except ValueError as e:  # torch's validation (a parameter out of range): name the site
            raise explain(msg, e) from None
        if key is not None:
            # The arguments are kept with the entry, so that no tensor in the key is freed and its id reused.
            self._known[key] = (values, scores, fn.__dict__.get("_deferred"))
        return values, scores

    def support(self, msg):
        """The values of the choice at ``msg``, in the distribution's own order."""
        fn = msg.fn
        if type(fn) is Bernoulli and _coin_probability(fn) is not None:
            # A coin with a number for its probability: its values need no torch call.
            dtype = torch.get_default_dtype()
            values = _COIN_VALUES.get(dtype)
            if values is None:
                values = _COIN_VALUES[dtype] = (torch.tensor(0.0, dtype=dtype), torch.tensor(1.0, dtype=dtype))
            return values
        if isinstance(fn, Delta):
            return [fn.v]
        if isinstance(fn, torch.distributions.Multinomial):
            return _multinomial_support(msg, fn)
        if not getattr(fn, "has_enumerate_support", False):
            raise EnumerationError(
                f"Enumerate: site '{msg.name}' of model '{model_name(self.model)}' is "
                f"{describe_distribution(fn)}, which has no finite set of values to sum over (it is "
                "continuous or unbounded). Enumerate sums over discrete latent choices only: observe the "
                "site (obs=... or poutine.condition), discretise it (dist.Choice over a grid of values), "
                "or use Importance, MH or SMC for this model."
            )
        support = fn.enumerate_support(expand=False)
        if isinstance(support, list):  # values that are not numbers (a marginal over strings, a Choice)
            return support
        batch = fn.batch_shape
        if batch.numel() <= 1:
            return list(support.reshape((support.shape[0],) + batch + fn.event_shape))
        return self._joint_support(msg, fn, batch)

    def _joint_support(self, msg, fn, batch):
        # A batched site (inside a vectorized plate) is one choice per element: its values are
        # every combination, K ** n of them.
        full = fn.enumerate_support(expand=True)
        k, n = full.shape[0], batch.numel()
        if k ** n > self.max_paths:
            raise EnumerationError(
                f"Enumerate: site '{msg.name}' of model '{model_name(self.model)}' has batch shape "
                f"{tuple(batch)}, so {k}^{n} joint values, more than max_paths={self.max_paths}. "
                "Enumerate it elementwise in a sequential plate (for i in pyro.plate(...)) if the "
                "elements are few, or use Importance or MH."
            )
        flat = full.reshape((k, n) + fn.event_shape)
        grids = torch.meshgrid(*[torch.arange(k, device=full.device)] * n, indexing="ij")
        combos = torch.stack([g.reshape(-1) for g in grids], -1)
        values = flat[combos, torch.arange(n, device=full.device)]
        return list(values.reshape((k ** n,) + batch + fn.event_shape))


def _coin_probability(fn):
    """The probability of a Bernoulli not constructed yet, when it was given as one Python number; else None."""
    deferred = fn.__dict__.get("_deferred")
    if deferred is None:
        return None
    args, kwargs = deferred
    p = args[0] if len(args) == 1 and not kwargs else kwargs.get("probs") if not args and len(kwargs) == 1 else None
    return p if type(p) in (int, float) and 0 <= p <= 1 else None


def _key(fn):
    """A key that equals for distributions built from the same arguments, or None where none can be made."""
    deferred = fn.__dict__.get("_deferred")
    if deferred is None:
        return None
    args, kwargs = deferred
    parts = [type(fn)]
    for a in itertools.chain(args, kwargs, kwargs.values()):
        if type(a) in (int, float, bool, str):
            parts.append(a)
        elif type(a) is torch.Tensor and not a.requires_grad:
            parts.append((id(a), a._version))  # the same tensor, not changed in place since
        else:
            return None
    return tuple(parts)


def _log(p):
    return math.log(p) if p > 0 else -math.inf


def _scores(fn, values):
    """The log-probability of each value under ``fn``, as Python floats, in one call where possible."""
    if type(fn) is Choice:
        # One score per listed value, even where values repeat: each listed value is its own path.
        return [_log(w) for w in fn.weights]
    if type(fn) is Bernoulli:
        p = _coin_probability(fn)
        if p is not None:
            return [_log(1.0 - p), _log(p)]
    if not (hasattr(type(fn), "object_valued") and fn.object_valued) and len(values) > 1:
        try:
            lp = fn.log_prob(torch.stack(list(values)))
        except (ValueError, RuntimeError, TypeError):
            lp = None  # a distribution that scores one value at a time: below
        if isinstance(lp, torch.Tensor) and lp.dim() >= 1 and lp.shape[0] == len(values):
            return lp.reshape(len(values), -1).sum(-1).tolist()
    return [_value_score(fn, v) for v in values]


def _value_score(fn, value):
    if not (hasattr(type(fn), "object_valued") and fn.object_valued):  # Choice and marginals take values as they are
        value = torch.as_tensor(value)
    lp = fn.log_prob(value)
    return float(lp.sum()) if isinstance(lp, torch.Tensor) else float(lp)


def _multinomial_support(msg, fn):
    if fn.batch_shape.numel() > 1:
        raise EnumerationError(
            f"Enumerate: site '{msg.name}' is a batch of Multinomials {tuple(fn.batch_shape)}; Enumerate sums "
            "over one Multinomial per site. Make one site per element (a sequential plate)."
        )
    n, k = int(fn.total_count), fn.probs.shape[-1]
    # Every way to put n counts into k cells: choose k-1 bar positions among n+k-1 slots.
    counts = []
    for bars in itertools.combinations(range(n + k - 1), k - 1):
        edges = (-1,) + bars + (n + k - 1,)
        counts.append([edges[i + 1] - edges[i] - 1 for i in range(k)])
    values = torch.tensor(counts, dtype=fn.probs.dtype, device=fn.probs.device)
    return list(values.reshape((len(counts),) + fn.batch_shape + fn.event_shape))
