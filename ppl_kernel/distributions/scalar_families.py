"""Fast scalar draws and scores of Beta, Binomial, Gamma, Poisson, Exponential and of the scale priors
HalfNormal, LogNormal and HalfCauchy (rows of scoring.py's FAST).

For one scalar, torch's constructors and log densities of these families cost 20-100 us (Beta builds a
Dirichlet; Binomial's log density is a dozen tensor operations; the scale priors are transformed
distributions), and a probmods-style model pays that at every site of every MH step: a coin's weight under a
Beta prior with Binomial data ran at 2.9k MH steps/s, a scale under a HalfNormal prior at 7k, against 60k for a
Normal model.

Each family here is one :class:`Family`: its parameters with torch's constraints, the support of a value, a
draw and a score. The draw calls the very sampler the family's tensor draw calls (``_sample_dirichlet``,
``_standard_gamma``, ``binomial``, ``poisson``, ``normal``, or the inverse CDF of ``batchable.py``), so a seed
gives the same draws either way; the score is torch's formula in plain floats (``math.lgamma``, :func:`xlogy`).
Anything else -- a batch, a gradient, logits, a value outside the support, an infinite or invalid parameter --
declines (None), and torch decides, with its own validation and errors; with validation on, an invalid
parameter of a draw is named first, as Normal's is.
"""

import math

import torch

from ..settings import settings
from .batchable import exponential_of, half_cauchy_of
from .scalars import bad_param, draw_params, normal_log_density


def xlogy(x, y):
    """``x * log(y)``, and 0 where ``x`` is 0 (even at ``y`` = 0): torch's ``xlogy`` for ``y >= 0``."""
    if x == 0:
        return 0.0
    if y == 0:
        return -math.inf if x > 0 else math.inf
    return x * math.log(y)


def _is_count(x):
    return x >= 0 and x == int(x)


# torch's constraints on a parameter, as (test, how torch's validation writes it)
_POSITIVE = (lambda x: x > 0, "GreaterThan(lower_bound=0.0)")
_NONNEGATIVE = (lambda x: x >= 0, "GreaterThanEq(lower_bound=0.0)")
_REAL = (lambda x: x == x, "Real()")
_COUNT = (_is_count, "IntegerGreaterThan(lower_bound=0)")
_UNIT = (lambda x: 0 <= x <= 1, "Interval(lower_bound=0.0, upper_bound=1.0)")


class Family:
    """One family's fast scalar path.

    ``params``: ``(name, constraint)`` in the order of torch's constructor; ``defaults`` for those that have
    one; ``support(v, numbers)`` whether a value can be scored; ``draw(numbers, dtype, generator)`` a tensor;
    ``score(numbers, v, dtype)`` a float.

    >>> BINOMIAL.ordered((), {"probs": 0.3})
    [1, 0.3]
    >>> round(BINOMIAL.fast_score((10, 0.5), {}, 5.0), 3)  # log(252 / 1024)
    -1.402
    """

    def __init__(self, name, params, support, draw, score, defaults=None):
        self.name, self.params, self.support, self.draw, self.score = name, params, support, draw, score
        self.names, self.defaults = tuple(p for p, _ in params), defaults or {}
        self.tests = tuple(test for _, (test, _) in params)

    def ordered(self, args, kwargs):
        """The parameters in constructor order from positional ``args`` and keyword ``kwargs`` (defaults filled
        in), or None when they name anything else (``logits=``, ``validate_args=``) or miss one."""
        names = self.names
        if not kwargs:
            return list(args) if len(args) == len(names) else None
        if len(args) > len(names):
            return None
        values, used = list(args), 0
        for name in names[len(args):]:
            if name in kwargs:
                values.append(kwargs[name])
                used += 1
            elif name in self.defaults:
                values.append(self.defaults[name])
            else:
                return None
        return values if used == len(kwargs) else None

    def _numbers(self, args, kwargs):
        """The parameters as Python numbers and the draw's dtype, where the fast path applies; else None."""
        # (a loop, not all() over a generator: this runs at every site of every step)
        params = args if not kwargs and len(args) == len(self.names) else self.ordered(args, kwargs)
        if params is None:
            return None
        got = draw_params(*params)
        if got is None:
            return None
        for x, test in zip(got[0], self.tests, strict=False):  # (draw_params gave one number per parameter)
            if x - x != 0 or not test(x):  # x - x is NaN for an infinite or NaN x
                return None
        return got

    def check(self, *numbers):
        """Raise the error that names the first parameter outside torch's constraint on it."""
        for x, (name, (test, constraint)) in zip(numbers, self.params, strict=True):
            if not test(x):
                raise bad_param(self.name, name, constraint, x)

    def fast_draw(self, args, kwargs, generator):
        got = self._numbers(args, kwargs)
        if got is None:
            if settings.validate:  # an invalid parameter is named here, as Normal's is
                params = self.ordered(args, kwargs)
                numbers = None if params is None else draw_params(*params)
                if numbers is not None:
                    self.check(*numbers[0])
            return None
        numbers, dtype = got
        return self.draw(numbers, torch.get_default_dtype() if dtype is None else dtype, generator)

    def fast_score(self, args, kwargs, v):
        if v is None:
            return None
        got = self._numbers(args, kwargs)
        if got is None or not self.support(v, got[0]):
            return None  # torch's log_prob raises the support or parameter error
        return self.score(got[0], v, torch.get_default_dtype() if got[1] is None else got[1])


# ---- the families ---------------------------------------------------------------------------------------------
_LOG_2, _LOG_PI = math.log(2.0), math.log(math.pi)


def _uniform(dtype, generator):
    return torch.rand((), dtype=dtype, generator=generator)


def _binomial_score(n_p, v, dtype):
    n, p = n_p
    eps = torch.finfo(dtype).eps  # torch scores through logits of probabilities clamped to [eps, 1 - eps]
    p = min(max(p, eps), 1 - eps)
    return math.lgamma(n + 1) - math.lgamma(v + 1) - math.lgamma(n - v + 1) + v * math.log(p) + (n - v) * math.log1p(-p)


BETA = Family(  # the first coordinate of a Dirichlet((a, b)), as torch's Beta draws
    "Beta", (("concentration1", _POSITIVE), ("concentration0", _POSITIVE)),
    support=lambda v, _: 0 <= v <= 1,
    draw=lambda ab, dtype, g: torch._sample_dirichlet(torch.tensor(ab, dtype=dtype), generator=g)[0],
    score=lambda ab, v, _: (xlogy(ab[0] - 1, v) + xlogy(ab[1] - 1, 1 - v) + math.lgamma(ab[0] + ab[1])
                            - math.lgamma(ab[0]) - math.lgamma(ab[1])))

BINOMIAL = Family(
    "Binomial", (("total_count", _COUNT), ("probs", _UNIT)), defaults={"total_count": 1},
    support=lambda v, n_p: _is_count(v) and v <= n_p[0],
    draw=lambda n_p, dtype, g: torch.binomial(torch.scalar_tensor(n_p[0], dtype=dtype),
                                              torch.scalar_tensor(n_p[1], dtype=dtype), generator=g),
    score=_binomial_score)

GAMMA = Family(  # torch's _standard_gamma over the rate, at least the smallest positive float
    "Gamma", (("concentration", _POSITIVE), ("rate", _POSITIVE)),
    support=lambda v, _: v >= 0,
    draw=lambda ar, dtype, g: (torch._standard_gamma(torch.scalar_tensor(ar[0], dtype=dtype), generator=g)
                               / ar[1]).clamp_(min=torch.finfo(dtype).tiny),
    score=lambda ar, v, _: xlogy(ar[0], ar[1]) + xlogy(ar[0] - 1, v) - ar[1] * v - math.lgamma(ar[0]))

POISSON = Family(
    "Poisson", (("rate", _NONNEGATIVE),),
    support=lambda v, _: _is_count(v),
    draw=lambda r, dtype, g: torch.poisson(torch.scalar_tensor(r[0], dtype=dtype), generator=g),
    score=lambda r, v, _: xlogy(v, r[0]) - r[0] - math.lgamma(v + 1))

EXPONENTIAL = Family(  # -log(1 - u) / rate: the tensor draw's inverse CDF (batchable.py)
    "Exponential", (("rate", _POSITIVE),),
    support=lambda v, _: v >= 0,
    draw=lambda r, dtype, g: exponential_of(_uniform(dtype, g), r[0]),
    score=lambda r, v, _: math.log(r[0]) - r[0] * v)

HALF_NORMAL = Family(  # the size of a Normal(0, scale) draw
    "HalfNormal", (("scale", _POSITIVE),),
    support=lambda v, _: v >= 0,
    draw=lambda s, dtype, g: torch.normal(0.0, float(s[0]), (), dtype=dtype, generator=g).abs_(),
    score=lambda s, v, _: normal_log_density(v, 0.0, s[0]) + _LOG_2)

LOG_NORMAL = Family(  # the exponential of a Normal(loc, scale) draw; its density at log v, less log v
    "LogNormal", (("loc", _REAL), ("scale", _POSITIVE)),
    support=lambda v, _: v > 0,
    draw=lambda ls, dtype, g: torch.normal(float(ls[0]), float(ls[1]), (), dtype=dtype, generator=g).exp_(),
    score=lambda ls, v, _: normal_log_density(math.log(v), ls[0], ls[1]) - math.log(v))

HALF_CAUCHY = Family(  # the size of scale * tan(pi (u - 1/2)): the tensor draw's inverse CDF (batchable.py)
    "HalfCauchy", (("scale", _POSITIVE),),
    support=lambda v, _: v >= 0,
    draw=lambda s, dtype, g: half_cauchy_of(_uniform(dtype, g), s[0]),
    score=lambda s, v, _: _LOG_2 - _LOG_PI - math.log(s[0]) - math.log1p((v / s[0]) ** 2))

FAMILIES = (BETA, BINOMIAL, GAMMA, POISSON, EXPONENTIAL, HALF_NORMAL, LOG_NORMAL, HALF_CAUCHY)
