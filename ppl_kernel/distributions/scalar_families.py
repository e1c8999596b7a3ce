"""Fast scalar draws and scores of Beta, Binomial, Gamma, Poisson, Exponential and of the scale priors
HalfNormal, LogNormal and HalfCauchy (rows of scoring.py's FAST).

For one scalar, torch's constructors and log densities of these families cost 20-100 us (Beta builds a
Dirichlet; Binomial's log density is a dozen tensor operations), and a probmods-style model pays that at
every site of every MH step: a coin's weight under a Beta prior with Binomial data ran at 2.9k MH steps/s,
against 60k for a Normal model, and a scale under a HalfNormal, LogNormal or HalfCauchy prior (torch's
transformed distributions) at 7k. Here each draw calls the very sampler the tensor draw calls
(``_sample_dirichlet``, ``_standard_gamma``, ``binomial``, ``poisson``, ``normal`` for the transformed
normals, and for the Exponential and the HalfCauchy the inverse CDF of ``batchable.py``), so a seed gives the
same draws either way; each score is torch's formula in plain
floats (``math.lgamma``, :func:`xlogy`). Anything else -- a batch, a gradient, logits, a value outside the
support, an invalid parameter -- declines (None), and torch decides, with its own validation and errors.

Parameters come as the constructor got them (``Binomial(10, p)`` or ``Binomial(total_count=10, probs=p)``):
:func:`named` puts them in the order of :data:`NAMES`.
"""

import math

import torch

from ..settings import settings
from .scalars import bad_param, draw_params

# Each family's parameters in the order of torch's constructor, and the defaults of those that have one.
NAMES = {
    "Beta": (("concentration1", "concentration0"), {}),
    "Binomial": (("total_count", "probs"), {"total_count": 1}),
    "Gamma": (("concentration", "rate"), {}),
    "Poisson": (("rate",), {}),
    "Exponential": (("rate",), {}),
    "HalfNormal": (("scale",), {}),
    "LogNormal": (("loc", "scale"), {}),
    "HalfCauchy": (("scale",), {}),
}


def named(family, args, kwargs):
    """``family``'s parameters in constructor order from positional ``args`` and keyword ``kwargs`` (defaults
    filled in), or None when they name anything else (``logits=``, ``validate_args=``) or miss one.

    >>> named("Binomial", (), {"probs": 0.3})
    [1, 0.3]
    """
    names, defaults = NAMES[family]
    if not kwargs:
        return list(args) if len(args) == len(names) else None
    if len(args) > len(names):
        return None
    values, used = list(args), 0
    for name in names[len(args):]:
        if name in kwargs:
            values.append(kwargs[name])
            used += 1
        elif name in defaults:
            values.append(defaults[name])
        else:
            return None
    return values if used == len(kwargs) else None


def xlogy(x, y):
    """``x * log(y)``, and 0 where ``x`` is 0 (even at ``y`` = 0): torch's ``xlogy`` for ``y >= 0``."""
    if x == 0:
        return 0.0
    if y == 0:
        return -math.inf if x > 0 else math.inf
    return x * math.log(y)


def _numbers(family, args, kwargs):
    """The parameters as Python numbers and the draw's dtype (see scalars.draw_params), or None."""
    params = named(family, args, kwargs)
    return None if params is None else draw_params(*params)


def _invalid(check, numbers):
    """A draw's parameters failed their test: with validation on, ``check`` raises the error that names the
    parameter (as Normal's draw does); off, the draw declines and torch's sampler decides."""
    if settings.validate:
        check(*numbers)
    return None


def _dtype(dtype):
    return torch.get_default_dtype() if dtype is None else dtype


def _is_count(x):
    return x >= 0 and x == int(x)


# ---- Beta: the first coordinate of a Dirichlet((a, b)), as torch's Beta draws ------------------------------
def beta_draw(args, kwargs, generator):
    numbers = _numbers("Beta", args, kwargs)
    if numbers is None:
        return None
    (a, b), dtype = numbers
    if not (a > 0 and b > 0):
        return _invalid(check_beta, numbers[0])
    return torch._sample_dirichlet(torch.tensor((a, b), dtype=_dtype(dtype)), generator=generator)[0]


def beta_score(args, kwargs, v):
    numbers = _numbers("Beta", args, kwargs)
    if numbers is None or v is None or not 0 <= v <= 1:
        return None
    (a, b), _ = numbers
    if not (a > 0 and b > 0):
        return None
    return xlogy(a - 1, v) + xlogy(b - 1, 1 - v) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)


def check_beta(a, b):
    if not a > 0:
        raise bad_param("Beta", "concentration1", "GreaterThan(lower_bound=0.0)", a)
    if not b > 0:
        raise bad_param("Beta", "concentration0", "GreaterThan(lower_bound=0.0)", b)


# ---- Binomial: torch.binomial; the score from probabilities clamped as torch's logits are ------------------
def binomial_draw(args, kwargs, generator):
    numbers = _numbers("Binomial", args, kwargs)
    if numbers is None:
        return None
    (n, p), dtype = numbers
    if not (_is_count(n) and 0 <= p <= 1):
        return _invalid(check_binomial, numbers[0])
    dtype = _dtype(dtype)
    return torch.binomial(torch.scalar_tensor(n, dtype=dtype), torch.scalar_tensor(p, dtype=dtype),
                          generator=generator)


def binomial_score(args, kwargs, v):
    numbers = _numbers("Binomial", args, kwargs)
    if numbers is None or v is None:
        return None
    (n, p), dtype = numbers
    if not (_is_count(n) and 0 <= p <= 1 and _is_count(v) and v <= n):
        return None
    # torch scores through logits made from probabilities clamped to [eps, 1 - eps] of their dtype
    eps = torch.finfo(_dtype(dtype)).eps
    p = min(max(p, eps), 1 - eps)
    return (math.lgamma(n + 1) - math.lgamma(v + 1) - math.lgamma(n - v + 1)
            + v * math.log(p) + (n - v) * math.log1p(-p))


def check_binomial(n, p):
    if not _is_count(n):
        raise bad_param("Binomial", "total_count", "IntegerGreaterThan(lower_bound=0)", n)
    if not 0 <= p <= 1:
        raise bad_param("Binomial", "probs", "Interval(lower_bound=0.0, upper_bound=1.0)", p)


# ---- Gamma: torch's _standard_gamma over the rate, clamped to the smallest positive float ------------------
def gamma_draw(args, kwargs, generator):
    numbers = _numbers("Gamma", args, kwargs)
    if numbers is None:
        return None
    (a, rate), dtype = numbers
    if not (a > 0 and rate > 0):
        return _invalid(check_gamma, numbers[0])
    draw = torch._standard_gamma(torch.scalar_tensor(a, dtype=_dtype(dtype)), generator=generator) / rate
    return draw.clamp_(min=torch.finfo(draw.dtype).tiny)


def gamma_score(args, kwargs, v):
    numbers = _numbers("Gamma", args, kwargs)
    if numbers is None or v is None or not v >= 0:
        return None
    (a, rate), _ = numbers
    if not (a > 0 and rate > 0):
        return None
    return xlogy(a, rate) + xlogy(a - 1, v) - rate * v - math.lgamma(a)


def check_gamma(a, rate):
    if not a > 0:
        raise bad_param("Gamma", "concentration", "GreaterThan(lower_bound=0.0)", a)
    if not rate > 0:
        raise bad_param("Gamma", "rate", "GreaterThan(lower_bound=0.0)", rate)


# ---- Poisson: torch.poisson ----------------------------------------------------------------------------------
def poisson_draw(args, kwargs, generator):
    numbers = _numbers("Poisson", args, kwargs)
    if numbers is None:
        return None
    (rate,), dtype = numbers
    if not 0 <= rate < math.inf:
        return _invalid(check_poisson, numbers[0])
    return torch.poisson(torch.scalar_tensor(rate, dtype=_dtype(dtype)), generator=generator)


def poisson_score(args, kwargs, v):
    numbers = _numbers("Poisson", args, kwargs)
    if numbers is None or v is None or not _is_count(v):
        return None
    (rate,), _ = numbers
    if not 0 <= rate < math.inf:
        return None
    return xlogy(v, rate) - rate - math.lgamma(v + 1)


def check_poisson(rate):
    if not rate >= 0:
        raise bad_param("Poisson", "rate", "GreaterThanEq(lower_bound=0.0)", rate)


# ---- Exponential: -log(1 - u) over the rate -------------------------------------------------------------------
def exponential_draw(args, kwargs, generator):
    numbers = _numbers("Exponential", args, kwargs)
    if numbers is None:
        return None
    (rate,), dtype = numbers
    if not 0 < rate < math.inf:
        return _invalid(check_exponential, numbers[0])
    # the tensor draw's inverse CDF (batchable.py), so that a seed draws the same either way
    u = torch.rand((), dtype=_dtype(dtype), generator=generator)
    return torch.log1p(-u).neg_().div_(rate)


def exponential_score(args, kwargs, v):
    numbers = _numbers("Exponential", args, kwargs)
    if numbers is None or v is None or not v >= 0:
        return None
    (rate,), _ = numbers
    if not 0 < rate < math.inf:
        return None
    return math.log(rate) - rate * v


def check_exponential(rate):
    if not rate > 0:
        raise bad_param("Exponential", "rate", "GreaterThan(lower_bound=0.0)", rate)




# ---- the scale priors: a Normal's size or exponential, a Cauchy's size ---------------------------------------
_LOG_2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)


def _normal_log_density(v, loc, scale):
    z = (v - loc) / scale
    return -0.5 * z * z - math.log(scale) - _LOG_SQRT_2PI


def half_normal_draw(args, kwargs, generator):
    numbers = _numbers("HalfNormal", args, kwargs)
    if numbers is None:
        return None
    (scale,), dtype = numbers
    if not 0 < scale < math.inf:
        return _invalid(check_half_normal, numbers[0])
    return torch.normal(0.0, float(scale), (), dtype=_dtype(dtype), generator=generator).abs_()


def half_normal_score(args, kwargs, v):
    numbers = _numbers("HalfNormal", args, kwargs)
    if numbers is None or v is None or not v >= 0:
        return None
    (scale,), _ = numbers
    if not 0 < scale < math.inf:
        return None
    return _normal_log_density(v, 0.0, scale) + _LOG_2


def check_half_normal(scale):
    if not scale > 0:
        raise bad_param("HalfNormal", "scale", "GreaterThan(lower_bound=0.0)", scale)


def log_normal_draw(args, kwargs, generator):
    numbers = _numbers("LogNormal", args, kwargs)
    if numbers is None:
        return None
    (loc, scale), dtype = numbers
    if not (0 < scale < math.inf and loc == loc):
        return _invalid(check_log_normal, numbers[0])
    return torch.normal(float(loc), float(scale), (), dtype=_dtype(dtype), generator=generator).exp_()


def log_normal_score(args, kwargs, v):
    numbers = _numbers("LogNormal", args, kwargs)
    if numbers is None or v is None or not 0 < v < math.inf:
        return None
    (loc, scale), _ = numbers
    if not (0 < scale < math.inf and loc == loc):
        return None
    log_v = math.log(v)
    return _normal_log_density(log_v, loc, scale) - log_v  # the density of log v, less log |d log v / dv|


def check_log_normal(loc, scale):
    if not scale > 0:
        raise bad_param("LogNormal", "scale", "GreaterThan(lower_bound=0.0)", scale)
    if loc != loc:
        raise bad_param("LogNormal", "loc", "Real()", loc)


def half_cauchy_draw(args, kwargs, generator):
    numbers = _numbers("HalfCauchy", args, kwargs)
    if numbers is None:
        return None
    (scale,), dtype = numbers
    if not 0 < scale < math.inf:
        return _invalid(check_half_cauchy, numbers[0])
    # the tensor draw's inverse CDF (batchable.py), so that a seed draws the same either way
    u = torch.rand((), dtype=_dtype(dtype), generator=generator)
    return torch.tan(math.pi * (u - 0.5)).abs_().mul_(scale)


def half_cauchy_score(args, kwargs, v):
    numbers = _numbers("HalfCauchy", args, kwargs)
    if numbers is None or v is None or not v >= 0:
        return None
    (scale,), _ = numbers
    if not 0 < scale < math.inf:
        return None
    return _LOG_2 - _LOG_PI - math.log(scale) - math.log1p((v / scale) ** 2)


def check_half_cauchy(scale):
    if not scale > 0:
        raise bad_param("HalfCauchy", "scale", "GreaterThan(lower_bound=0.0)", scale)
