"""The language: ``sample``, ``observe``, ``param``, ``factor``, ``deterministic``, ``plate``.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> pyro.set_rng_seed(0)
>>> def coin():
...     return pyro.sample("heads", dist.Bernoulli(0.5))
>>> coin().item() in (0.0, 1.0)
True
"""

import contextlib
import inspect
import math
import numbers

import torch
from torch.distributions import Distribution

from . import rng
from .distributions.callables import Primitive
from .distributions.point import Delta, Unit
from .errors import ObservationError, SiteTypeError
from .runtime import Messenger, Site, _local, apply_stack, draw_error, get_stack, run_scope, settings
from .distributions.scoring import check_params, draw_from, is_object_valued


def _as_distribution(name, fn, args, kwargs):
    """Turn the ``fn, *args`` of a sample statement into a distribution object (cheaply)."""
    if isinstance(fn, torch.distributions.Distribution):
        if args or kwargs:
            raise SiteTypeError(
                f"site '{name}': got a distribution object {fn!r} and also arguments {args or kwargs}; "
                f"write sample('{name}', dist.Normal(mu, sigma)) or sample('{name}', dist.normal, mu, sigma)."
            )
        return fn
    if isinstance(fn, Primitive) or (isinstance(fn, type) and issubclass(fn, torch.distributions.Distribution)):
        cls = fn.dist_class if isinstance(fn, Primitive) else fn
        try:
            return cls(*args, **kwargs)
        except TypeError as e:
            raise SiteTypeError(f"site '{name}': wrong arguments for {getattr(fn, '__name__', fn)}: {e}") from None
    return None


def sample(name, fn, *args, obs=None, obs_mask=None, infer=None, **kwargs):
    """A named random choice: ``sample("x", dist.Normal(0, 1))`` or, seed style, ``sample("x", dist.normal, 0, 1)``.

    ``fn`` is a distribution object, a callable primitive with its parameters, or any stochastic
    function (called with ``*args``; its own sites are recorded). With ``obs`` the site is observed:
    its value is ``obs`` and it scores the data.

    ``obs_mask`` (a boolean tensor) observes ``obs`` only where it is True and draws the rest, as Pyro: the
    sites ``<name>_observed`` and ``<name>_unobserved`` and the merged value as deterministic ``<name>``.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.5)).item()
    0.5
    """
    if obs_mask is not None:
        return _partially_observed(name, fn, args, kwargs, obs, obs_mask, infer)
    if type(name) is not str:
        if isinstance(name, str):  # a str subclass (an enum's value, a tagged name): the plain string it holds
            return sample(str.__str__(name), fn, *args, obs=obs, infer=infer, **kwargs)
        raise SiteTypeError(f"sample(name, fn, ...): the name must be a string, got {name!r} "
                            f"(did you forget the name? write sample('x', {getattr(name, '__name__', 'dist')}, ...))")
    if isinstance(fn, Distribution) and not args and not kwargs:
        d = fn  # the common case, checked first
    else:
        d = _as_distribution(name, fn, args, kwargs)
    if d is None and hasattr(type(fn), "site_distribution"):
        # An inference result used as a distribution (Marginal): one site, scored by the inner marginal.
        d = fn.site_distribution(*args, **kwargs)
    if d is None:
        if not callable(fn):
            raise SiteTypeError(
                f"site '{name}': fn must be a distribution (dist.Normal(0, 1)), a primitive (dist.normal) "
                f"or a stochastic function, got {type(fn).__name__} {fn!r}."
            )
        try:  # an arbitrary stochastic function: its own sample statements are the sites
            return fn(*args, **kwargs)
        except TypeError as e:
            if _arguments_fit(fn, args, kwargs):
                raise
            raise SiteTypeError(f"site '{name}': {getattr(fn, '__name__', fn)} does not take these arguments: {e}") from None
    if obs is not None:
        obs = _check_obs(name, d, obs)
    stack = _local.stack
    if not stack:
        if obs is not None:
            return obs
        try:
            return draw_from(d)
        except (ValueError, TypeError) as e:
            raise draw_error(Site("sample", name, d, (), {}), e) from None
    if _local.mem_suffix is not None:  # inside a memoized call (one thread-local read when not)
        name = _memoized_name(name)
    msg = Site("sample", name, d, args, kwargs, obs, obs is not None, infer)
    apply_stack(msg, stack)
    return msg.value


def _memoized_name(name):
    """A site's name inside a memoized call: ``"s(a, b)"`` for site ``s`` in a call with arguments ``(a, b)`` (the
    innermost memoized call's, which memoize.py sets in ``_local.mem_suffix``)."""
    return f"{name}({_local.mem_suffix})"


def _partially_observed(name, fn, args, kwargs, obs, obs_mask, infer):
    if not (torch.is_tensor(obs_mask) and obs_mask.dtype == torch.bool):
        raise SiteTypeError(f"site '{name}': obs_mask must be a boolean tensor (True where obs is observed), got "
                            f"{type(obs_mask).__name__}; e.g. obs_mask=~torch.isnan(data).")
    if obs is None:
        raise ObservationError(f"site '{name}': obs_mask was given without obs; pass the data as obs= (any value "
                               "where the mask is False).")
    d = fn if isinstance(fn, Distribution) and not args and not kwargs else _as_distribution(name, fn, args, kwargs)
    if d is None:
        raise SiteTypeError(f"site '{name}': obs_mask needs a distribution, got {type(fn).__name__} {fn!r}.")
    event_dim = len(d.event_shape)
    observed = sample(f"{name}_observed", d.mask(obs_mask), obs=obs, infer=infer)
    unobserved = sample(f"{name}_unobserved", d.mask(~obs_mask), infer=infer)
    value = torch.where(obs_mask.reshape(obs_mask.shape + (1,) * event_dim), observed, unobserved)
    return deterministic(name, value, event_dim=event_dim)


def _arguments_fit(fn, args, kwargs):
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin)
        return True
    return True


def _check_obs(name, d, obs):
    if is_object_valued(d):  # values are Python objects (Choice, a marginal, a user's class with no support)
        return obs  # as given, as Pyro: converting 10000 to tensor(10000.) would no longer match the object
    if type(obs) is torch.Tensor:
        value = obs
    elif isinstance(obs, (bool, numbers.Real)):
        value = torch.tensor(float(obs), dtype=torch.get_default_dtype())
    elif isinstance(obs, (list, tuple)):
        try:
            value = torch.tensor(obs, dtype=torch.get_default_dtype())
        except (TypeError, ValueError) as e:
            raise ObservationError(f"site '{name}': obs={obs!r} cannot become a tensor ({e}).") from None
    elif isinstance(obs, torch.Tensor):
        value = obs
    else:
        kind = "complex number" if isinstance(obs, complex) else type(obs).__name__
        raise ObservationError(
            f"site '{name}': obs must be a real tensor, a real number or a list of them, got {kind} "
            f"{obs!r}. Convert it, e.g. obs=torch.tensor(...)."
        )
    if not settings.validate:
        return value
    if value.is_complex():
        raise ObservationError(
            f"site '{name}': obs={_short(value)} is complex; distributions score real values. Pass the real part "
            "(obs.real), the magnitude (obs.abs()) or both as separate sites."
        )
    try:  # an observed site draws nothing, so its parameters would otherwise never be checked
        scalar_params = check_params(d)
    except (ValueError, TypeError) as e:
        raise draw_error(Site("sample", name, d, (), {}, value, True), e) from None
    if not scalar_params:
        # A distribution with scalar parameters broadcasts against any observation: nothing to check.
        try:
            torch.broadcast_shapes(value.shape, d.batch_shape + d.event_shape)
        except RuntimeError:
            raise ObservationError(
                f"site '{name}': obs has shape {tuple(value.shape)}, which does not broadcast with the "
                f"distribution's shape {tuple(d.batch_shape + d.event_shape)} (batch {tuple(d.batch_shape)}, "
                f"event {tuple(d.event_shape)}). Reshape the data, or wrap the site in a plate of its size."
            ) from None
    return value


def _short(value):
    return repr(value.item()) if value.numel() == 1 else f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"


def observe(name, fn, obs, *args, **kwargs):
    """The 0.1-era spelling of ``sample(name, fn, *args, obs=obs)``.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
    >>> pyro.observe("y", dist.normal, torch.tensor(2.0), torch.tensor(0.0), torch.tensor(1.0)).item()
    2.0
    """
    return sample(name, fn, *args, obs=obs, **kwargs)


def factor(name, log_factor, has_rsample=None):
    """Add ``log_factor`` to the log-probability of the run (``-inf`` rejects it): a soft or hard condition.

    ``has_rsample`` is Pyro's hint for its ELBOs and is accepted for Pyro code: here the ELBO
    differentiates a factor that depends on reparameterised values through autograd either way.

    >>> import ppl_kernel as pyro
    >>> from ppl_kernel import poutine
    >>> tr = poutine.trace(lambda: pyro.factor("f", -2.0)).get_trace()
    >>> tr.log_prob_sum().item()
    -2.0
    """
    if type(name) is not str:
        if not isinstance(name, str):
            raise SiteTypeError(f"factor(name, log_factor): the name must be a string, got {name!r}")
        name = str.__str__(name)  # a str subclass: the plain string it holds, as sample does
    unit = Unit(log_factor)
    value = draw_from(unit)  # the empty value (no data to check against the distribution, unlike obs=)
    stack = _local.stack
    if not stack:
        return value
    if _local.mem_suffix is not None:
        name = _memoized_name(name)
    msg = Site("sample", name, unit, (), {}, value, True, {"is_auxiliary": True})
    apply_stack(msg, stack)
    return msg.value


def require(condition, name=None):
    """A hard condition (WebPPL's ``condition``): runs where ``condition`` is false have probability zero.

    ``condition`` is a bool or a boolean tensor (elementwise in a vectorized run). It is a ``factor``
    of 0 or -inf, named ``name`` or ``"require_1"``, ``"require_2"``, ... in the order of the run.
    (Pyro's ``condition`` is the handler that fixes site values; this is the statement.)

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import infer
    >>> def two_coins():
    ...     a = pyro.sample("a", dist.Bernoulli(0.5))
    ...     b = pyro.sample("b", dist.Bernoulli(0.5))
    ...     pyro.require(a + b >= 1)
    ...     return int(a)
    >>> round(infer(two_coins, method="enumerate").probability(1), 4)
    0.6667
    """
    if not get_stack():
        return  # no inference is running: nothing to condition
    if name is None:
        scope = run_scope()
        count = scope["require"] = scope.get("require", 0) + 1
        name = f"require_{count}"
    if isinstance(condition, torch.Tensor) and condition.numel() > 1:
        zero = torch.zeros((), dtype=torch.get_default_dtype(), device=condition.device)
        log_factor = torch.where(condition.bool(), zero, zero - math.inf)
    else:
        log_factor = 0.0 if bool(condition) else -math.inf
    factor(name, log_factor)


def deterministic(name, value, event_dim=None):
    """Record a computed value in the trace under ``name`` (it adds nothing to the log-probability).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     return pyro.deterministic("twice", 2 * x)
    >>> tr = poutine.trace(model).get_trace()
    >>> bool(tr["twice"].value == 2 * tr["x"].value), tr["twice"].kind
    (True, 'deterministic')
    """
    value = value if torch.is_tensor(value) else torch.as_tensor(value)
    event_dim = value.dim() if event_dim is None else event_dim
    stack = get_stack()
    if not stack:
        return value
    if _local.mem_suffix is not None:
        name = _memoized_name(name)
    msg = Site("sample", name, Delta(value, event_dim=event_dim), (), {}, value, True, {"_deterministic": True})
    msg.mask = False
    apply_stack(msg, stack)
    return msg.value


def param(name, init_tensor=None, constraint=None, event_dim=None):
    """A learnable tensor from the parameter store, created from ``init_tensor`` on first use.

    >>> import ppl_kernel as pyro, torch
    >>> pyro.clear_param_store()
    >>> pyro.param("a", torch.tensor(1.5)).item()
    1.5
    """
    from .params import get_param_store

    store = get_param_store()
    stack = get_stack()
    if not stack:
        return store.get(name, init_tensor, constraint, event_dim)
    msg = Site("param", name, store.get, (name, init_tensor, constraint, event_dim), {})
    apply_stack(msg, stack)
    return msg.value


def set_rng_seed(seed):
    """Seed torch, Python's ``random`` and (if loaded) NumPy, so that runs repeat exactly.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.set_rng_seed(3); a = pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> pyro.set_rng_seed(3); b = pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> bool(a == b)
    True
    """
    rng.seed_all(rng.check_seed(seed, "set_rng_seed(seed)"))


def enable_validation(is_validate=True):
    """Switch parameter and observation checks on (default) or off (a little faster).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.enable_validation(False)
    >>> pyro.enable_validation(True)
    >>> try:
    ...     pyro.sample("x", dist.Normal(0.0, -1.0))
    ... except pyro.InvalidParameterError as e:
    ...     print(type(e).__name__)
    InvalidParameterError
    """
    type(settings).validate = bool(is_validate)
    torch.distributions.Distribution.set_default_validate_args(bool(is_validate))


@contextlib.contextmanager
def validation_enabled(is_validate=True):
    """Switch validation on (or off) inside a ``with`` block, and back to what it was after (Pyro's).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> with pyro.validation_enabled(False):
    ...     bool(dist.Beta(2.0, 2.0).log_prob(torch.tensor(1.5)).isnan())  # outside the support: not checked
    True
    >>> try:
    ...     dist.Beta(2.0, 2.0).log_prob(torch.tensor(1.5))
    ... except ValueError:
    ...     print("checked again")
    checked again
    """
    previous, previous_torch = settings.validate, torch.distributions.Distribution._validate_args
    enable_validation(is_validate)
    try:
        yield
    finally:
        type(settings).validate = previous
        torch.distributions.Distribution.set_default_validate_args(previous_torch)


def set_max_sites(n):
    """The most sites one traced run may make before it is stopped as a runaway (default 100,000).

    >>> import ppl_kernel as pyro
    >>> pyro.set_max_sites(1_000_000)
    >>> pyro.set_max_sites(100_000)
    """
    type(settings).max_sites = int(n)


class CondIndepStackFrame(tuple):
    """One plate a site sits in: ``(name, dim, size, counter)``; ``dim`` is None for a sequential plate."""

    __slots__ = ()

    def __new__(cls, name, dim, size, counter=0):
        return tuple.__new__(cls, (name, dim, size, counter))

    name = property(lambda self: self[0])
    dim = property(lambda self: self[1])
    size = property(lambda self: self[2])
    counter = property(lambda self: self[3])

    @property
    def vectorized(self):
        return self[1] is not None


class plate(Messenger):
    """Conditionally independent data, as in Pyro: vectorized (``with plate(...)``) or sequential (``for``).

    Inside ``with plate("data", N):`` each sample site's distribution is broadcast to size ``N`` at
    dimension ``dim`` (allocated right to left), and a ``subsample_size`` scales the log-probability
    by ``N / subsample_size``.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
    >>> with pyro.plate("data", 3):
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> x.shape
    torch.Size([3])
    """

    def __init__(self, name, size=None, subsample_size=None, subsample=None, dim=None, use_cuda=None, device=None):
        super().__init__()
        if size is None:
            if subsample is None:
                raise ValueError(f"plate '{name}': give its size, e.g. plate('{name}', len(data))")
            size = len(subsample)
        self.name = name
        self.size = int(size)
        self.subsample_size = self.size if subsample_size is None else int(subsample_size)
        if subsample is None and self.subsample_size < self.size:
            subsample = _draw_subsample(name, self.size, self.subsample_size, device)
        self._subsample = subsample
        self.dim = dim
        self.device = device
        self._allocated_dim = None
        self._counter = 0

    @property
    def indices(self):
        if self._subsample is not None:
            return self._subsample
        return torch.arange(self.size, device=self.device)

    def _allocate(self):
        used = {p._allocated_dim for p in get_stack() if isinstance(p, plate) and p._allocated_dim is not None}
        if self.dim is not None:
            if self.dim >= 0:
                raise ValueError(f"plate '{self.name}': dim must be negative (counted from the right), got {self.dim}")
            if self.dim in used:
                raise ValueError(f"plate '{self.name}': dim {self.dim} is already used by an enclosing plate")
            return self.dim
        dim = -1
        while dim in used:
            dim -= 1
        return dim

    def __enter__(self):
        self._allocated_dim = self._allocate()
        self._indices = self.indices
        super().__enter__()
        return self._indices

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self._allocated_dim = None

    def __iter__(self):
        for i in self.indices.tolist():
            with _SequentialFrame(self, i):
                yield i

    def __len__(self):
        return self.subsample_size

    def process_message(self, msg):
        if msg.type not in ("sample", "param") or self._allocated_dim is None:
            return
        dim = self._allocated_dim
        msg.cond_indep_stack = (CondIndepStackFrame(self.name, dim, self.subsample_size),) + msg.cond_indep_stack
        if msg.type != "sample":
            return
        if self.subsample_size < self.size:
            msg.scale = msg.scale * (self.size / self.subsample_size)
        fn = msg.fn
        batch_shape = list(fn.batch_shape)
        if len(batch_shape) < -dim:
            batch_shape = [1] * (-dim - len(batch_shape)) + batch_shape
        if batch_shape[dim] not in (1, self.subsample_size):
            raise ValueError(
                f"site '{msg.name}' inside plate '{self.name}' (size {self.subsample_size}, dim {dim}): the "
                f"distribution's batch shape {tuple(fn.batch_shape)} has size {batch_shape[dim]} at that dim. "
                "Make the parameters match the plate size or broadcast (size 1) there."
            )
        batch_shape[dim] = self.subsample_size
        if tuple(batch_shape) != tuple(fn.batch_shape):
            msg.fn = fn.expand(torch.Size(batch_shape))

    def postprocess_message(self, msg):
        # pyro.param(name, ..., event_dim=k) inside the plate has one entry per datum at the plate's dim
        # (left of its k event dims): a subsampled plate hands out its minibatch's rows, as Pyro's does.
        if msg.type != "param" or self._allocated_dim is None:
            return
        event_dim = msg.args[3]
        if event_dim is None:
            return
        dim = self._allocated_dim - event_dim
        value = msg.value
        shape = value.shape
        if len(shape) < -dim or shape[dim] == 1:
            return
        if shape[dim] != self.size:
            raise ValueError(
                f"param '{msg.name}' inside plate '{self.name}' (size {self.size}, dim {self._allocated_dim}) has "
                f"shape {tuple(shape)}: with event_dim={event_dim} its size at dim {dim} must be the plate's full "
                f"size {self.size} (or 1 to broadcast). Give the parameter one entry per datum, e.g. "
                f"torch.zeros({self.size}), or fix event_dim."
            )
        if self.subsample_size < self.size:
            msg.value = value.index_select(dim, self._indices)


def _random_minibatch(size, subsample_size, device=None):
    return torch.randperm(size, device=device)[:subsample_size]


def _draw_subsample(name, size, subsample_size, device):
    """A plate's random minibatch, drawn once when the plate is made, as a site of type ``"subsample"``
    named after the plate: ``trace`` records it and ``replay`` reuses it, so that a model replayed
    against its guide (SVI) scores the very data the guide's minibatch chose, as in Pyro."""
    stack = get_stack()
    if not stack:
        return _random_minibatch(size, subsample_size, device)
    msg = Site("subsample", name, _random_minibatch, (size, subsample_size, device), {})
    apply_stack(msg, stack)
    return msg.value


class _SequentialFrame(Messenger):
    """One iteration of a sequential ``for i in plate(...)``: marks sites, broadcasts nothing."""

    def __init__(self, owner, index):
        super().__init__()
        self.frame = CondIndepStackFrame(owner.name, None, owner.subsample_size, index)
        self.scale = owner.size / owner.subsample_size

    def process_message(self, msg):
        if msg.type == "sample":
            msg.cond_indep_stack = (self.frame,) + msg.cond_indep_stack
            if self.scale != 1.0:
                msg.scale = msg.scale * self.scale


@contextlib.contextmanager
def plate_stack(prefix, sizes, rightmost_dim=-1):
    """Nested plates named ``prefix_0``, ``prefix_1``, ... for a batch of shape ``sizes``: the last size at
    ``rightmost_dim``, the others to its left (Pyro's helper).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> with pyro.plate_stack("batch", (2, 3)):
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> x.shape
    torch.Size([2, 3])
    """
    with contextlib.ExitStack() as stack:
        for i, size in enumerate(reversed(sizes)):
            stack.enter_context(plate(f"{prefix}_{i}", size, dim=rightmost_dim - i))
        yield


# Older Pyro names for plates.
iarange = plate


def irange(name, size, subsample_size=None, subsample=None, use_cuda=None):
    """Pyro 0.1's sequential plate: ``for i in pyro.irange("data", len(data)):``. ``use_cuda`` is accepted for
    old code and ignored: a plate's indices follow the ``device`` of ``plate``.

    >>> import ppl_kernel as pyro
    >>> [i for i in pyro.irange("data", 3)]
    [0, 1, 2]
    """
    return plate(name, size, subsample_size, subsample)
