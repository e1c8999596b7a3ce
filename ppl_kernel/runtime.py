"""The handler stack and the site message.

A ``sample`` statement builds one :class:`Site` and hands it down the stack of active handlers
(innermost first); each may change it (``process_message``), stop it, or give it a value. If
nothing gave it a value the default action draws one (``draw``, below, with the fast families of
``distributions/scoring.py``); then the handlers that saw it record or
adjust it on the way back (``postprocess_message``). This is minipyro's design, with a slotted
message instead of a dict and one stack per thread, so that the notebook layer can sample in a
background thread while the user keeps working in the main one.
"""

import contextlib
import copy
import inspect
import numbers
import os
import re
import threading
import types

import torch

from .distributions.scoring import draw_from, fast_log_prob, score_dtype
from .errors import (
    ArgumentTypeError, InvalidParameterError, RunawayModelError, SiteTypeError, UserDistributionError,
)
from .settings import settings, validation_suspended  # noqa: F401  (part of the runtime's interface)

# The folders whose code is ours or torch's, not the user's: frames there are left out of call trees,
# fallback notes and the tracebacks the notebook layer shows.
INTERNAL_FOLDERS = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
)


class _ThreadState(threading.local):
    def __init__(self):
        self.stack = []  # each thread starts with its own empty stack
        self.run_scope = None  # what one run remembers (mem's values), made on first use; see run_scope()
        # The argument text of the innermost memoized call now running inside a run (memoize.py), or None:
        # sample statements name their sites "name(arguments)" while it is set.
        self.mem_suffix = None


_local = _ThreadState()


def get_stack():
    """The handler stack of the calling thread (outermost first)."""
    return _local.stack


def run_scope():
    """A dict that lives for one run: from the outermost handler's entry to its exit.

    ``mem`` keeps its values here, so that they are shared within a run and fresh in the next. Outside
    any handler (a plain call of a model) there is no run to scope to, and the dict lives until the
    next handler is entered.
    """
    scope = _local.run_scope
    if scope is None:
        scope = _local.run_scope = {}
    return scope


@contextlib.contextmanager
def isolated_run():
    """Run the body on a fresh, empty handler stack and run scope, then put the caller's back.

    Inference inside a model (nested inference) runs this way, so that the outer inference's handlers
    neither see the inner runs' sites nor end them, and each side keeps its own ``mem`` values (and an
    inner model called from a memoized function names its sites as it would anywhere else).
    """
    saved_stack, saved_scope, saved_suffix = _local.stack, _local.run_scope, _local.mem_suffix
    _local.stack, _local.run_scope, _local.mem_suffix = [], None, None
    try:
        yield
    finally:
        _local.stack, _local.run_scope, _local.mem_suffix = saved_stack, saved_scope, saved_suffix


class Site:
    """One ``sample`` or ``param`` statement as it travels through the handler stack.

    Attributes match Pyro's message keys, and ``site["value"]`` works as in Pyro so that code
    reading ``trace.nodes[name]["value"]`` runs unchanged.
    """

    __slots__ = (
        "type", "name", "fn", "args", "kwargs", "value", "is_observed", "scale", "mask",
        "cond_indep_stack", "infer", "done", "stop", "call", "_log_prob",
    )

    def __init__(self, type, name, fn, args, kwargs, value=None, is_observed=False, infer=None):
        self.type = type
        self.name = name
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.value = value
        self.is_observed = is_observed
        self.scale = 1.0
        self.mask = None
        self.cond_indep_stack = ()
        self.infer = {} if infer is None else infer
        self.done = False
        self.stop = False
        self.call = None
        self._log_prob = None

    # Pyro reads messages as dicts; these keep such code working.
    def __getitem__(self, key):
        if key == "log_prob":
            return self.log_prob
        if key == "log_prob_sum":
            return self.log_prob_sum()
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key, value):
        setattr(self, key, value)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key):
        return key in self.__slots__ or key in ("log_prob", "log_prob_sum")

    def copy(self):
        new = copy.copy(self)
        new.infer = dict(self.infer)
        return new

    # ---- what the site is: decided here and nowhere else --------------------------------------------
    @property
    def kind(self):
        """What a sample site is: ``"latent"`` (a value the program draws), ``"observed"`` (data:
        ``obs=``, ``condition``, a ``factor``), ``"deterministic"`` (a value recorded by
        ``deterministic``) or ``"auxiliary"`` (a latent helper variable, ``infer={"is_auxiliary": True}``).
        Other sites give their type (``"param"``, ``"return"``).

        >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
        >>> from ppl_kernel import poutine
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     pyro.deterministic("x2", x * 2)
        ...     pyro.factor("f", -1.0)
        ...     pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(0.5))
        >>> [site.kind for site in poutine.trace(model).get_trace()]
        ['latent', 'deterministic', 'observed', 'observed']
        """
        if self.type != "sample":
            return self.type
        infer = self.infer
        if infer.get("_deterministic"):
            return "deterministic"
        if self.is_observed:
            return "observed"
        return "auxiliary" if infer.get("is_auxiliary") else "latent"

    @property
    def is_latent(self):
        """A sample site whose value is drawn, not given: kind ``"latent"`` or ``"auxiliary"``; also when a
        handler (``replay``, ``substitute``, ``do``) fixed the value in this run."""
        return self.type == "sample" and not self.is_observed

    @property
    def is_choice(self):
        """A random choice of this run: a latent site whose value the model drew itself (no handler inside
        the model fixed it). Inference proposes, enumerates or weighs by the prior exactly these; every other
        sample site is *evidence* and its score is part of the run's weight."""
        return self.type == "sample" and not self.is_observed and not self.done

    @property
    def log_prob(self):
        """Per-element log density of the value, scaled and masked as handlers asked; cached."""
        if self._log_prob is None:
            self._log_prob = self._score()
        return self._log_prob

    def _score(self):
        return site_log_prob(self)

    def log_prob_sum(self):
        lp = self.log_prob
        return lp.sum() if lp.dim() else lp

    def __repr__(self):
        return f"Site({self.type}, {self.name!r}, value={self.value!r}, observed={self.is_observed})"


def default_process(msg):
    """The default action for a site that no handler gave a value."""
    if msg.type == "sample":
        msg.value = draw(msg)
    else:
        msg.value = msg.fn(*msg.args, **msg.kwargs)


def apply_stack(msg, stack=None):
    """Run ``msg`` through ``stack`` (the calling thread's, by default): innermost handler first, then
    back out (as minipyro)."""
    if stack is None:
        stack = _local.stack
        if not stack:
            default_process(msg)
            return msg
    if len(stack) == 1:
        # The common case (a lone trace, MH's or Importance's recorder) without the loop machinery:
        # bench_core's "one-handler shortcut" row measures what it saves against apply_each alone.
        handler = stack[0]
        handler.process_message(msg)
        if msg.value is None and not msg.done:
            if msg.type == "sample":
                try:  # draw(msg), inlined: one call less per site
                    msg.value = draw_from(msg.fn)
                except (ValueError, TypeError) as e:
                    raise draw_error(msg, e) from None
            else:
                msg.value = msg.fn(*msg.args, **msg.kwargs)
        handler.postprocess_message(msg)
        return msg
    return apply_each(msg, stack)


def apply_each(msg, stack):
    """The general path of :func:`apply_stack`, for any number of handlers (at least one)."""
    for depth in range(len(stack) - 1, -1, -1):
        stack[depth].process_message(msg)
        if msg.stop:  # hidden from the handlers outside this one (block)
            break
    if msg.value is None and not msg.done:
        default_process(msg)
    for handler in stack[depth:]:
        handler.postprocess_message(msg)
    return msg


class Messenger:
    """Base class of effect handlers.

    A handler works both ways, as in NumPyro::

        with poutine.scale(scale=2.0):
            model()
        poutine.scale(model, scale=2.0)()

    and, with no function, as a decorator: ``@poutine.scale(scale=2.0)`` (on a method too).

    A subclass written as in Pyro's effect-handlers tutorial works unchanged: methods named
    ``_pyro_<type>`` (``_pyro_sample``, ``_pyro_param``) see each site on its way in, and
    ``_pyro_post_<type>`` on its way out; or it overrides ``_process_message`` /
    ``_postprocess_message``.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> class Doubler(Messenger):
    ...     def _pyro_sample(self, msg):
    ...         msg["value"] = torch.tensor(2.0)
    >>> with Doubler():
    ...     pyro.sample("x", dist.Normal(0.0, 1.0)).item()
    2.0
    """

    fn = None  # Pyro subclasses' __init__ need not call Messenger.__init__

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Only subclasses written Pyro's way pay for the name-based dispatch; ours override
        # process_message directly and keep the hot path free of a getattr per site.
        pyro_style = any(name.startswith("_pyro_") for name in dir(cls))
        if cls.process_message is Messenger.process_message and (
                pyro_style or cls._process_message is not Messenger._process_message):
            cls.process_message = Messenger._dispatch_process
        if cls.postprocess_message is Messenger.postprocess_message and (
                pyro_style or cls._postprocess_message is not Messenger._postprocess_message):
            cls.postprocess_message = Messenger._dispatch_postprocess

    def _dispatch_process(self, msg):
        self._process_message(msg)

    def _dispatch_postprocess(self, msg):
        self._postprocess_message(msg)

    def _process_message(self, msg):
        method = getattr(self, "_pyro_" + msg.type, None)
        if method is not None:
            method(msg)

    def _postprocess_message(self, msg):
        method = getattr(self, "_pyro_post_" + msg.type, None)
        if method is not None:
            method(msg)

    def __init__(self, fn=None):
        if fn is not None:
            if not callable(fn):
                raise TypeError(
                    f"{type(self).__name__}(fn, ...): fn must be a callable model, got {type(fn).__name__}. "
                    "Pass the function itself, not the result of calling it."
                )
            check_model(fn)
        self.fn = fn

    def process_message(self, msg):
        pass

    def postprocess_message(self, msg):
        pass

    def __get__(self, instance, owner=None):
        # A handler decorating a method: bind it like a function, so that the model gets its self.
        if instance is None or self.fn is None:
            return self
        return types.MethodType(self, instance)

    def __enter__(self):
        stack = _local.stack
        if not stack:
            _local.run_scope = None  # a new run starts: it remembers nothing of the last one
        stack.append(self)
        return self

    def __exit__(self, exc_type, exc_value, tb):
        stack = _local.stack
        if stack and stack[-1] is self:
            stack.pop()
        elif self in stack:
            # Leaving out of order (a generator closed late): drop this handler and those above it.
            del stack[stack.index(self):]

    def __call__(self, *args, **kwargs):
        if self.fn is None:
            if len(args) == 1 and callable(args[0]) and not kwargs:
                bound = copy.copy(self)
                bound.fn = args[0]
                return bound
            raise TypeError(f"{type(self).__name__} has no model to run; give it one: handler(model, ...)")
        with self:
            try:
                return self.fn(*args, **kwargs)
            except RecursionError as e:
                raise RunawayModelError(runaway_message(self.fn, e.__traceback__)) from None


def handler_function(messenger_class):
    """Give a lower-case handler function (``poutine.condition``) its handler class's docstring, example
    included, so that ``help(poutine.condition)`` documents what users call (NumPyro's habit)."""

    def document(fn):
        fn.__doc__ = messenger_class.__doc__
        return fn

    return document


# A generator or async function's body does not run when called: it returns a generator or coroutine.
_SUSPENDS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def check_model(fn):
    """Refuse a generator or async function as a model: its sample statements would never run."""
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & _SUSPENDS:
        kind = "an async function" if code.co_flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR) else \
            "a generator function"
        raise ArgumentTypeError(
            f"model '{model_name(fn)}' is {kind}: calling it returns a "
            f"{'coroutine' if 'async' in kind else 'generator'} without running its body, so none of its sample "
            "statements would run. Write it as a plain function that returns its result (collect values in a "
            "list instead of yielding them; call async code before or after the model)."
        )


def model_name(fn):
    """A readable name for a model: its function name, or its class for callables and modules."""
    inner = fn
    while isinstance(inner, Messenger) and inner.fn is not None:
        inner = inner.fn
    name = getattr(inner, "__qualname__", None) or getattr(inner, "__name__", None)
    return readable_name(name) if name else type(inner).__name__


def readable_name(qualname):
    """``weather`` for ``test.<locals>.weather``; a lambda keeps its maker: ``make_normal_normal.<lambda>``."""
    parts = qualname.split(".<locals>.")
    name = parts[-1]
    if name.startswith("<lambda>") and len(parts) > 1:
        name = parts[-2].rsplit(".", 1)[-1] + "." + name
    return name


def runaway_message(fn, tb):
    """Explain a RecursionError inside a model: which function recursed and how deep."""
    counts = {}
    while tb is not None:
        code = tb.tb_frame.f_code
        counts[code.co_qualname] = counts.get(code.co_qualname, 0) + 1
        tb = tb.tb_next
    deepest, depth = max(counts.items(), key=lambda kv: kv[1]) if counts else ("?", 0)
    return (
        f"model '{model_name(fn)}' did not finish: '{deepest}' recursed {depth} calls deep and ran past "
        "Python's recursion limit. Check that the recursion ends (for a random stopping rule such as "
        "geometric(p), a stopping probability of 0 never stops); if the depth is intended, raise "
        "sys.setrecursionlimit."
    )


# ---- drawing and scoring a site -------------------------------------------------------------------------
def draw(site):
    """The default action of a sample site: draw a value from ``site.fn``."""
    try:
        return draw_from(site.fn)
    except (ValueError, TypeError) as e:
        raise draw_error(site, e) from None


def draw_error(site, error):
    """The error to raise when drawing at ``site`` failed with ``error``."""
    if isinstance(error, UserDistributionError):
        return UserDistributionError(f"site '{site.name}': {error}")
    wrong_type = _non_numeric_param(site)
    if wrong_type is not None:
        return wrong_type
    if isinstance(error, TypeError):  # the deferred constructor ran only now: wrong arguments surface here
        return SiteTypeError(f"site '{site.name}': wrong arguments for {type(site.fn).__name__}: {error}")
    return explain(site, error)


def _non_numeric_param(site):
    """A SiteTypeError naming the first parameter that is neither a number nor a tensor (a str, a dict), or None."""
    deferred = site.fn.__dict__.get("_deferred")
    if deferred is None:
        return None
    args, kwargs = deferred
    names = _param_names(type(site.fn))
    given = list(zip(names, args, strict=False)) + list(kwargs.items())
    for param, value in given:
        if param == "validate_args" or value is None or isinstance(value, (numbers.Real, torch.Tensor, list, tuple)):
            continue
        kind = "complex number" if isinstance(value, complex) else type(value).__name__
        return SiteTypeError(
            f"site '{site.name}': parameter '{param}' of {type(site.fn).__name__} must be a real number or a "
            f"tensor, got {kind} {value!r}. Pass a number or torch.tensor(...) there."
        )
    return None


def _param_names(cls):
    init = getattr(cls, "_torch_class", cls).__init__
    try:
        return [p for p in inspect.signature(init).parameters if p != "self"]
    except (TypeError, ValueError):
        return []


def site_log_prob_float(site):
    """The site's summed log-probability (scale and mask applied) as a Python float.

    Inference loops need a number per site, not a tensor: on the fast scalar path this skips making
    a tensor only to read it back, and keeps double precision.
    """
    if site._log_prob is None and site.mask is None and type(site.scale) in (float, int):
        lp = fast_log_prob(site.fn, site.value)
        if lp is None:
            # A distribution that scores in plain Python (Choice over any values) says so with log_prob_float.
            float_score = getattr(type(site.fn), "log_prob_float", None)
            if float_score is not None:
                lp = float_score(site.fn, site.value)
        if lp is not None:
            return lp * site.scale
    lp = site.log_prob
    return (lp.sum() if lp.dim() else lp).item()


def site_log_prob(site):
    """Log density of ``site.value`` under ``site.fn``, with the site's scale and mask applied."""
    fn, value = site.fn, site.value
    if site.mask is False:  # nothing to score (a deterministic site): skip log_prob, which may be large
        return torch.zeros(fn.batch_shape, dtype=value.dtype, device=value.device)
    lp = fast_log_prob(fn, value)
    if lp is not None:
        lp = torch.scalar_tensor(lp, dtype=score_dtype(fn, value), device=value.device)
    else:
        try:
            lp = fn.log_prob(value)
        except ValueError as e:
            raise explain(site, e) from None
        if not isinstance(lp, torch.Tensor):
            raise UserDistributionError(
                f"site '{site.name}': {type(fn).__name__}.log_prob returned {type(lp).__name__} {lp!r}, not a "
                "tensor. Return a torch.Tensor from the log_prob method of your Distribution class (e.g. "
                "torch.as_tensor(value)), one log-density per batch element."
            )
    scale = site.scale
    if type(scale) is torch.Tensor or scale != 1.0:  # a tensor scale (poutine.scale, Pyro's too) may be batched
        lp = lp * scale
    if site.mask is not None:
        mask = site.mask
        if mask is False:
            return torch.zeros_like(lp)
        if mask is not True:
            lp = torch.where(mask, lp, torch.zeros_like(lp))
    return lp


_TORCH_PARAM = re.compile(r"Expected parameter (\w+) .*? of distribution (\w+).*?to satisfy the constraint (.*?), "
                          r"but found invalid values:\s*(.*)", re.S)
_TORCH_SUPPORT = re.compile(r"Expected value argument .*? to be within the support \((.*?)\) of the distribution "
                            r"(\w+)", re.S)


def explain(site, error):
    """Re-word torch's validation error so that it names the site, the parameter and the fix."""
    text = str(error)
    m = _TORCH_PARAM.search(text)
    if m:
        param, dname, constraint, found = m.groups()
        return InvalidParameterError(
            f"site '{site.name}': parameter '{param}' of {dname} must satisfy {constraint}, "
            f"but got {found.strip()}. Fix the value passed as '{param}' to this sample statement."
        )
    m = _TORCH_SUPPORT.search(text)
    if m:
        support, dname = m.groups()
        if site.is_observed:
            fix = "Fix the observed value (obs=... or condition's data) or choose a distribution whose support contains it."
        else:  # a latent site's value that no draw made: replay, a guide, substitute
            fix = ("This latent site's value was given, not drawn (by replay, a guide's trace or substitute): the "
                   "distribution that chose it had a different support. Make the two distributions at this site "
                   "agree, or give a value inside the support.")
        return InvalidParameterError(
            f"site '{site.name}': value {site.value!r} is outside the support {support} of {dname}. {fix}"
        )
    if isinstance(error, InvalidParameterError):
        return InvalidParameterError(f"site '{site.name}': {text}. Fix the value passed to this sample statement.")
    return InvalidParameterError(f"site '{site.name}': {text}")
