"""``PyroModule``: a ``torch.nn.Module`` whose attributes can be random (``PyroSample``) or learnable
with constraints (``PyroParam``), with Pyro's semantics.

Every attribute has a *full name*, the dotted path from the outermost PyroModule (``linear.weight``),
which names its sample site or its entry in the parameter store. Inside one call of the outermost
module (its ``__call__``, or a method decorated with :func:`pyro_method`) an attribute's sample is
drawn once and reused, so ``self.linear.weight`` read twice is one site. A module's ordinary
``nn.Parameter`` s and its ``PyroParam`` s are the store's very tensors (the store *adopts* them), so
SVI's optimizer trains the module and ``pyro.get_param_store()`` lists them under their full names.
"""

import functools
from typing import NamedTuple

import torch
from torch.distributions import constraints, transform_to

from ..params import get_param_store
from ..primitives import deterministic, param, sample


class PyroParam(NamedTuple):
    """A learnable attribute: ``module.scale = PyroParam(torch.tensor(1.0), constraints.positive)``."""

    init_value: object = None
    constraint: constraints.Constraint = constraints.real
    event_dim: int = None


class PyroSample(NamedTuple):
    """A random attribute: ``module.weight = PyroSample(dist.Normal(0., 1.).expand([2]).to_event(1))``,
    or a function of the module (``PyroSample(lambda self: dist.Normal(self.loc, 1.))``)."""

    prior: object


def _make_name(prefix, name):
    return f"{prefix}.{name}" if prefix else name


class _Context:
    """The per-call cache of sampled attributes, shared by a module and all its PyroModule children."""

    def __init__(self):
        self.depth = 0
        self.cache = {}

    @property
    def active(self):
        return self.depth > 0

    def __enter__(self):
        if self.depth == 0:
            self.cache = {}
        self.depth += 1

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            self.cache = {}


class _PyroModuleMeta(type(torch.nn.Module)):
    _mixins = {}

    def __getitem__(cls, Module):
        """``PyroModule[nn.Linear]``: the torch module class with PyroModule's attribute semantics."""
        if not (isinstance(Module, type) and issubclass(Module, torch.nn.Module)):
            raise TypeError(f"PyroModule[...] takes a torch.nn.Module subclass, got {Module!r}")
        if issubclass(Module, PyroModule):
            return Module
        if Module is torch.nn.Module:
            return PyroModule
        mixin = _PyroModuleMeta._mixins.get(Module)
        if mixin is None:
            bases = tuple(PyroModule[b] for b in Module.__bases__ if issubclass(b, torch.nn.Module))
            mixin = type("Pyro" + Module.__name__, (Module,) + bases, {"__module__": Module.__module__})
            _PyroModuleMeta._mixins[Module] = mixin
        return mixin


class PyroModule(torch.nn.Module, metaclass=_PyroModuleMeta):
    """A torch module whose attributes may be ``PyroSample`` (random) or ``PyroParam`` (constrained, learnable).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> class Line(PyroModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.linear = PyroModule[torch.nn.Linear](1, 1)
    ...         self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([1, 1]).to_event(2))
    ...     def forward(self, x):
    ...         return self.linear(x) + 0 * self.linear.weight  # read twice: one site
    >>> tr = poutine.trace(Line()).get_trace(torch.ones(3, 1))
    >>> [s.name for s in tr if s.type == "sample"], [s.name for s in tr if s.type == "param"]
    (['linear.weight'], ['linear.bias'])
    """

    def __init__(self, name=""):
        object.__setattr__(self, "_pyro_name", name)
        object.__setattr__(self, "_pyro_context", _Context())
        object.__setattr__(self, "_pyro_params", {})
        object.__setattr__(self, "_pyro_samples", {})
        super().__init__()

    def _pyro_set_supermodule(self, name, context):
        object.__setattr__(self, "_pyro_name", name)
        object.__setattr__(self, "_pyro_context", context)
        for key, child in self._modules.items():
            if isinstance(child, PyroModule):
                child._pyro_set_supermodule(_make_name(name, key), context)

    def add_module(self, name, module):
        # nn.Sequential and nn.ModuleList register children here, not through __setattr__: name them too.
        if isinstance(module, PyroModule):
            module._pyro_set_supermodule(self._pyro_get_fullname(name), self._pyro_context)
        super().add_module(name, module)

    def _pyro_get_fullname(self, name):
        return _make_name(self._pyro_name, name)

    def __call__(self, *args, **kwargs):
        with self._pyro_context:
            return super().__call__(*args, **kwargs)

    # ---- reading attributes ----------------------------------------------------------------------
    def __getattr__(self, name):
        pyro_params = self.__dict__.get("_pyro_params")
        if pyro_params is not None and name in pyro_params:
            return self._read_pyro_param(name, *pyro_params[name])
        pyro_samples = self.__dict__.get("_pyro_samples")
        if pyro_samples is not None and name in pyro_samples:
            return self._read_pyro_sample(name, pyro_samples[name])
        result = super().__getattr__(name)
        if isinstance(result, torch.nn.Parameter) and not name.endswith("_unconstrained"):
            if self._pyro_context.active:
                return self._shared_param(name, result, constraints.real, None)
        elif isinstance(result, PyroModule) and not result._pyro_name:
            result._pyro_set_supermodule(self._pyro_get_fullname(name), self._pyro_context)
        return result

    def _shared_param(self, name, leaf, constraint, event_dim):
        """The module's tensor as the store's entry of its full name, read through a ``param`` site."""
        fullname = self._pyro_get_fullname(name)
        store = get_param_store()
        if fullname in store and store.get_unconstrained(fullname) is not leaf:
            # The store holds another tensor of this name (loaded, or set by hand): the module takes it.
            leaf = store.get_unconstrained(fullname)
            if not isinstance(leaf, torch.nn.Parameter):
                leaf = torch.nn.Parameter(leaf.detach())
                store.adopt(fullname, leaf, store.get_constraint(fullname))
            key = name + "_unconstrained" if name in self._pyro_params else name
            torch.nn.Module.__setattr__(self, key, leaf)
        elif fullname not in store:
            store.adopt(fullname, leaf, constraint)
        return param(fullname, event_dim=event_dim)

    def _read_pyro_param(self, name, constraint, event_dim):
        leaf = super().__getattr__(name + "_unconstrained")
        if self._pyro_context.active:
            return self._shared_param(name, leaf, constraint, event_dim)
        return transform_to(constraint)(leaf)

    def _read_pyro_sample(self, name, prior):
        context = self._pyro_context
        if not context.active:  # outside a call there is no run to name the site in: a plain draw
            prior = prior if hasattr(prior, "sample") else prior(self)
            return prior if torch.is_tensor(prior) else prior()
        fullname = self._pyro_get_fullname(name)
        value = context.cache.get(fullname)
        if value is None:
            prior = prior if hasattr(prior, "sample") else prior(self)
            value = deterministic(fullname, prior) if torch.is_tensor(prior) else sample(fullname, prior)
            context.cache[fullname] = value
        return value

    # ---- setting attributes ----------------------------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, PyroParam):
            init, constraint, event_dim = value
            constraint = constraints.real if constraint is None else constraint
            self._drop(name)
            if callable(init) and not torch.is_tensor(init):
                init = init()
            init = init if torch.is_tensor(init) else torch.as_tensor(init, dtype=torch.get_default_dtype())
            with torch.no_grad():
                leaf = torch.nn.Parameter(transform_to(constraint).inv(init.detach()).clone())
            torch.nn.Module.__setattr__(self, name + "_unconstrained", leaf)
            self._pyro_params[name] = (constraint, event_dim)
            return
        if isinstance(value, PyroSample):
            self._drop(name)
            self._pyro_samples[name] = value.prior
            return
        if isinstance(value, PyroModule):
            value._pyro_set_supermodule(self._pyro_get_fullname(name), self._pyro_context)
        pyro_params = self.__dict__.get("_pyro_params")
        if pyro_params is not None and name in pyro_params:
            self._drop(name)
        pyro_samples = self.__dict__.get("_pyro_samples")
        if pyro_samples is not None:
            pyro_samples.pop(name, None)
        super().__setattr__(name, value)

    def _drop(self, name):
        """Forget whatever ``name`` was (a torch parameter, buffer, module, PyroParam or PyroSample)."""
        if name in self._pyro_params:
            del self._pyro_params[name]
            torch.nn.Module.__delattr__(self, name + "_unconstrained")
        self._pyro_samples.pop(name, None)
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        self.__dict__.pop(name, None)

    def __delattr__(self, name):
        if name in self.__dict__.get("_pyro_params", ()) or name in self.__dict__.get("_pyro_samples", ()):
            self._drop(name)
        else:
            super().__delattr__(name)


def pyro_method(fn):
    """Give a PyroModule method the same per-call site cache as ``__call__`` (for methods called directly)."""

    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        with self._pyro_context:
            return fn(self, *args, **kwargs)

    return method
