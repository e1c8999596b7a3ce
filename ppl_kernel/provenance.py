"""Which sampled values a computed value came from: tensors that carry their provenance.

A :class:`TrackedTensor` is a tensor with a frozenset of site names attached. Every torch operation
on tracked tensors returns tracked tensors whose provenance is the union of its inputs' (the
non-standard interpretation of Wingate et al. 2011, as Pyro's ``ProvenanceTensor`` does it). Data
flow is then visible after the fact: the parameters of a distribution built from ``mu`` carry
``{"mu"}``.

What flows through Python is not visible this way: ``if x.item() == 0:`` turns a sampled value
into a Python number and chooses a branch. Such a *read* (``bool``, ``item``, ``float``, ``int``,
``tolist``, ``torch.equal``, ...) made by the user's code is reported to a listener (the model
graph records it as a control dependency of everything sampled afterwards). Reads made inside
torch or ppl_kernel (argument validation, shape checks) are not the model's decisions and are
ignored.

>>> import torch
>>> a = track(torch.tensor(1.0), {"a"})
>>> b = track(torch.tensor(2.0), {"b"})
>>> sorted(provenance_of(a * b + 1))
['a', 'b']
>>> provenance_of(torch.tensor(3.0))
frozenset()
"""

import os
import sys
import threading

import torch

from .runtime import INTERNAL_FOLDERS

# Functions whose result hands a tensor's *value* to Python (a branch, a dict key, a format string).
# Shape and dtype queries (dim, size, numel, ...) reveal nothing random and are not reads.
VALUE_READS = frozenset({
    "__bool__", "item", "tolist", "__float__", "__int__", "__index__", "__complex__", "numpy", "equal",
    "allclose", "is_nonzero", "__format__", "__contains__",
})

# Frames of torch's Python-level dispatch between a user's expression and __torch_function__.
_DISPATCH_FILES = tuple(
    os.path.join(os.path.dirname(os.path.abspath(torch.__file__)), name) for name in ("_tensor.py", "overrides.py")
)
_THIS_FILE = os.path.abspath(__file__)


class _Listeners(threading.local):
    def __init__(self):
        self.stack = []  # each thread tracks its own runs


_listeners = _Listeners()


class TrackedTensor(torch.Tensor):
    """A tensor that remembers which named sites its value was computed from (``provenance``)."""

    provenance: frozenset

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sources = _collect(args, frozenset()) | _collect(kwargs, frozenset())
        with torch._C.DisableTorchFunctionSubclass():
            result = func(*args, **kwargs)
        if not sources:
            return result
        if getattr(func, "__name__", None) in VALUE_READS and _listeners.stack and _read_by_user_code():
            _listeners.stack[-1](sources)
        return _wrap(result, sources)

    def __repr__(self, *, tensor_contents=None):
        with torch._C.DisableTorchFunctionSubclass():
            return f"{torch.Tensor.__repr__(self)} from {sorted(self.provenance)}"


def track(value, names):
    """``value`` (a tensor) marked as computed from the sites ``names``; any other value unchanged."""
    if not isinstance(value, torch.Tensor) or not names:
        return value
    tracked = untrack(value).as_subclass(TrackedTensor)
    tracked.provenance = frozenset(names)
    return tracked


def untrack(value):
    """``value`` with its provenance dropped (tensors inside tuples, lists and dicts too)."""
    if isinstance(value, TrackedTensor):
        return value.as_subclass(torch.Tensor)
    if isinstance(value, (tuple, list)):
        return type(value)(untrack(v) for v in value) if type(value) in (tuple, list) else value
    if isinstance(value, dict):
        return {k: untrack(v) for k, v in value.items()}
    return value


def provenance_of(value):
    """The site names ``value`` was computed from: a frozenset, empty for untracked values.

    Tensors inside tuples, lists and dicts count, so a model's return value ``(x, y)`` has both.
    """
    return _collect(value, frozenset())


class listen_for_reads:
    """Within ``with listen_for_reads(callback):``, ``callback(names)`` hears every read of a tracked
    value by user code (the branch points of the run)."""

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        _listeners.stack.append(self.callback)
        return self

    def __exit__(self, *exc):
        _listeners.stack.remove(self.callback)


def _collect(value, found):
    if isinstance(value, TrackedTensor):
        return found | value.provenance
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            found = _collect(item, found)
    return found


def _wrap(result, sources):
    if isinstance(result, torch.Tensor):
        tracked = result.as_subclass(TrackedTensor)
        tracked.provenance = sources
        return tracked
    if type(result) in (tuple, list):
        return type(result)(_wrap(item, sources) for item in result)
    return result


def _read_by_user_code():
    """Whether the code that asked for the value is the user's: the first frame outside torch's dispatch
    is neither torch's nor ppl_kernel's (a distribution validating its arguments is not a branch)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename != _THIS_FILE and not filename.startswith(_DISPATCH_FILES):
            return not filename.startswith(INTERNAL_FOLDERS)
        frame = frame.f_back
    return False
