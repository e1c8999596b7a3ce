"""The parameter store: named learnable tensors, kept unconstrained so optimizers can move them freely.

A parameter with a constraint (``constraints.positive``, ``constraints.unit_interval``, ...) is
stored as an unconstrained leaf tensor ``u``; ``param(name)`` returns ``transform_to(constraint)(u)``,
which always satisfies the constraint and carries the gradient back to ``u``.

>>> import torch, ppl_kernel as pyro
>>> from torch.distributions import constraints
>>> pyro.clear_param_store()
>>> b = pyro.param("b", torch.tensor(2.0), constraint=constraints.positive)
>>> round(b.item(), 4), pyro.get_param_store().get_unconstrained("b").requires_grad
(2.0, True)
>>> sorted(pyro.get_param_store())
['b']
"""

import torch
from torch.distributions import constraints, transform_to

from .errors import InvalidParameterError


class ParamStore:
    """Name -> (unconstrained leaf tensor, constraint). ``store[name]`` gives the constrained value.

    >>> import torch
    >>> store = ParamStore()
    >>> store.get("w", torch.ones(2)).tolist()
    [1.0, 1.0]
    >>> store.param_name(store.get_unconstrained("w"))
    'w'
    """

    def __init__(self):
        self._params = {}  # name -> unconstrained tensor (requires_grad)
        self._constraints = {}
        self._transforms = {}  # name -> transform_to(constraint), or None for the unconstrained (identity) case
        self._names = {}  # id(unconstrained tensor) -> name, for optimizers handed bare tensors

    def get(self, name, init_tensor=None, constraint=None, event_dim=None):
        """The constrained value of ``name``, creating it from ``init_tensor`` on first use."""
        unconstrained = self._params.get(name)
        if unconstrained is None:
            if init_tensor is None:
                raise KeyError(
                    f"param '{name}' does not exist yet; give an initial value: param('{name}', torch.tensor(...))"
                )
            self.set(name, init_tensor, constraint)
            unconstrained = self._params[name]
        transform = self._transforms[name]
        return unconstrained if transform is None else transform(unconstrained)

    def set(self, name, value, constraint=None):
        """Create or replace ``name`` with the constrained ``value`` (checked against ``constraint``)."""
        constraint = constraints.real if constraint is None else constraint
        if callable(value) and not torch.is_tensor(value):
            value = value()  # Pyro allows a lazy initializer
        if not torch.is_tensor(value):
            value = torch.tensor(value, dtype=torch.get_default_dtype())
        with torch.no_grad():
            value = value.detach()
            if constraint is constraints.simplex and bool((value > 0).all()):
                # Pyro accepts positive weights for a simplex (torch.randn(3).exp() in its tutorials): the
                # parameter starts at the normalised weights, as softmax(log w) gives in Pyro's param store.
                value = value / value.sum(-1, keepdim=True)
            if not bool(constraint.check(value).all()):
                raise InvalidParameterError(
                    f"param '{name}': the initial value {_short(value)} breaks its constraint {constraint}. "
                    f"Give an initial value inside the constraint (e.g. param('{name}', torch.tensor(1.0), "
                    "constraint=constraints.positive) needs a number > 0), or drop the constraint."
                )
            transform = transform_to(constraint)
            unconstrained = transform.inv(value).clone()
        if not bool(torch.isfinite(unconstrained).all()):
            raise InvalidParameterError(
                f"param '{name}': the initial value {_short(value)} lies on the boundary of its constraint "
                f"{constraint}, where the unconstrained value is infinite. Start strictly inside it."
            )
        unconstrained.requires_grad_(True)
        self._forget(name)
        self._params[name] = unconstrained
        self._constraints[name] = constraint
        self._transforms[name] = _transform_of(constraint)
        self._names[id(unconstrained)] = name

    def adopt(self, name, leaf, constraint=None):
        """Hold ``leaf`` itself (a module's ``nn.Parameter``, already unconstrained) as ``name``: an
        optimizer stepping the store then moves the module's own tensor, as in Pyro's ``PyroModule``."""
        constraint = constraints.real if constraint is None else constraint
        self._forget(name)
        self._params[name] = leaf
        self._constraints[name] = constraint
        self._transforms[name] = _transform_of(constraint)
        self._names[id(leaf)] = name

    def _forget(self, name):
        old = self._params.pop(name, None)
        if old is not None:
            self._names.pop(id(old), None)
            del self._constraints[name]
            del self._transforms[name]

    def __getitem__(self, name):
        return self.get(name)

    def __setitem__(self, name, value):
        self.set(name, value, self._constraints.get(name))

    def __contains__(self, name):
        return name in self._params

    def __delitem__(self, name):
        if name not in self._params:
            raise KeyError(f"param '{name}' is not in the store (it has {sorted(self._params)})")
        self._forget(name)

    def __len__(self):
        return len(self._params)

    def __iter__(self):
        return iter(list(self._params))

    def keys(self):
        return list(self._params)

    def get_all_param_names(self):
        return list(self._params)

    def items(self):
        """(name, constrained value) pairs."""
        return [(name, self.get(name)) for name in self._params]

    def values(self):
        return [self.get(name) for name in self._params]

    def named_parameters(self):
        """(name, unconstrained leaf tensor) pairs: what an optimizer updates."""
        return list(self._params.items())

    def get_unconstrained(self, name):
        return self._params[name]

    def get_constraint(self, name):
        return self._constraints[name]

    def param_name(self, unconstrained):
        """The name of an unconstrained tensor held in the store, or None."""
        name = self._names.get(id(unconstrained))
        return name if name is not None and self._params.get(name) is unconstrained else None

    def clear(self):
        self._params.clear()
        self._constraints.clear()
        self._transforms.clear()
        self._names.clear()

    def get_state(self):
        return {"params": {k: v.detach().clone() for k, v in self._params.items()},
                "constraints": dict(self._constraints)}

    def set_state(self, state):
        """Add the saved parameters to the store, replacing those of the same name (as Pyro's)."""
        for name, unconstrained in state["params"].items():
            constraint = _decode_constraint(state["constraints"].get(name, constraints.real))
            self._forget(name)
            leaf = unconstrained.detach().clone().requires_grad_(True)
            self._params[name] = leaf
            self._constraints[name] = constraint
            self._transforms[name] = _transform_of(constraint)
            self._names[id(leaf)] = name

    def save(self, filename):
        """Write every parameter (and its constraint) to ``filename``.

        >>> import os, tempfile, torch
        >>> store = ParamStore()
        >>> _ = store.get("w", torch.tensor(0.5))
        >>> path = os.path.join(tempfile.mkdtemp(), "params.pt")
        >>> store.save(path); store.clear(); store.load(path)
        >>> store["w"].item()
        0.5
        """
        state = self.get_state()
        # Constraints as plain descriptions, so that the file loads with torch.load(weights_only=True).
        state["constraints"] = {name: _encode_constraint(c) for name, c in state["constraints"].items()}
        torch.save(state, filename)

    def load(self, filename, map_location=None, weights_only=True):
        """Add the parameters saved in ``filename`` to the store (same names are replaced).

        The file is read with ``torch.load(weights_only=True)``: tensors and plain data only, which is
        all that ``save`` writes. A file that holds other objects (a custom constraint class, a file
        written by other code) raises :class:`~ppl_kernel.errors.UnsafeCheckpointError`.

        .. warning:: ``weights_only=False`` unpickles arbitrary objects, and unpickling can run any code
           the file's author put in it. Pass it only for a file from a source you trust.
        """
        from .checkpoint import load_checkpoint

        self.set_state(load_checkpoint(filename, map_location, weights_only, "ParamStore.load"))

    def __repr__(self):
        return f"ParamStore({', '.join(self._params)})"


def _encode_constraint(constraint):
    """A constraint of torch's own as plain data (class name and attributes); any other object as it is."""
    cls = type(constraint)
    if getattr(constraints, cls.__name__, None) is not cls:
        return constraint  # a user's class: only a full pickle can hold it (load with weights_only=False)
    state = {k: _encode_constraint(v) if isinstance(v, constraints.Constraint) else v for k, v in vars(constraint).items()}
    return {"constraint": cls.__name__, "state": state}


def _decode_constraint(saved):
    if not isinstance(saved, dict):
        return saved  # a constraint object (a file from before constraints were saved as data)
    cls = getattr(constraints, saved["constraint"], None)
    if not (isinstance(cls, type) and issubclass(cls, constraints.Constraint)):
        raise ValueError(f"unknown constraint {saved['constraint']!r} in a saved parameter file")
    constraint = cls.__new__(cls)
    for key, value in saved["state"].items():
        setattr(constraint, key, _decode_constraint(value) if isinstance(value, dict) and "constraint" in value else value)
    return constraint


def _transform_of(constraint):
    # The unconstrained case is by far the commonest; skipping its identity transform saves a call per use.
    return None if type(constraint) is type(constraints.real) else transform_to(constraint)


def _short(value):
    return f"{value.item():g}" if value.numel() == 1 else f"tensor of shape {tuple(value.shape)} ({value.flatten()[:4].tolist()}...)"


_STORE = ParamStore()


def get_param_store():
    """The process-wide parameter store (as ``pyro.get_param_store()``).

    >>> import ppl_kernel as pyro, torch
    >>> pyro.clear_param_store()
    >>> _ = pyro.param("w", torch.tensor(0.5))
    >>> list(pyro.get_param_store().keys())
    ['w']
    """
    return _STORE


def clear_param_store():
    """Remove every parameter (start a fresh fit).

    >>> import ppl_kernel as pyro, torch
    >>> _ = pyro.param("w", torch.tensor(0.5))
    >>> pyro.clear_param_store()
    >>> len(pyro.get_param_store().keys())
    0
    """
    _STORE.clear()
