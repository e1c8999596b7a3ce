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
from .runtime import Messenger, get_stack, readable_name, run_scope


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
    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"mem(fn): fn must be a function, got {type(fn).__name__} {fn!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self._name = readable_name(getattr(fn, "__qualname__", None) or type(fn).__name__)

    def __call__(self, *args, **kwargs):
        plain = not kwargs and all(type(a) in _PLAIN for a in args)
        key = args if plain else argument_key(self._name, "mem", args, kwargs)  # names, numbers: their own key
        scope = run_scope()
        table = scope.get(self)
        if table is None:
            table = scope[self] = {}
        value = table.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if get_stack():  # inside a run: name the sites this call makes after its arguments
            with _ArgumentNames(_plain_suffix(args) if plain else _describe(args, kwargs)):
                value = self.fn(*args, **kwargs)
        else:  # a plain call records no sites, so there is nothing to name
            value = self.fn(*args, **kwargs)
        table[key] = value
        return value

    def __get__(self, obj, objtype=None):  # a memoized method: bind like a function
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"mem({self._name})"


class _ArgumentNames(Messenger):
    """Renames the sites made inside one memoized call: ``s`` becomes ``s(args)``; an inner call's name stays."""

    def __init__(self, suffix):
        super().__init__()
        self.suffix = suffix

    def process_message(self, msg):
        if msg.type == "sample" and "mem_call" not in msg.infer:
            msg.name = f"{msg.name}({self.suffix})"
            msg.infer = {**msg.infer, "mem_call": self.suffix}


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
