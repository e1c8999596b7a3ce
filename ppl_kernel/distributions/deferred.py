"""Distribution classes that defer torch's constructor until first use.

``torch.distributions.Normal(55.0, 10.0)`` costs tens of microseconds (broadcasting and argument
validation), more than drawing from it. A model builds a fresh distribution at every ``sample``,
so we record the constructor arguments and run torch's ``__init__`` only when an attribute is
first needed. ``sample`` reads the recorded arguments directly for scalar parameters
(``scoring.py``), and a parameter error surfaces inside ``sample`` where it can name the site.
The math is torch's: every method is inherited unchanged, except Bernoulli's and Categorical's draws
(``bernoulli.py``, ``categorical.py``) and Normal's log density (``normal.py``): fewer passes over a batch,
the same distribution and density; and the draws of the families whose own samplers vmap refuses
(``batchable.py``: Gamma, Beta, Dirichlet, Exponential, Cauchy, ...), made in ways it can batch.
"""

import torch
import torch.distributions as td
from torch.distributions.utils import lazy_property

from ..settings import settings
from . import batchable, bernoulli, categorical, normal


def _coerce(value):
    # The seed's users pass Python lists ([55.0]); torch wants tensors.
    if isinstance(value, (list, tuple)):
        return torch.tensor(value, dtype=torch.get_default_dtype())
    return value


class TorchDistributionMixin:
    """Pyro's conveniences on every distribution: ``to_event``, ``expand_by``, calling samples."""

    def __call__(self, sample_shape=torch.Size()):
        return self.rsample(sample_shape) if self.has_rsample else self.sample(sample_shape)

    def to_event(self, reinterpreted_batch_ndims=None):
        if reinterpreted_batch_ndims is None:
            reinterpreted_batch_ndims = len(self.batch_shape)
        if reinterpreted_batch_ndims == 0:
            return self
        return Independent(self, reinterpreted_batch_ndims)

    def expand_by(self, sample_shape):
        return self.expand(torch.Size(sample_shape) + self.batch_shape)

    def mask(self, mask):
        """This distribution with its log-density zeroed where ``mask`` is False (a bool or a boolean tensor
        broadcasting with the batch shape); draws are unchanged (Pyro's ``Distribution.mask``).

        >>> import torch, ppl_kernel.distributions as dist
        >>> dist.Normal(torch.zeros(2), 1.0).mask(torch.tensor([True, False])).log_prob(torch.zeros(2)).tolist()[1]
        0.0
        """
        if not isinstance(mask, bool) and not (torch.is_tensor(mask) and mask.dtype == torch.bool):
            raise TypeError(f"{type(self).__name__}.mask(mask): mask must be a bool or a boolean tensor, got "
                            f"{type(mask).__name__}; write .mask(x > 0) or .mask(False).")
        return MaskedDistribution(self, mask)


class Deferred(TorchDistributionMixin):
    """Mixin: keep the constructor arguments; run the torch constructor on first attribute use."""

    def __init__(self, *args, **kwargs):
        self._deferred = (args, kwargs)

    def __getattr__(self, name):
        # Only called for attributes not found normally, i.e. before materialization.
        deferred = self.__dict__.pop("_deferred", None)
        if deferred is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        try:
            self.materialize(deferred)
        except BaseException:
            self._deferred = deferred  # kept, so that the error can name the offending parameter
            raise
        return getattr(self, name)

    def materialize(self, deferred):
        args, kwargs = deferred
        kwargs = {k: _coerce(v) for k, v in kwargs.items()}
        if not settings.validate and "validate_args" not in kwargs:
            kwargs["validate_args"] = False  # this thread suspended validation (see runtime.validation_suspended)
        self._torch_class.__init__(self, *[_coerce(a) for a in args], **kwargs)

    def expand(self, batch_shape, _instance=None):
        # torch's expand copies the parameters it finds in the instance's __dict__ (Bernoulli: probs or
        # logits): a deferred instance has none there yet, so it is materialized first.
        deferred = self.__dict__.pop("_deferred", None)
        if deferred is not None:
            self.materialize(deferred)
        if _instance is None:
            _instance = type(self).__new__(type(self))
        return self._torch_class.expand(self, batch_shape, _instance)

    def __repr__(self):
        if "_deferred" in self.__dict__:
            args, kwargs = self._deferred
            parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            return f"{type(self).__name__}({', '.join(parts)})"
        return super().__repr__()


_CLASSES = {}

# torch families with a method of our own (Bernoulli's and Categorical's draws, the draws of batchable.py's
# families, Normal's log density; the module of each says why): the deferred class of the torch family is built on ours, so that the whole library uses them.
_OURS = {td.Bernoulli: bernoulli.Bernoulli, td.Categorical: categorical.Categorical, td.Normal: normal.Normal,
         **batchable.FAMILIES}


def deferred_class(torch_class):
    """The deferred-construction subclass of a torch distribution class, under the same name (one per class)."""
    torch_class = _OURS.get(torch_class, torch_class)
    cls = _CLASSES.get(torch_class)
    if cls is None:
        cls = _CLASSES[torch_class] = _make_deferred(torch_class)
    return cls


class _MaterializeFirst:
    """Wraps torch's ``lazy_property`` (``probs``/``logits``): these are found on the class, so
    ``__getattr__`` never sees them; they must materialize the instance before computing."""

    def __init__(self, name, inner):
        self.name, self.inner = name, inner

    def __get__(self, obj, cls=None):
        if obj is None:
            return self.inner
        deferred = obj.__dict__.pop("_deferred", None)
        if deferred is not None:
            obj.materialize(deferred)
            if self.name in obj.__dict__:
                return obj.__dict__[self.name]
        return self.inner.__get__(obj, cls)


def _make_deferred(torch_class):
    if torch_class.__module__.startswith("torch."):
        doc = (f"torch.distributions.{torch_class.__name__}, constructed on first use (see torch's documentation "
               f"for its parameters and methods).")
    else:  # one of ours (point.py): its own documentation
        doc = torch_class.__doc__
    namespace = {"_torch_class": torch_class, "__doc__": doc, "__module__": "ppl_kernel.distributions"}
    for klass in torch_class.__mro__:
        for name, attr in vars(klass).items():
            if isinstance(attr, lazy_property) and name not in namespace:
                namespace[name] = _MaterializeFirst(name, attr)
    return type(torch_class.__name__, (Deferred, torch_class), namespace)


class Independent(TorchDistributionMixin, td.Independent):
    """torch.distributions.Independent with Pyro's conveniences (``to_event``, ``expand_by``)."""

    def expand(self, batch_shape, _instance=None):
        if _instance is None:
            _instance = type(self).__new__(type(self))
        return td.Independent.expand(self, batch_shape, _instance)


class MaskedDistribution(TorchDistributionMixin, td.Distribution):
    """``base`` with its log-density multiplied out where ``mask`` is False (made by ``Distribution.mask``)."""

    arg_constraints = {}  # noqa: RUF012  (torch's class attribute: the base validated its own)

    def __init__(self, base, mask):
        if torch.is_tensor(mask):
            batch_shape = torch.broadcast_shapes(mask.shape, base.batch_shape)
            if base.batch_shape != batch_shape:
                base = base.expand(batch_shape)
        else:
            batch_shape = base.batch_shape
        self.base_dist, self._mask = base, mask
        super().__init__(batch_shape, base.event_shape, validate_args=False)

    has_rsample = property(lambda self: self.base_dist.has_rsample)
    has_enumerate_support = property(lambda self: self.base_dist.has_enumerate_support)
    support = property(lambda self: self.base_dist.support)

    def expand(self, batch_shape, _instance=None):
        batch_shape = torch.Size(batch_shape)
        mask = self._mask.expand(batch_shape) if torch.is_tensor(self._mask) else self._mask
        return MaskedDistribution(self.base_dist.expand(batch_shape), mask)

    def sample(self, sample_shape=torch.Size()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=torch.Size()):
        return self.base_dist.rsample(sample_shape)

    def enumerate_support(self, expand=True):
        return self.base_dist.enumerate_support(expand)

    def log_prob(self, value):
        if self._mask is False:
            shape = torch.broadcast_shapes(value.shape[:value.dim() - len(self.event_shape)], self.batch_shape)
            return torch.zeros(shape, dtype=value.dtype, device=value.device)
        log_prob = self.base_dist.log_prob(value)
        if self._mask is True:
            return log_prob
        return torch.where(self._mask, log_prob, log_prob.new_zeros(()))

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance
