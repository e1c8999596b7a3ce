"""Drawing and scoring a site: the hot path of ``sample``.

For the common scalar families with Python-number parameters (``Normal(55.0, 10.0)``,
``Bernoulli(0.3)``, ``Uniform(0, 1)``) we draw with one torch call straight from the deferred
constructor arguments and score in plain floats; the results equal torch's to float precision.
Everything else goes through torch's own ``sample``/``log_prob``. Errors are re-raised naming the site.
"""

import math
import re

import torch

from ..errors import InvalidParameterError, SiteTypeError
from ..settings import settings
from .deferred import deferred_class
from torch.distributions import Bernoulli as _TBernoulli, Normal as _TNormal, Uniform as _TUniform

Normal = deferred_class(_TNormal)
Bernoulli = deferred_class(_TBernoulli)
Uniform = deferred_class(_TUniform)

_NUM = (float, int)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _bad_param(dist_name, param, constraint, value):
    return InvalidParameterError(
        f"parameter '{param}' of {dist_name} must satisfy {constraint}, got {value!r}"
    )


def _plain_tensors(a, b=None):
    """Tensors that need no broadcasting or gradient: what torch's own sample would pass straight on."""
    if type(a) is not torch.Tensor or a.requires_grad:
        return False
    return b is None or (type(b) is torch.Tensor and not b.requires_grad and a.shape == b.shape)


def _all(tensor, test):
    # One element (the seed's Variable(torch.Tensor([0.3]))): a Python comparison is far cheaper.
    return test(tensor.item()) if tensor.numel() == 1 else bool(test(tensor).all())


# Each fast sampler takes the deferred (args, kwargs) and returns a tensor, or None to decline.
# Each draws exactly as torch's own ``sample`` does (torch.normal, torch.bernoulli), minus the
# construction, broadcasting and re-wrapping work that a single scalar or same-shape draw does not need.
def _normal_draw(args, kwargs):
    if kwargs or len(args) != 2:
        return None
    loc, scale = args
    if type(loc) in _NUM and type(scale) in _NUM:
        if settings.validate and not scale > 0:
            raise _bad_param("Normal", "scale", "GreaterThan(lower_bound=0.0)", scale)
        return torch.normal(float(loc), float(scale), ())
    if _plain_tensors(loc, scale):
        if settings.validate and not _all(scale, lambda s: s > 0):
            raise _bad_param("Normal", "scale", "GreaterThan(lower_bound=0.0)", scale)
        return torch.normal(loc, scale)
    return None


def _normal_score(args, kwargs, v):
    if kwargs or len(args) != 2:
        return None
    loc, scale = args
    if type(loc) not in _NUM or type(scale) not in _NUM:
        return None
    z = (v - loc) / scale
    return -0.5 * z * z - math.log(scale) - _LOG_SQRT_2PI


def _bernoulli_p(args, kwargs):
    if kwargs:
        if len(kwargs) != 1 or "probs" not in kwargs or args:
            return None
        p = kwargs["probs"]
    elif len(args) == 1:
        p = args[0]
    else:
        return None
    if type(p) not in _NUM:
        return None
    return p


def _bernoulli_draw(args, kwargs):
    p = args[0] if len(args) == 1 and not kwargs else kwargs.get("probs") if len(kwargs) == 1 and not args else None
    if type(p) in _NUM:
        if settings.validate and not 0 <= p <= 1:
            raise _bad_param("Bernoulli", "probs", "Interval(lower_bound=0.0, upper_bound=1.0)", p)
        return torch.empty(()).bernoulli_(p)
    if _plain_tensors(p) and p.is_floating_point():
        if settings.validate and not _all(p, lambda q: (0 <= q) & (q <= 1)):
            raise _bad_param("Bernoulli", "probs", "Interval(lower_bound=0.0, upper_bound=1.0)", p)
        return torch.bernoulli(p)
    return None


def _bernoulli_score(args, kwargs, v):
    p = _bernoulli_p(args, kwargs)
    if p is None or v not in (0.0, 1.0):
        return None  # torch's log_prob raises the support error
    q = p if v == 1.0 else 1.0 - p
    return math.log(q) if q > 0 else -math.inf


def _uniform_bounds(args, kwargs):
    if kwargs or len(args) != 2:
        return None
    low, high = args
    if type(low) not in _NUM or type(high) not in _NUM:
        return None
    return low, high


def _uniform_draw(args, kwargs):
    b = _uniform_bounds(args, kwargs)
    if b is None:
        return None
    if settings.validate and not b[0] < b[1]:
        raise _bad_param("Uniform", "high", f"GreaterThan(lower_bound={b[0]})", b[1])
    return torch.empty(()).uniform_(float(b[0]), float(b[1]))


def _uniform_score(args, kwargs, v):
    b = _uniform_bounds(args, kwargs)
    if b is None or not b[0] <= v < b[1]:
        return None
    return -math.log(b[1] - b[0])


FAST = {Normal: (_normal_draw, _normal_score), Bernoulli: (_bernoulli_draw, _bernoulli_score),
        Uniform: (_uniform_draw, _uniform_score)}

_TORCH_PARAM = re.compile(r"Expected parameter (\w+) .*? of distribution (\w+).*?to satisfy the constraint (.*?), "
                          r"but found invalid values:\s*(.*)", re.S)
_TORCH_SUPPORT = re.compile(r"Expected value argument .*? to be within the support \((.*?)\) of the distribution "
                            r"(\w+)", re.S)


def explain(site, error):
    """Re-word torch's validation error so that it names the site, the parameter and the fix."""
    text = str(error)
    m = _TORCH_PARAM.search(text)
    if m:
        param, dname, constraint, found = m.groups()
        return InvalidParameterError(
            f"site '{site.name}': parameter '{param}' of {dname} must satisfy {constraint}, "
            f"but got {found.strip()}. Fix the value passed as '{param}' to this sample statement."
        )
    m = _TORCH_SUPPORT.search(text)
    if m:
        support, dname = m.groups()
        return InvalidParameterError(
            f"site '{site.name}': value {site.value!r} is outside the support {support} of {dname}. "
            "Fix the observed value (obs=...) or choose a distribution whose support contains it."
        )
    if isinstance(error, InvalidParameterError):
        return InvalidParameterError(f"site '{site.name}': {text}. Fix the value passed to this sample statement.")
    return InvalidParameterError(f"site '{site.name}': {text}")


def has_scalar_params(d):
    """True for a deferred distribution whose parameters are all Python numbers (it broadcasts with anything)."""
    deferred = d.__dict__.get("_deferred")
    if deferred is None:
        return False
    args, kwargs = deferred
    return all(type(a) in _NUM for a in args) and all(type(v) in _NUM for v in kwargs.values())


def draw_from(d):
    """A draw from a distribution object: the fast scalar path if it applies, else torch's."""
    fast = FAST.get(type(d))
    if fast is not None:
        deferred = d.__dict__.get("_deferred")
        if deferred is not None:
            value = fast[0](*deferred)
            if value is not None:
                return value
    return d.rsample() if d.has_rsample else d.sample()


def draw(site):
    """The default action of a sample site: draw a value from ``site.fn``."""
    try:
        return draw_from(site.fn)
    except (ValueError, TypeError) as e:
        raise draw_error(site, e) from None


def draw_error(site, error):
    """The error to raise when drawing at ``site`` failed with ``error``."""
    if isinstance(error, TypeError):  # the deferred constructor ran only now: wrong arguments surface here
        return SiteTypeError(f"site '{site.name}': wrong arguments for {type(site.fn).__name__}: {error}")
    return explain(site, error)


def _fast_score(fn, value):
    """The fast scalar path's log density as a Python float, or None where it does not apply."""
    fast = FAST.get(type(fn))
    if fast is not None and type(value) is torch.Tensor and not value.requires_grad and value.dim() == 0:
        deferred = fn.__dict__.get("_deferred")
        if deferred is not None:
            return fast[1](*deferred, value.item())
    return None


def site_log_prob_float(site):
    """The site's summed log-probability (scale and mask applied) as a Python float.

    Inference loops need a number per site, not a tensor: on the fast scalar path this skips making
    a tensor only to read it back, and keeps double precision.
    """
    if site._log_prob is None and site.mask is None and type(site.scale) in _NUM:
        lp = _fast_score(site.fn, site.value)
        if lp is not None:
            return lp * site.scale
    lp = site.log_prob
    return (lp.sum() if lp.dim() else lp).item()


def site_log_prob(site):
    """Log density of ``site.value`` under ``site.fn``, with the site's scale and mask applied."""
    fn, value = site.fn, site.value
    lp = _fast_score(fn, value)
    if lp is not None:
        lp = torch.scalar_tensor(lp, dtype=value.dtype, device=value.device)
    else:
        try:
            lp = fn.log_prob(value)
        except ValueError as e:
            raise explain(site, e) from None
    if site.scale != 1.0:
        lp = lp * site.scale
    if site.mask is not None:
        mask = site.mask
        if mask is False:
            return torch.zeros_like(lp)
        if mask is not True:
            lp = torch.where(mask, lp, torch.zeros_like(lp))
    return lp
