"""The parameter store: named learnable tensors, kept unconstrained so optimizers can move them freely.

>>> import torch, ppl_kernel as pyro
>>> from torch.distributions import constraints
>>> pyro.clear_param_store()
>>> b = pyro.param("b", torch.tensor(2.0), constraint=constraints.positive)
>>> round(b.item(), 4), pyro.get_param_store().get_unconstrained("b").requires_grad
(2.0, True)
"""

import torch
from torch.distributions import constraints, transform_to


class ParamStore:
    """Name -> (unconstrained leaf tensor, constraint). ``store[name]`` gives the constrained value."""

    def __init__(self):
        self._params = {}  # name -> unconstrained tensor (requires_grad)
        self._constraints = {}

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
        return transform_to(self._constraints[name])(unconstrained)

    def set(self, name, value, constraint=None):
        constraint = constraints.real if constraint is None else constraint
        if callable(value) and not torch.is_tensor(value):
            value = value()  # Pyro allows a lazy initializer
        if not torch.is_tensor(value):
            value = torch.tensor(value, dtype=torch.get_default_dtype())
        with torch.no_grad():
            value = value.detach()
            if not bool(constraint.check(value).all()):
                raise ValueError(
                    f"param '{name}': the initial value {value!r} breaks its constraint {constraint}. "
                    "Give an initial value inside the constraint (e.g. a positive number for constraints.positive)."
                )
            unconstrained = transform_to(constraint).inv(value).clone()
        unconstrained.requires_grad_(True)
        self._params[name] = unconstrained
        self._constraints[name] = constraint

    def __getitem__(self, name):
        return self.get(name)

    def __setitem__(self, name, value):
        self.set(name, value, self._constraints.get(name))

    def __contains__(self, name):
        return name in self._params

    def __delitem__(self, name):
        del self._params[name]
        del self._constraints[name]

    def __len__(self):
        return len(self._params)

    def __iter__(self):
        return iter(list(self._params))

    def keys(self):
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

    def clear(self):
        self._params.clear()
        self._constraints.clear()

    def get_state(self):
        return {"params": {k: v.detach().clone() for k, v in self._params.items()},
                "constraints": dict(self._constraints)}

    def set_state(self, state):
        self.clear()
        for name, unconstrained in state["params"].items():
            self._params[name] = unconstrained.detach().clone().requires_grad_(True)
            self._constraints[name] = state["constraints"][name]

    def save(self, filename):
        """Write every parameter (and its constraint) to ``filename``."""
        torch.save(self.get_state(), filename)

    def load(self, filename, map_location=None):
        """Replace the store's contents with those saved in ``filename``."""
        self.set_state(torch.load(filename, map_location=map_location, weights_only=False))

    def __repr__(self):
        return f"ParamStore({', '.join(self._params)})"


_STORE = ParamStore()


def get_param_store():
    """The process-wide parameter store (as ``pyro.get_param_store()``)."""
    return _STORE


def clear_param_store():
    _STORE.clear()
