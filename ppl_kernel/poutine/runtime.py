"""Pyro's ``poutine.runtime`` names: the handler stack and effectful operations of your own.

The machinery itself lives in :mod:`ppl_kernel.runtime`; this module gives it Pyro's import path
(``from pyro.poutine.runtime import effectful``) and adds :func:`effectful` and :func:`am_i_wrapped`.

>>> import ppl_kernel as pyro
>>> from ppl_kernel.poutine.runtime import effectful
>>> @effectful(type="apply")
... def add(x, y):
...     return x + y
>>> add(1, 2)  # no handler active: a plain call
3
"""

import functools

from ..runtime import Messenger, Site, apply_stack, default_process, get_stack  # noqa: F401  (Pyro's names)
from .escape_messenger import NonlocalExit  # noqa: F401  (Pyro's path: pyro.poutine.runtime.NonlocalExit)


def am_i_wrapped():
    """True when some effect handler is active in this thread (a ``sample`` would be seen by it)."""
    return bool(get_stack())


def effectful(fn=None, type=None):
    """Make ``fn`` an operation that effect handlers see, as a site of kind ``type``.

    Called under handlers, ``fn(*args, name=..., obs=..., infer=...)`` builds a site message with
    ``msg["type"] == type`` and sends it down the stack (a handler's ``_pyro_<type>`` method sees it);
    with no handler active it is a plain call.
    """
    if fn is None:
        return functools.partial(effectful, type=type)
    if type is None:
        raise ValueError(f"effectful({getattr(fn, '__name__', fn)}): give the operation's type, e.g. "
                         "effectful(fn, type='apply'), so that handlers can tell it from sample sites.")

    @functools.wraps(fn)
    def operation(*args, name=None, infer=None, obs=None, **kwargs):
        stack = get_stack()
        if not stack:
            return fn(*args, **kwargs)
        msg = Site(type, name, fn, args, kwargs, obs, obs is not None, infer)
        apply_stack(msg, stack)
        return msg.value

    return operation
