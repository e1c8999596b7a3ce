"""``mem`` and ``cache``: remembering a function's results per argument, as WebPPL's ``mem`` and ``cache``.

``mem`` is *stochastic* memoization: a random function called twice with the same arguments in
one run gives the same value (Bob's eye colour is one fact about Bob), and the next run draws
afresh. Its random choices are named from their site name and the arguments (``"eye_color(bob)"``),
so that every run names the same fact the same way and MH and Enumerate can address it.

``cache`` is plain memoization for the whole session: the function must be deterministic given its
arguments; its use is to run an inner inference once per distinct argument (WebPPL's ``cache``).

Both key arguments by value: a tensor by its contents (torch hashes tensors by identity, which
would never match), anything else by Python's hash; an unhashable argument is an error.
"""

import functools

import torch

from .errors import UnhashableArgumentError
from .runtime import _local, readable_name, run_scope


_PLAIN = (str, int, float, bool, type(None))  # hashable by their value
_MISSING = object()


def mem(fn):
    """Stochastic memoization within one run: same arguments, same value; a fresh value in the next run.

    A sample site named ``s`` inside a call with arguments ``(a, b)`` is recorded as ``"s(a, b)"``
    (the innermost memoized call names it). Arguments may be any hashable values, tensors included.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> @pyro.mem
    ... def eye_color(person):
    ...     return pyro.sample("eye_color", dist.Choice(["blue", "green", "brown"]))
    >>> def family():
    ...     return eye_color("bob") == eye_color("bob"), eye_color("alice")
    >>> tr = poutine.trace(family).get_trace()
    >>> tr.nodes["_RETURN"].value[0], [name for name in tr.nodes if name != "_RETURN"]
    (True, ['eye_color(bob)', 'eye_color(alice)'])
    """
    return _Memoized(fn)


class _Memoized:
    # A model often makes its memoized functions anew in every run (WebPPL's style: var strength = mem(...)
    # inside the model), so making one is cheap: what functools.update_wrapper would copy up front is set
    # where the class has its own (__doc__, __module__) and read from the function when asked for otherwise.

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"mem(fn): fn must be a function, got {type(fn).__name__} {fn!r}")
        self.fn = self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__module__ = getattr(fn, "__module__", None)

    def __getattr__(self, name):  # __name__, __qualname__ and the function's own attributes
        if name == "fn":
            raise AttributeError(name)
        return getattr(self.fn, name)

    @property
    def _name(self):
        fn = self.fn
        return readable_name(getattr(fn, "__qualname__", None) or type(fn).__name__)

    def __call__(self, *args, **kwargs):
        key = args  # names and numbers are their own key
        if kwargs:
            key = argument_key(self._name, "mem", args, kwargs)
        else:
            for a in args:
                if type(a) not in _PLAIN:
                    key = argument_key(self._name, "mem", args, kwargs)
                    break
        scope = _local.run_scope
        if scope is None:
            scope = run_scope()
        table = scope.get(self)
        if table is None:
            table = scope[self] = {}
        value = table.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if _local.stack:  # inside a run: the sites this call makes are named after its arguments
            outer = _local.mem_suffix
            _local.mem_suffix = _plain_suffix(args) if key is args else _describe(args, kwargs)
            try:
                value = self.fn(*args, **kwargs)
            finally:
                _local.mem_suffix = outer
        else:  # a plain call records no sites, so there is nothing to name
            value = self.fn(*args, **kwargs)
        table[key] = value
        return value

    def __get__(self, obj, objtype=None):  # a memoized method: bind like a function
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"mem({self._name})"


def cache(fn):
    """Remember ``fn``'s result per distinct arguments for the session (WebPPL's ``cache``).

    For deterministic functions of their arguments, above all a function that runs an inference:
    a model that asks ``listener(utterance)`` in every run pays for each inner inference once.

    >>> import ppl_kernel as pyro
    >>> calls = []
    >>> @pyro.cache
    ... def slow_square(x):
    ...     calls.append(x)
    ...     return x * x
    >>> slow_square(3), slow_square(3), calls
    (9, 9, [3])
    """
    table = {}
    name = readable_name(getattr(fn, "__qualname__", None) or type(fn).__name__)

    @functools.wraps(fn)
    def cached(*args, **kwargs):
        key = argument_key(name, "cache", args, kwargs)
        try:
            return table[key]
        except KeyError:
            value = table[key] = fn(*args, **kwargs)
            return value

    cached.cache_clear = table.clear
    return cached


def argument_key(name, what, args, kwargs):
    """A hashable key for the arguments, tensors by value; an unhashable argument is an error naming it."""
    parts = [_value_key(name, what, f"argument {i + 1}", a) for i, a in enumerate(args)]
    for k in sorted(kwargs):
        parts.append((k, _value_key(name, what, f"argument {k}=", kwargs[k])))
    return tuple(parts)


def _value_key(name, what, where, value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), tuple(value.detach().reshape(-1).tolist()))
    try:
        hash(value)
    except TypeError:
        kind = type(value).__name__
        fix = "a tuple instead of a list" if isinstance(value, list) else "a hashable value (a tuple, a string, a number)"
        raise UnhashableArgumentError(
            f"{what}: function '{name}' was called with an unhashable {where} {value!r} (a {kind}). {what} "
            f"remembers one value per distinct arguments, so it must hash them: pass {fix}."
        ) from None
    return value


@functools.lru_cache(maxsize=4096)
def _plain_suffix(args):
    """The site-name text of plain arguments, made once per distinct arguments (a model asks again every run)."""
    return _describe(args, {})


def _describe(args, kwargs):
    return ", ".join([_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()])


def _short(value):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, (str, int, float)) else repr(value)
