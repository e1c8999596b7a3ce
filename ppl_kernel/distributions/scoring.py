"""Drawing from and scoring a distribution fast: the part of the hot path of ``sample`` that knows the families.

For the common scalar families (``Normal(55.0, 10.0)``, ``Bernoulli(p)`` with ``p`` a number or a
one-element tensor, ``Uniform(0, 1)``, ``Categorical(probs)`` over up to 64 outcomes, a ``factor``'s
``Unit``; and, in ``scalar_families.py``, ``Beta``, ``Binomial``, ``Gamma``, ``Poisson``, ``Exponential``,
``HalfNormal``, ``LogNormal``, ``HalfCauchy``) we draw with one torch call straight from the deferred
constructor arguments and score in plain floats; the results equal torch's to float precision
(tests/core/test_fast_families.py, one test per family of the ``FAST`` table). Everything else goes through
torch's own ``sample``/``log_prob``. Drawing and scoring a *site* (with its scale,
mask, and errors that name it) is the runtime's: ``runtime.draw`` and ``runtime.site_log_prob``.
"""

import bisect
import itertools
import math

import torch
import torch.distributions as _td

from ..errors import UserDistributionError
from ..rng import borrowed_default, borrowers, default_generator_lock, drawing
from ..settings import settings
from . import scalar_families as _more
from .bernoulli import bernoulli_draw
from .deferred import deferred_class
from .point import Unit
from .scalars import NUM as _NUM, bad_param as _bad_param, draw_params as _draw_params, normal_log_density, \
    number as _number

Normal, Bernoulli, Uniform, Categorical = (deferred_class(_td.Normal), deferred_class(_td.Bernoulli),
                                           deferred_class(_td.Uniform), deferred_class(_td.Categorical))
# scalar_families.py's families, by their deferred class
_MORE = {deferred_class(getattr(_td, family.name)): family for family in _more.FAMILIES}

def _plain_tensors(a, b=None):
    """Tensors that need no broadcasting or gradient: what torch's own sample would pass straight on."""
    if type(a) is not torch.Tensor or a.requires_grad:
        return False
    return b is None or (type(b) is torch.Tensor and not b.requires_grad and a.shape == b.shape)


def _on_device(generator, tensor):
    """``generator`` where it can draw on ``tensor``'s device, else None (that device's default generator)."""
    return generator if generator is not None and generator.device == tensor.device else None


def _all(tensor, test):
    # One element (the seed's Variable(torch.Tensor([0.3]))): a Python comparison is far cheaper.
    return test(tensor.item()) if tensor.numel() == 1 else bool(test(tensor).all())


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


# Each family has a fast sampler and a fast scorer over the deferred constructor arguments (args,
# kwargs). A sampler also takes the generator to draw from (None: torch's default one, see draw_from)
# and returns a tensor or None to decline; it draws exactly as torch's own ``sample``
# does (torch.normal, torch.bernoulli), minus the construction, broadcasting and re-wrapping work that a
# single scalar or same-shape draw does not need. A scorer takes the value as a Python number (None for
# the empty value of a factor) and returns a float log density, or None to decline (torch's log_prob
# then decides, raising its own support error); with validation on it checks the parameters as
# torch's constructor would.
def _normal_draw(args, kwargs, generator):
    if kwargs or len(args) != 2:
        return None
    loc, scale = args
    if type(loc) in _NUM and type(scale) in _NUM:  # plain numbers, the common case, without _draw_params' lists
        # Valid parameters (the common case) skip reading the thread's settings; NaN fails both tests.
        if not (scale > 0 and loc == loc) and settings.validate:
            _check_normal(loc, scale)
        # torch reads an int as a float here; and parsing generator=None costs more than the branch
        if generator is None:
            return torch.normal(loc, scale, ())
        return torch.normal(loc, scale, (), generator=generator)
    numbers = _draw_params(*args)
    if numbers is not None:
        (loc, scale), dtype = numbers
        if not (scale > 0 and loc == loc) and settings.validate:  # NaN fails both
            _check_normal(loc, scale)
        if dtype is None:
            return torch.normal(float(loc), float(scale), (), generator=generator)
        return torch.normal(float(loc), float(scale), (), dtype=dtype, device="cpu", generator=generator)
    loc, scale = args
    if _plain_tensors(loc, scale):
        if loc.numel() == 1 and loc.dtype == scale.dtype and loc.device.type == "cpu" and loc.is_floating_point():
            # One element in a shape (the seed's Variable(torch.Tensor([55.0]))): drawn from the two numbers, in a
            # third of the time torch.normal takes on tensors; the same draw (up to the last bit's rounding).
            shape, dtype = loc.shape, loc.dtype
            loc, scale = loc.item(), scale.item()
            if not (scale > 0 and loc == loc) and settings.validate:
                _check_normal(loc, scale)
            if generator is None:
                return torch.normal(loc, scale, shape, dtype=dtype)
            return torch.normal(loc, scale, shape, dtype=dtype, generator=generator)
        if settings.validate:
            if not _all(scale, lambda s: s > 0):
                raise _bad_param("Normal", "scale", "GreaterThan(lower_bound=0.0)", scale)
            if not _all(loc, lambda x: x == x):  # NaN
                raise _bad_param("Normal", "loc", "Real()", loc)
        return torch.normal(loc, scale, generator=_on_device(generator, loc))
    return None


def _normal_score(args, kwargs, v):
    if kwargs or len(args) != 2 or v is None:
        return None
    loc, scale = _number(args[0]), _number(args[1])
    if loc is None or scale is None or not scale > 0 or v != v or loc != loc:
        return None  # torch's log_prob: its validation names what is wrong (scale <= 0, a NaN)
    return normal_log_density(v, loc, scale)


def _bernoulli_param(args, kwargs):
    if kwargs:
        if len(kwargs) != 1 or "probs" not in kwargs or args:
            return None
        return kwargs["probs"]
    return args[0] if len(args) == 1 else None


def _bernoulli_draw(args, kwargs, generator):
    given = args[0] if len(args) == 1 and not kwargs else _bernoulli_param(args, kwargs)
    if type(given) in _NUM:  # a plain number, the common case, without _draw_params' lists
        if not 0 <= given <= 1 and settings.validate:
            _check_bernoulli(given)
        if generator is None:  # parsing generator=None costs more than the branch
            return torch.empty(()).bernoulli_(given)
        return torch.empty(()).bernoulli_(given, generator=generator)
    numbers = _draw_params(given)
    if numbers is not None:
        (p,), dtype = numbers
        if not 0 <= p <= 1 and settings.validate:
            _check_bernoulli(p)
        empty = torch.empty(()) if dtype is None else torch.empty((), dtype=dtype, device="cpu")
        return empty.bernoulli_(p, generator=generator)
    if _plain_tensors(given) and given.is_floating_point():
        if given.numel() == 1 and generator is None:
            # One element in a shape (the seed's Variable(torch.Tensor([0.3]))): bernoulli_draw's very uniform
            # (the same random stream, so a seeded run stays the run it was), from rand_like, which takes half
            # the time of rand(shape, dtype=..., device=...); checked as a number.
            p = given.item()
            if not 0 <= p <= 1 and settings.validate:
                _check_bernoulli(p)
            uniform = torch.rand_like(given)
            return uniform.copy_(uniform < given)
        if settings.validate and not _all(given, lambda q: (0 <= q) & (q <= 1)):
            raise _bad_param("Bernoulli", "probs", "Interval(lower_bound=0.0, upper_bound=1.0)", given)
        return bernoulli_draw(given, given.shape, _on_device(generator, given))  # the one way tensors draw coins
    return None


def _bernoulli_score(args, kwargs, v):
    p = _number(_bernoulli_param(args, kwargs))
    if p is None or v not in (0.0, 1.0) or not 0 <= p <= 1:
        return None  # torch's log_prob raises the support or parameter error
    q = p if v == 1.0 else 1.0 - p
    return math.log(q) if q > 0 else -math.inf


def _uniform_draw(args, kwargs, generator):
    if kwargs or len(args) != 2:
        return None
    numbers = _draw_params(*args)
    if numbers is None:
        return None
    (low, high), dtype = numbers
    if not low < high and settings.validate:
        _check_uniform(low, high)
    empty = torch.empty(()) if dtype is None else torch.empty((), dtype=dtype, device="cpu")
    return empty.uniform_(float(low), float(high), generator=generator)


def _uniform_score(args, kwargs, v):
    if kwargs or len(args) != 2 or v is None:
        return None
    low, high = _number(args[0]), _number(args[1])
    if low is None or high is None or not low <= v < high:
        return None  # also for low >= high or a NaN: torch's validation names it
    return -math.log(high - low)


# A Categorical over one set of outcomes (probs or logits a 1-D CPU tensor without gradient) draws by inverse
# CDF in plain floats: torch's constructor and multinomial cost ~50 us a draw, and its log_prob ~30 us. A model
# passes the same probabilities tensor at every sample statement (``Categorical(torch.ones(3))`` made once),
# so each tensor's table is kept, under its identity and version (an in-place change makes a new table).
_CATEGORICAL_MAX = 64  # outcomes read as Python numbers; a longer Categorical draws through torch
_CATEGORICAL_TABLES = {}  # (id, version, is_logits) -> (the tensor, its table): at most _CATEGORICAL_KEEP
_CATEGORICAL_KEEP = 256


def _categorical_table(args, kwargs):
    """``(cumulative weights, log-probabilities)`` of a Categorical's outcomes as floats, or None where torch
    decides: a batch of Categoricals, a device tensor, a gradient, or values its validation rejects (a negative
    or NaN probability, all zero)."""
    if args:
        if len(args) != 1 or kwargs:
            return None
        given, logits = args[0], False
    elif len(kwargs) == 1 and ("probs" in kwargs or "logits" in kwargs):
        logits = "logits" in kwargs
        given = kwargs["logits"] if logits else kwargs["probs"]
    else:
        return None
    if type(given) is not torch.Tensor:
        return None
    # An inference-mode tensor keeps no version counter (it may change in place unseen): its table is not kept.
    key = None if given.is_inference() else (id(given), given._version, logits)
    kept = _CATEGORICAL_TABLES.get(key)
    if kept is not None and kept[0] is given:
        return kept[1]
    if (given.dim() != 1 or not 0 < given.shape[0] <= _CATEGORICAL_MAX or given.requires_grad
            or given.device.type != "cpu" or not given.is_floating_point()):
        return None
    values = given.tolist()
    if logits:
        top = max(values)
        if not -math.inf < top < math.inf or any(v != v for v in values):
            return None
        weights = [math.exp(v - top) for v in values]
        total = math.fsum(weights)
        log_probs = [v - top - math.log(total) for v in values]
    else:
        if not all(0.0 <= v < math.inf for v in values):
            return None
        total = math.fsum(values)
        if not total > 0:
            return None
        weights = values
        log_probs = [math.log(v / total) if v > 0 else -math.inf for v in values]
    table = (list(itertools.accumulate(weights)), log_probs)
    if key is not None:
        if len(_CATEGORICAL_TABLES) >= _CATEGORICAL_KEEP:
            _CATEGORICAL_TABLES.clear()
        _CATEGORICAL_TABLES[key] = (given, table)  # holding the tensor keeps its id from being reused meanwhile
    return table


def _categorical_draw(args, kwargs, generator):
    table = _categorical_table(args, kwargs)
    if table is None:
        return None
    cumulative = table[0]
    # A float64 uniform scaled to the total weight; the first outcome whose cumulative weight exceeds it. An
    # outcome of weight zero adds no interval, so it is never drawn.
    u = torch.rand((), dtype=torch.float64) if generator is None else \
        torch.rand((), dtype=torch.float64, generator=generator)
    total = cumulative[-1]
    i = bisect.bisect_right(cumulative, u.item() * total)
    if i == len(cumulative):  # u * total rounded up to the total: the last outcome of nonzero weight
        i = bisect.bisect_left(cumulative, total)
    return torch.scalar_tensor(i, dtype=torch.long)  # as torch's draw: a long scalar


def _categorical_score(args, kwargs, v):
    if v is None:
        return None
    table = _categorical_table(args, kwargs)
    if table is None or not 0 <= v < len(table[1]) or v != int(v):
        return None  # torch's log_prob raises the support error
    return table[1][int(v)]


_EMPTY = {}  # (dtype) -> the empty value every number-weighted factor shares (it holds no data)


def _unit_draw(args, kwargs, generator):  # draws nothing: the empty value of a factor
    if kwargs or len(args) != 1 or type(args[0]) not in _NUM:
        return None
    dtype = torch.get_default_dtype()
    empty = _EMPTY.get(dtype)
    if empty is None:
        empty = _EMPTY[dtype] = torch.empty((0,), dtype=dtype)
    return empty


def _unit_score(args, kwargs, v):
    if kwargs or len(args) != 1:
        return None
    log_factor = _number(args[0])
    if log_factor is None or log_factor != log_factor:
        return None  # a NaN factor scores NaN through torch; inference names it (infer/sites.nan_score_error)
    return float(log_factor)


FAST = {Normal: (_normal_draw, _normal_score), Bernoulli: (_bernoulli_draw, _bernoulli_score),
        Uniform: (_uniform_draw, _uniform_score), Categorical: (_categorical_draw, _categorical_score),
        Unit: (_unit_draw, _unit_score),
        **{cls: (family.fast_draw, family.fast_score) for cls, family in _MORE.items()}}
FAST_DRAW = {family: fns[0] for family, fns in FAST.items()}  # the samplers alone: one lookup less per draw


def _one_number(x):
    return type(x) in _NUM or (type(x) is torch.Tensor and x.dim() == 0)


_CHECKS = {Normal: _check_normal, Bernoulli: _check_bernoulli, Uniform: _check_uniform,
           **{cls: family.check for cls, family in _MORE.items()}}


def check_params(d):
    """Validate ``d``'s parameters now (an observed site never draws, so it is not checked on the way);
    return whether they are all numbers or 0-dim tensors (then ``d`` broadcasts against any observation).

    Such parameters of the fast families are checked in plain floats; any other deferred distribution is
    constructed, which runs torch's own validation.
    """
    deferred = d.__dict__.get("_deferred")
    if deferred is None:
        return False  # already constructed: torch validated it then
    args, kwargs = deferred
    if kwargs and type(d) in _MORE:  # parameters by keyword (Binomial(total_count=10, probs=p)), put in order
        ordered = _MORE[type(d)].ordered(args, kwargs)
        if ordered is not None:
            args, kwargs = ordered, {}
    check = None if kwargs else _CHECKS.get(type(d))
    if check is not None:  # the common case (an observation under Normal(mu, 1.0)), in one pass over the args
        numbers = []
        for a in args:
            if type(a) in _NUM:
                numbers.append(a)
            elif type(a) is torch.Tensor and a.dim() == 0 and not a.requires_grad:
                numbers.append(a.item())
            else:
                break
        else:
            try:
                check(*numbers)
                return True
            except TypeError:
                pass  # wrong arity: the constructor below says so
    scalar = all(_one_number(a) for a in args) and all(_one_number(v) for v in kwargs.values())
    d.batch_shape  # noqa: B018  (constructs it)
    return scalar


_ONE = (None,)


def draw_from(d):
    """A draw from a distribution object: the fast scalar path if it applies, else torch's.

    It draws from the thread's own generator if it has one (``settings.drawing_from``), else from
    torch's default generator: a fast family's one-call draw without a lock while no thread borrows the
    default generator, anything else holding ``rng.default_generator_lock`` (see ``rng.py`` for why
    that is race-free).
    """
    fast = FAST_DRAW.get(type(d))
    if fast is not None:
        deferred = d.__dict__.get("_deferred")
        if deferred is not None:
            args, kwargs = deferred  # unpacked here: fast(*deferred, generator) would build a new tuple
            generator = settings.generator
            if generator is not None:
                value = fast(args, kwargs, generator)
            else:
                # The announcement is list syntax, not .append()/.pop() calls: the same single C-level
                # operations, which the profile hook of a traced nested model (trace_messenger) does not see.
                announced = drawing
                try:
                    announced += _ONE
                    free = not borrowers
                    if free:
                        value = fast(args, kwargs, None)
                finally:
                    del announced[-1]
                if not free:
                    with default_generator_lock:
                        value = fast(args, kwargs, None)
            if value is not None:
                return value
    generator = settings.generator
    if generator is not None:
        with borrowed_default(generator):
            value = d.rsample() if d.has_rsample else d.sample()
    else:
        with default_generator_lock:
            value = d.rsample() if d.has_rsample else d.sample()
    if settings.validate and not _trusted(type(d)) and not is_object_valued(d):
        _check_user_sample(d, value)
    return value


_TRUSTED = {}  # distribution class -> bool: torch's and ours draw values of their declared shape; a user's may not


def _trusted(cls):
    trusted = _TRUSTED.get(cls)
    if trusted is None:
        trusted = _TRUSTED[cls] = cls.__module__.startswith(("torch.", "ppl_kernel."))
    return trusted


def is_object_valued(d):
    """Whether ``d``'s values may be any Python object rather than tensors: a distribution that says so
    (``object_valued``, as ``Choice`` over strings), or a user's class that declares no ``support``, such as
    the marginal over a model's return values in Pyro's RSA tutorials. Such values are drawn and observed
    as given, as Pyro does; a class that declares a support promises tensors and is checked."""
    cls = type(d)
    known = _OBJECT_VALUED.get(cls)  # the class decides, unless it lets each instance say (object_valued)
    if known is not None:
        return known
    if hasattr(cls, "object_valued"):
        return bool(d.object_valued)
    known = _OBJECT_VALUED[cls] = not _trusted(cls) and cls.support is torch.distributions.Distribution.support
    return known


_OBJECT_VALUED = {}  # distribution class without an object_valued attribute -> is_object_valued of its instances


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


def fast_log_prob(fn, value):
    """The fast scalar path's log density as a Python float, or None where it does not apply."""
    fast = FAST.get(type(fn))
    if fast is None or type(value) is not torch.Tensor or value.requires_grad:
        return None
    deferred = fn.__dict__.get("_deferred")
    if deferred is None:
        return None
    if value.dim() == 0:
        return fast[1](*deferred, value.item())
    if value.dim() == 1 and not value.shape[0]:  # the empty value of a factor
        return fast[1](*deferred, None)
    return None


def score_dtype(fn, value):
    """The dtype torch's ``log_prob`` gives for ``value`` under ``fn``: the value's, when it is a float (a
    Normal's draw); else the floating parameters' (a Categorical's index scores in its probabilities' dtype)."""
    if value.is_floating_point():
        return value.dtype
    deferred = fn.__dict__.get("_deferred")
    for param in (*deferred[0], *deferred[1].values()) if deferred is not None else ():
        if type(param) is torch.Tensor and param.is_floating_point():
            return param.dtype
    return torch.get_default_dtype()
