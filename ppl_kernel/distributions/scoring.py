"""Drawing and scoring a site: the hot path of ``sample``.

For the common scalar families with Python-number parameters (``Normal(55.0, 10.0)``,
``Bernoulli(0.3)``, ``Uniform(0, 1)``) we draw with one torch call straight from the deferred
constructor arguments and score in plain floats; the results equal torch's to float precision.
Everything else goes through torch's own ``sample``/``log_prob``. Errors are re-raised naming the site.
"""

import inspect
import math
import numbers
import re

import torch

from ..errors import InvalidParameterError, SiteTypeError, UserDistributionError
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
        if settings.validate and not (scale > 0 and loc == loc):  # NaN fails both
            _check_normal(loc, scale)
        return torch.normal(float(loc), float(scale), ())
    if _plain_tensors(loc, scale):
        if settings.validate:
            if not _all(scale, lambda s: s > 0):
                raise _bad_param("Normal", "scale", "GreaterThan(lower_bound=0.0)", scale)
            if not _all(loc, lambda x: x == x):  # NaN
                raise _bad_param("Normal", "loc", "Real()", loc)
        return torch.normal(loc, scale)
    return None


def _check_normal(loc, scale):
    if not scale > 0:
        raise _bad_param("Normal", "scale", "GreaterThan(lower_bound=0.0)", scale)
    if loc != loc:  # NaN: torch's constraint real() rejects it
        raise _bad_param("Normal", "loc", "Real()", loc)


def _check_bernoulli(p):
    if not 0 <= p <= 1:
        raise _bad_param("Bernoulli", "probs", "Interval(lower_bound=0.0, upper_bound=1.0)", p)


def _check_uniform(low, high):
    if not low < high:
        raise _bad_param("Uniform", "high", f"GreaterThan(lower_bound={low})", high)


def _normal_score(args, kwargs, v):
    if kwargs or len(args) != 2:
        return None
    loc, scale = args
    if type(loc) not in _NUM or type(scale) not in _NUM or not scale > 0 or v != v or loc != loc:
        return None  # torch's log_prob: its validation names what is wrong (scale <= 0, a NaN)
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
            _check_bernoulli(p)
        return torch.empty(()).bernoulli_(p)
    if _plain_tensors(p) and p.is_floating_point():
        if settings.validate and not _all(p, lambda q: (0 <= q) & (q <= 1)):
            raise _bad_param("Bernoulli", "probs", "Interval(lower_bound=0.0, upper_bound=1.0)", p)
        return torch.bernoulli(p)
    return None


def _bernoulli_score(args, kwargs, v):
    p = _bernoulli_p(args, kwargs)
    if p is None or v not in (0.0, 1.0) or not 0 <= p <= 1:
        return None  # torch's log_prob raises the support or parameter error
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
        _check_uniform(*b)
    return torch.empty(()).uniform_(float(b[0]), float(b[1]))


def _uniform_score(args, kwargs, v):
    b = _uniform_bounds(args, kwargs)
    if b is None or not b[0] <= v < b[1]:
        return None  # also for low >= high or a NaN: torch's validation names it
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
        if site.is_observed:
            fix = "Fix the observed value (obs=... or condition's data) or choose a distribution whose support contains it."
        else:  # a latent site's value that no draw made: replay, a guide, substitute
            fix = ("This latent site's value was given, not drawn (by replay, a guide's trace or substitute): the "
                   "distribution that chose it had a different support. Make the two distributions at this site "
                   "agree, or give a value inside the support.")
        return InvalidParameterError(
            f"site '{site.name}': value {site.value!r} is outside the support {support} of {dname}. {fix}"
        )
    if isinstance(error, InvalidParameterError):
        return InvalidParameterError(f"site '{site.name}': {text}. Fix the value passed to this sample statement.")
    return InvalidParameterError(f"site '{site.name}': {text}")


_CHECKS = {Normal: _check_normal, Bernoulli: _check_bernoulli, Uniform: _check_uniform}


def check_params(d):
    """Validate ``d``'s parameters now (an observed site never draws, so it is not checked on the way);
    return whether they are all Python numbers (then ``d`` broadcasts against any observation).

    Scalar parameters of the fast families are checked in plain floats; any other deferred
    distribution is constructed, which runs torch's own validation.
    """
    deferred = d.__dict__.get("_deferred")
    if deferred is None:
        return False  # already constructed: torch validated it then
    args, kwargs = deferred
    scalar = all(type(a) in _NUM for a in args) and all(type(v) in _NUM for v in kwargs.values())
    if scalar and not kwargs:
        check = _CHECKS.get(type(d))
        if check is not None:
            try:
                check(*args)
                return True
            except TypeError:
                pass  # wrong arity: the constructor below says so
    d.batch_shape  # noqa: B018  (constructs it)
    return scalar


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
    value = d.rsample() if d.has_rsample else d.sample()
    if settings.validate and not _trusted(type(d)):
        _check_user_sample(d, value)
    return value


_TRUSTED = {}  # distribution class -> bool: torch's and ours draw values of their declared shape; a user's may not


def _trusted(cls):
    trusted = _TRUSTED.get(cls)
    if trusted is None:
        trusted = _TRUSTED[cls] = cls.__module__.startswith(("torch.", "ppl_kernel."))
    return trusted


def _check_user_sample(d, value):
    name = type(d).__name__
    if not isinstance(value, torch.Tensor):
        raise UserDistributionError(
            f"{name}.sample returned {type(value).__name__} {value!r}, not a tensor. Return a torch.Tensor "
            "(e.g. torch.as_tensor(value)) from the sample method of your Distribution class."
        )
    expected = d.batch_shape + d.event_shape
    if value.shape != expected:
        raise UserDistributionError(
            f"{name}.sample returned a value of shape {tuple(value.shape)}, but the distribution declares "
            f"batch_shape {tuple(d.batch_shape)} and event_shape {tuple(d.event_shape)} (a draw must have shape "
            f"{tuple(expected)}). Fix its sample method, or the shapes passed to Distribution.__init__."
        )


def draw(site):
    """The default action of a sample site: draw a value from ``site.fn``."""
    try:
        return draw_from(site.fn)
    except (ValueError, TypeError) as e:
        raise draw_error(site, e) from None


def draw_error(site, error):
    """The error to raise when drawing at ``site`` failed with ``error``."""
    if isinstance(error, UserDistributionError):
        return UserDistributionError(f"site '{site.name}': {error}")
    wrong_type = _non_numeric_param(site)
    if wrong_type is not None:
        return wrong_type
    if isinstance(error, TypeError):  # the deferred constructor ran only now: wrong arguments surface here
        return SiteTypeError(f"site '{site.name}': wrong arguments for {type(site.fn).__name__}: {error}")
    return explain(site, error)


def _non_numeric_param(site):
    """A SiteTypeError naming the first parameter that is neither a number nor a tensor (a str, a dict), or None."""
    deferred = site.fn.__dict__.get("_deferred")
    if deferred is None:
        return None
    args, kwargs = deferred
    names = _param_names(type(site.fn))
    given = list(zip(names, args, strict=False)) + list(kwargs.items())
    for param, value in given:
        if param == "validate_args" or value is None or isinstance(value, (numbers.Real, torch.Tensor, list, tuple)):
            continue
        kind = "complex number" if isinstance(value, complex) else type(value).__name__
        return SiteTypeError(
            f"site '{site.name}': parameter '{param}' of {type(site.fn).__name__} must be a real number or a "
            f"tensor, got {kind} {value!r}. Pass a number or torch.tensor(...) there."
        )
    return None


def _param_names(cls):
    init = getattr(cls, "_torch_class", cls).__init__
    try:
        return [p for p in inspect.signature(init).parameters if p != "self"]
    except (TypeError, ValueError):
        return []


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
        if not isinstance(lp, torch.Tensor):
            raise UserDistributionError(
                f"site '{site.name}': {type(fn).__name__}.log_prob returned {type(lp).__name__} {lp!r}, not a "
                "tensor. Return a torch.Tensor from the log_prob method of your Distribution class (e.g. "
                "torch.as_tensor(value)), one log-density per batch element."
            )
    scale = site.scale
    if type(scale) is torch.Tensor or scale != 1.0:  # a tensor scale (poutine.scale, Pyro's too) may be batched
        lp = lp * scale
    if site.mask is not None:
        mask = site.mask
        if mask is False:
            return torch.zeros_like(lp)
        if mask is not True:
            lp = torch.where(mask, lp, torch.zeros_like(lp))
    return lp
