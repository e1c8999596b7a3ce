"""``trace``: record every site of a run, with the call tree it happened in.

The call tree needs no decorators. When a site is recorded we walk up the Python frames from the
``sample`` statement to the traced call, skipping ppl_kernel's and torch's own frames: every user
frame on the way is one stochastic-function call. A frame already seen ends the walk (its
ancestors are known), so a site costs O(1) frames even deep in a recursion. Return values of nested
calls are caught by a profile hook installed only once a nested call appears, so a flat model such
as ``weather`` pays nothing for it.
"""

import sys


from ..errors import DuplicateSiteError, RunawayModelError
from ..runtime import INTERNAL_FOLDERS, Messenger, apply_stack, handler_function, model_name, readable_name, settings
from ..primitives import sample
from ..trace import CallNode, Trace

_ARG_FLAGS = 0x04 | 0x08  # CO_VARARGS | CO_VARKEYWORDS


# The caches below are keyed by strings (a file name, a qualified name), whose hashes Python keeps: hashing a
# code object hashes its whole contents (constants, bytecode), about 0.2 µs, several times per traced site;
# and id(code) is a builtin call, which the profile hook of a nested model's run (_start_profiler) sees.
_internal_files = {}  # co_filename -> bool: is it ppl_kernel's or torch's own?
_APPLY_STACK = apply_stack.__code__
_SAMPLE = sample.__code__


# Comprehensions run in frames of their own (before Python 3.12) but are not calls a user made.
_TRANSPARENT = frozenset({"<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>"})


def _is_internal(code):
    """Frames the call tree skips: ppl_kernel's and torch's own, and comprehension frames."""
    internal = _internal_files.get(code.co_filename)
    if internal is None:
        internal = _internal_files[code.co_filename] = code.co_filename.startswith(INTERNAL_FOLDERS)
    return internal or code.co_name in _TRANSPARENT


_call_names = {}  # co_qualname -> readable call name


def _call_name(code):
    name = _call_names.get(code.co_qualname)
    if name is None:
        name = _call_names[code.co_qualname] = readable_name(code.co_qualname)
    return name


_arg_names = {}  # code -> the names of its parameters (without self); looked up once per new call node


def _call_args(frame):
    code = frame.f_code
    names = _arg_names.get(code)
    if names is None:
        n = code.co_argcount + code.co_kwonlyargcount + bin(code.co_flags & _ARG_FLAGS).count("1")
        names = _arg_names[code] = tuple(name for name in code.co_varnames[:n] if name != "self")
    if not names:
        return ()
    local = frame.f_locals
    return tuple((name, local[name]) for name in names if name in local)


class TraceMessenger(Messenger):
    """Record the sites of a run in a :class:`Trace` (``calls=False`` skips the call tree, for speed).

    ``graph_type`` ("flat" or "dense", Pyro's) is accepted for Pyro code and changes nothing: a Trace
    always holds the sites in run order and the call tree they happened in. ``param_only=True``
    records only ``param`` sites.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model(p):
    ...     return pyro.sample("coin", dist.Bernoulli(p))
    >>> tr = poutine.trace(model).get_trace(0.5)
    >>> tr["coin"].value in (0.0, 1.0), tr.root.signature()
    (True, 'model(p=0.5)')
    >>> with poutine.trace() as tracer:
    ...     model(0.5)  # doctest: +ELLIPSIS
    tensor(...)
    >>> list(tracer.trace.nodes)
    ['coin']
    """

    def __init__(self, fn=None, graph_type=None, param_only=None, calls=True):
        super().__init__(fn)
        if graph_type not in (None, "flat", "dense"):
            raise ValueError(f"poutine.trace: graph_type must be 'flat' or 'dense' (Pyro's names), got {graph_type!r}")
        self.param_only = bool(param_only)
        self.calls = calls
        self.trace = Trace()
        self._name = model_name(fn) if fn is not None else "run"
        inner = self._inner_fn()
        self._fn_code = getattr(inner, "__code__", None)
        # The traced function's parameter names, to name the arguments it is called with.
        names = self._fn_code.co_varnames[: self._fn_code.co_argcount] if self._fn_code is not None else ()
        self._param_names = names[1:] if hasattr(inner, "__self__") else names

    def __enter__(self):
        self.trace = Trace(CallNode(self._name))
        self._profiling = False
        self._max_sites = settings.max_sites  # read once per run: a thread-local read per site costs more
        if self.calls:
            self._root_frame = sys._getframe(1)
            self._root_bound = self.fn is None  # with-form: top-level frames are children of "run"
            self._frames = {}
            self._prev_profiler = None
        return Messenger.__enter__(self)  # named, not super(): once per run, and a super() call costs more

    def _reset(self):
        """Start the trace again (Pyro's hook: ``NonlocalExit.reset_stack`` calls it when a run is retried)."""
        self.trace = Trace(CallNode(self._name))
        if self.calls:
            self._frames = {}
            self._root_bound = self.fn is None

    def __exit__(self, exc_type, exc_value, tb):
        if self._profiling:
            sys.setprofile(self._prev_profiler)
        self._profiling = False
        if self.calls:  # let go of the run's frames
            self._frames = self._root_frame = None
        return Messenger.__exit__(self, exc_type, exc_value, tb)

    def __call__(self, *args, **kwargs):
        if self.fn is None:
            return super().__call__(*args, **kwargs)
        with self:
            if args or kwargs:
                self.trace.root.args = tuple((None, a) for a in args) + tuple(kwargs.items())
            try:
                ret = self.fn(*args, **kwargs)
            except RecursionError as e:
                from ..runtime import runaway_message

                raise RunawayModelError(runaway_message(self.fn, e.__traceback__)) from None
        root = self.trace.root
        root.ret, root.returned = ret, True
        self.trace.add_return(ret)
        return ret

    def get_trace(self, *args, **kwargs):
        """Run the model once and return the trace of that run."""
        self(*args, **kwargs)
        return self.trace

    def postprocess_message(self, msg):
        if self.param_only and msg.type != "param":
            return
        nodes = self.trace.nodes
        call = self._call_of_site() if self.calls else None
        if msg.name in nodes:
            self._duplicate(msg, call)
        if len(nodes) >= self._max_sites:
            depth = call.depth if call is not None else "?"
            raise RunawayModelError(
                f"model '{self.trace.root.name}' made more than {self._max_sites} sites in one run "
                f"(the last, '{msg.name}', at call depth {depth}). Does it stop? Check its stopping rule, or "
                "raise the limit with ppl_kernel.set_max_sites(n)."
            )
        if call is not None:
            msg.call = call
            call.children.append(msg)
        nodes[msg.name] = msg

    def _duplicate(self, msg, call):
        first = self.trace.nodes[msg.name]

        def where(node):
            return " > ".join(n.signature() for n in node.path()) if node is not None else "(call path not recorded)"

        raise DuplicateSiteError(
            f"sample site '{msg.name}' appears twice in one run of model '{self.trace.root.name}': first in "
            f"{where(first.call)}, again in {where(call)}. Each site needs its own name within a run; inside a "
            f"loop or a recursion build the name from the index, e.g. pyro.sample(\"{msg.name}_{{}}\".format(t), ...)."
        )

    # ---- the call tree ---------------------------------------------------------------------------
    def _call_of_site(self):
        frames = self._frames
        root_frame = self._root_frame
        chain = []
        parent = None
        internal_files = _internal_files
        # Start above apply_stack: the frames below it are handlers (ours, or a user's subclass calling
        # super()), however many; above it, sample/factor/param are ppl_kernel's own and the walk skips them.
        # Called from our own postprocess_message, apply_stack is two frames up: look there first.
        f = sys._getframe(2)
        if f.f_code is not _APPLY_STACK:
            f = sys._getframe(1)
            while f is not None and f.f_code is not _APPLY_STACK:
                f = f.f_back
        f = f.f_back if f is not None else sys._getframe(1)
        if f is not None and f.f_code is _SAMPLE:  # the usual caller, ours: skipped without a lookup
            f = f.f_back
        while f is not None and f is not root_frame:
            code = f.f_code
            internal = internal_files.get(code.co_filename)  # _is_internal, inlined for its common case
            if internal is None or not internal and code.co_name in _TRANSPARENT:
                internal = _is_internal(code)
            if not internal:  # only user frames are calls of the tree (frames holds no other)
                parent = frames.get(f)
                if parent is not None:
                    break
                chain.append(f)
            f = f.f_back
        if parent is None:
            parent = self.trace.root
            if not self._root_bound and chain:
                # The outermost user frame is the traced function's own call.
                top = chain.pop()
                frames[top] = parent
                self._root_bound = True
                if self._fn_code is top.f_code:
                    parent.name = _call_name(top.f_code)
                    if parent.args:
                        parent.args = self._named_args(parent.args)
        if chain:
            if self._profiling is False:
                self._start_profiler()
            for f in reversed(chain):
                node = CallNode(_call_name(f.f_code), _call_args(f), parent)
                parent.children.append(node)
                frames[f] = node
                parent = node
        return parent

    def _named_args(self, given):
        """The arguments the traced function was called with, named by its parameters (not the values
        the body may have reassigned since, as in ``if t is None: t = 0``)."""
        positional = [v for k, v in given if k is None]
        return tuple(zip(self._param_names, positional, strict=False)) + tuple((k, v) for k, v in given if k is not None)

    def _inner_fn(self):
        fn = self.fn
        while isinstance(fn, Messenger) and fn.fn is not None:
            fn = fn.fn
        return fn

    def _start_profiler(self):
        frames = self._frames
        prev = sys.getprofile()
        if prev is not None and not callable(prev):
            # A C-level profiler (cProfile, %prun on Python 3.11) cannot be called from Python nor put back
            # with sys.setprofile: step aside for it. The tree and its sites are complete; the nested calls'
            # return values are not recorded during that profiling session.
            self._profiling = None  # asked, and declined: not again in this run
            return

        if prev is None:
            def on_event(frame, event, arg):
                if event == "return":
                    node = frames.get(frame)
                    if node is not None:
                        node.ret, node.returned = arg, True
        else:  # a Python-level profiler (profile.Profile, a user's hook): it keeps seeing every event
            def on_event(frame, event, arg):
                if event == "return":
                    node = frames.get(frame)
                    if node is not None:
                        node.ret, node.returned = arg, True
                return prev(frame, event, arg)

        self._prev_profiler = prev
        self._profiling = True
        sys.setprofile(on_event)


@handler_function(TraceMessenger)
def trace(fn=None, graph_type=None, param_only=None, calls=True):
    return TraceMessenger(fn, graph_type=graph_type, param_only=param_only, calls=calls)
