"""Distribution classes that defer torch's constructor until first use.

``torch.distributions.Normal(55.0, 10.0)`` costs tens of microseconds (broadcasting and argument
validation), more than drawing from it. A model builds a fresh distribution at every ``sample``,
so we record the constructor arguments and run torch's ``__init__`` only when an attribute is
first needed. ``sample`` reads the recorded arguments directly for scalar parameters
(``scoring.py``), and a parameter error surfaces inside ``sample`` where it can name the site.
The math is torch's: every method is inherited unchanged.
"""

import torch
import torch.distributions as td
from torch.distributions.utils import lazy_property

from ..settings import settings


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


def deferred_class(torch_class):
    """The deferred-construction subclass of a torch distribution class, under the same name (one per class)."""
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
