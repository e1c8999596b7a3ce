"""A background run keeps the definitions it started with.

A model defined in a cell calls itself and other notebook functions *by name*, looked up in the
notebook's namespace at each call. A background run goes on while the user keeps working; if they
redefine the model (``%%model geometric`` again, or a plain ``def``), a run that looked names up
live would mix the two definitions, even within one recursive run. :func:`snapshot_model` gives the
run copies of the notebook's functions bound to a copy of the namespace taken when the run starts,
so every call it makes, recursive ones included, uses the definitions of that moment.

(Values are copied by reference: a list the model appends to is still the notebook's list. A
``global`` statement in the model writes to the copy, which is what keeps the run consistent.)

>>> ns = {}
>>> exec("def f(n):\\n    return 'old' if n == 0 else f(n - 1)", ns)
>>> frozen = snapshot_model(ns["f"], ns)
>>> exec("def f(n):\\n    return 'new'", ns)
>>> frozen(3), ns["f"](3)
('old', 'new')
"""

import types


def snapshot_model(fn, namespace):
    """``fn`` bound, with every function of ``namespace`` that shares it, to a copy of ``namespace``.

    Anything that is not a plain function of that namespace (a lambda from elsewhere, a module's
    function, an ``nn.Module``) is returned unchanged.
    """
    if not isinstance(fn, types.FunctionType) or fn.__globals__ is not namespace:
        return fn
    frozen = dict(namespace)
    copies = {}
    for name, value in namespace.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            copy = copies.get(id(value))
            if copy is None:
                copy = copies[id(value)] = _rebound(value, frozen)
            frozen[name] = copy
    return copies.get(id(fn)) or _rebound(fn, frozen)


def _rebound(fn, globals_):
    copy = types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    copy.__dict__.update(fn.__dict__)
    return copy
