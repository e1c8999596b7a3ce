"""A batched execution captured once as a graph of torch operations, then replayed without its Python.

A vmapped run of a model pays, on every call, for the model's Python code, the effect handlers, the
distributions' constructors and vmap's own bookkeeping around each operation: for 1000 runs of a small
model that is most of the time (a few microseconds of arithmetic per operation, tens of microseconds of
Python around it). Where the same batched execution is made again and again (MH's steps), we record the
operations one call makes, as torch dispatches them (below vmap, so each is one operation on the whole
batch; under ``functionalize``, so none updates a tensor in place), into a ``torch.fx`` graph; then compute
once what depends on no input and no random draw (a distribution's constant parameters, their logarithms,
an observed value's checks), compute once what is computed twice, drop the views and copies that change
nothing, and replay the rest as generated Python code that calls each operation through torch's own Python
binding where that provably dispatches the same operation (about 1 us less per call than the operation's
generic entry point: a quarter of a small batched operation).

Replaying is exact only for a function whose operations are the same on every call: its Python may not
read anything that changes between calls (a counter, the clock, Python's ``random``). A batched model
already may not branch on its sampled values (vmap refuses); the caller checks the rest where it can.

We record with a dispatch mode of our own rather than ``make_fx``: it makes no fake tensor per value and
imports no compiler, so a capture costs tens of milliseconds, not hundreds (and not a second the first time).
"""

import math
import operator

import torch
from torch.fx.node import map_arg
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_unflatten


def capture(fn, *example_inputs):
    """``fn`` (tensors in, a tuple of tensors out) as a function that replays it (its ``graph`` is the
    ``torch.fx`` graph it runs, with its ``constants`` by name and the ``entry_points`` it calls each operation
    through), recorded by one call on ``example_inputs`` (which draws random numbers as a
    call would); any error of that call is raised.

    >>> import torch
    >>> def noisy_double(x):
    ...     return (x * torch.tensor(2.0).exp().log() + torch.rand(x.shape) * 0,)
    >>> replay = capture(noisy_double, torch.ones(3))
    >>> replay(torch.arange(3.0))[0]
    tensor([0., 2., 4.])
    """
    captured = _Graph()
    graph = captured.graph
    recorder = _Recorder(captured)
    for i, x in enumerate(example_inputs):
        recorder.name(x, graph.placeholder(f"input_{i}"))
    with recorder:
        outputs = torch.func.functionalize(fn, remove="mutations")(*example_inputs)
    graph.output(tuple(recorder.node(out) for out in outputs))
    _drop_identity_views(captured)
    _simplify_copies(captured)
    _merge_repeated(captured)
    _fold_constants(captured)
    entry_points = _entry_points(captured, example_inputs)
    replay = _as_function(captured, entry_points)
    # what it replays, for reading: the graph, its constants by name, and how each operation is called
    replay.graph, replay.constants, replay.entry_points = graph, captured.constants, entry_points
    return replay


class _Graph:
    """A graph being captured and the tensors its ``get_attr`` nodes name (a ``torch.fx.GraphModule`` without
    the module: we run our own code, so the code a GraphModule generates on every change would be wasted)."""

    def __init__(self):
        self.graph, self.constants = torch.fx.Graph(), {}


def _as_function(gm, entry_points):
    """The graph as straight-line Python calling each operation through ``entry_points`` (node -> callable, see
    :func:`_entry_points`), with the constants as globals: faster than the GraphModule's own code, which calls
    every operation through a Python method and reads every constant as a module attribute."""
    names, env, lines, inputs = {}, {}, [], []

    def constant(value):
        key = f"k{len(env)}"
        env[key] = value
        return key

    def render(value):
        if isinstance(value, torch.fx.Node):
            return names[value]
        if isinstance(value, (list, tuple)):
            inner = "".join(f"{render(item)}, " for item in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner})"
        if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
            return repr(value)
        return constant(value)  # inf, nan, dtypes, devices, memory formats

    for i, node in enumerate(gm.graph.nodes):
        if node.op == "placeholder":
            names[node] = f"input_{i}"
            inputs.append(names[node])
        elif node.op == "get_attr":
            names[node] = constant(gm.constants[node.target])
        elif node.op == "call_function":
            names[node] = f"v{i}"
            arguments = [render(a) for a in node.args] + [f"{k}={render(v)}" for k, v in node.kwargs.items()]
            lines.append(f"    {names[node]} = {constant(entry_points[node])}({', '.join(arguments)})")
        elif node.op == "output":
            lines.append(f"    return {render(node.args[0])}")
    source = f"def replay({', '.join(inputs)}):\n" + "\n".join(lines) + "\n"
    exec(compile(source, "<captured batched step>", "exec"), env)
    return env["replay"]


# Where torch's Python bindings may hold an operation under another name than its own.
_OTHER_NAMES = {"_to_copy": "to"}


def _entry_points(gm, example_inputs):
    """For each operation of the graph, the fastest way to call it that provably calls it: torch's Python
    binding of the same name (``torch.add``, ``Tensor.to``) where one exists and, called on this graph's
    arguments, dispatches exactly this operation with exactly these arguments; otherwise the operation's own
    C++ entry point (``OpOverload._op``). The bindings parse their arguments in C++ and cost ~1 us less per
    call (a fifth to a quarter of a small batched operation); which overload a binding picks depends only on
    the arguments' types, which are the same on every replay. Found by running the graph once on
    ``example_inputs``, each binding under :class:`_Dispatched`, which checks the one operation it
    dispatches (and draws the random numbers a call draws)."""
    chosen, env, inputs = {}, {}, iter(example_inputs)
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            env[node] = next(inputs)
        elif node.op == "get_attr":
            env[node] = gm.constants[node.target]
        elif node.op == "call_function":
            args, kwargs = map_arg((node.args, node.kwargs), env.__getitem__)
            target = node.target
            chosen[node] = target._op if isinstance(target, torch._ops.OpOverload) else target
            value = _NOTHING
            for binding in _bindings(target):
                check = _Dispatched(target, args, kwargs)
                try:
                    with check:
                        value = binding(*args, **kwargs)
                except Exception:  # noqa: BLE001  (_Mismatch, or a binding that refuses these arguments)
                    continue
                if check.seen:  # (a binding that dispatched nothing is not this operation)
                    chosen[node] = binding
                    break
                value = _NOTHING
            env[node] = chosen[node](*args, **kwargs) if value is _NOTHING else value
    return chosen


_NOTHING = object()


def _bindings(target):
    if not isinstance(target, torch._ops.OpOverload):
        return []
    name = target.overloadpacket.__name__
    name = _OTHER_NAMES.get(name, name)
    found = [getattr(torch._C._VariableFunctions, name, None), getattr(torch._C.TensorBase, name, None)]
    return [binding for binding in found if binding is not None]


class _Mismatch(Exception):
    """A binding dispatched another operation than the graph's, or other arguments, or more than one."""


class _Dispatched(TorchDispatchMode):
    """Lets through exactly one dispatch of ``target`` on ``args`` and ``kwargs`` (tensors the very same
    objects, other values equal and of the same type); raises :class:`_Mismatch` before running anything
    else."""

    def __init__(self, target, args, kwargs):
        super().__init__()
        self.target, self.args, self.kwargs, self.seen = target, args, kwargs, False

    @classmethod
    def _should_skip_dynamo(cls):
        return False  # as _Recorder's

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.seen or func is not self.target or not _same(args, self.args) or not _same(kwargs or {}, self.kwargs):
            raise _Mismatch
        self.seen = True
        return func(*args, **(kwargs or {}))


def _same(a, b):
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN equals NaN here


class _Recorder(TorchDispatchMode):
    """Appends each operation torch dispatches to the graph; a tensor that no recorded operation made (data
    the function closes over) becomes a constant of the graph."""

    def __init__(self, captured):
        super().__init__()
        self.constants, self.graph = captured.constants, captured.graph
        self.nodes, self.alive = {}, []  # id(tensor) -> node; the tensors, so that no id is reused meanwhile

    @classmethod
    def _should_skip_dynamo(cls):
        # Recording never runs under torch.compile: leave __torch_dispatch__ unwrapped, which spares the
        # import of the compiler (a second) on the first capture of a process.
        return False

    def name(self, tensor, node):
        self.nodes[id(tensor)] = node
        self.alive.append(tensor)
        node.meta["shape"], node.meta["stride"], node.meta["dtype"] = tuple(tensor.shape), tuple(tensor.stride()), \
            tensor.dtype

    def node(self, tensor):
        node = self.nodes.get(id(tensor))
        if node is None:
            attribute = f"_constant_{len(self.alive)}"
            self.constants[attribute] = tensor
            node = self.graph.get_attr(attribute)
            self.name(tensor, node)
        return node

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat, spec = tree_flatten((args, kwargs))
        node_args, node_kwargs = tree_unflatten([self.node(a) if isinstance(a, torch.Tensor) else a for a in flat],
                                                spec)
        node = self.graph.call_function(func, tuple(node_args), node_kwargs)
        if isinstance(out, torch.Tensor):
            self.name(out, node)
        elif isinstance(out, (tuple, list)):
            for i, item in enumerate(out):
                if isinstance(item, torch.Tensor):
                    self.name(item, self.graph.call_function(operator.getitem, (node, i)))
        return out


_aten = torch.ops.aten
# Views that vmap puts around every value it hands in and out (moving the run dimension to the front, where
# it already is): each costs a call on every replay and changes nothing.
_VIEWS = (_aten.view.default, _aten.reshape.default, _aten._unsafe_view.default, _aten.expand.default,
          _aten.permute.default, _aten.alias.default)


def _drop_identity_views(gm):
    """Replace every view whose result has its input's shape by its input, and ``select(unsqueeze(x))`` by
    ``x`` (the graph has no in-place updates, so sharing the tensor is safe)."""
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in _VIEWS or not isinstance(node.args[0], torch.fx.Node):
            continue
        source, result = node.args[0].meta, node.meta
        if "shape" not in source or source["shape"] != result["shape"] or source["stride"] != result["stride"]:
            continue
        if node.target is _aten.permute.default and list(node.args[1]) != list(range(len(node.args[1]))):
            continue
        node.replace_all_uses_with(node.args[0])
        gm.graph.erase_node(node)
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and _select_of_unsqueeze(node):
            node.replace_all_uses_with(node.args[0].args[0])
            gm.graph.erase_node(node)


def _select_of_unsqueeze(node):
    """Whether ``node`` is ``select(unsqueeze(x, d), d, 0)``, which is ``x``."""
    if node.target is not _aten.select.int or not isinstance(node.args[0], torch.fx.Node):
        return False
    inner = node.args[0]
    if inner.op != "call_function" or inner.target is not _aten.unsqueeze.default or node.args[2] != 0:
        return False
    rank = len(inner.meta.get("shape", ()))
    return rank and node.args[1] % rank == inner.args[1] % rank


def _simplify_copies(gm):
    """``copy(dst, src)`` (functionalize's form of ``dst.copy_(src)``) of a same-shaped ``src`` is ``src``
    converted to ``dst``'s type: a cheaper operation (``Tensor.to``), or none when the types agree (the graph
    updates nothing in place, so sharing ``src`` is safe)."""
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target is not _aten.copy.default or len(node.args) != 2 or node.kwargs:
            continue
        dst, src = node.args
        if not isinstance(dst, torch.fx.Node) or not isinstance(src, torch.fx.Node):
            continue
        if "shape" not in dst.meta or "shape" not in src.meta or dst.meta["shape"] != src.meta["shape"] or \
                dst.meta["stride"] != src.meta["stride"]:
            continue
        if dst.meta["dtype"] == src.meta["dtype"]:
            node.replace_all_uses_with(src)
        else:
            with gm.graph.inserting_before(node):
                converted = gm.graph.call_function(_aten._to_copy.default, (src,), {"dtype": dst.meta["dtype"]})
            converted.meta.update(node.meta)
            node.replace_all_uses_with(converted)
        gm.graph.erase_node(node)


def _drawn(node):
    """Whether the operation draws random numbers: such a node is never computed ahead."""
    return torch.Tag.nondeterministic_seeded in getattr(node.target, "tags", ())


def _merge_repeated(gm):
    """Compute once what the function computes twice (``cloudy == 1`` in two ``torch.where``): the same
    operation on the same inputs, unless it draws random numbers."""
    seen = {}
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or _drawn(node):
            continue
        try:
            key = (node.target, _hashable(node.args), _hashable(node.kwargs))
            hash(key)
        except TypeError:
            continue
        first = seen.setdefault(key, node)
        if first is not node:
            node.replace_all_uses_with(first)
            gm.graph.erase_node(node)


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _hashable(v)) for k, v in sorted(value.items()))
    return value


def _fold_constants(gm):
    """Replace every operation whose inputs are all constants, and which draws nothing, by its result."""
    known = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            known[node] = gm.constants[node.target]
        elif node.op == "call_function" and not _drawn(node):
            inputs = []
            map_arg((node.args, node.kwargs), inputs.append)
            if all(arg in known for arg in inputs):
                args, kwargs = map_arg((node.args, node.kwargs), known.__getitem__)
                known[node] = node.target(*args, **kwargs)
    folded = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node not in known:
            continue
        if all(user in known for user in node.users):
            continue  # only constants use it: it disappears with them
        value = known[node]
        if isinstance(value, torch.Tensor):
            name = f"_folded_{folded}"
            folded += 1
            gm.constants[name] = value
            with gm.graph.inserting_before(node):
                constant = gm.graph.get_attr(name)
            known[constant] = value
            node.replace_all_uses_with(constant)
        elif isinstance(value, (int, float, bool)):
            node.replace_all_uses_with(value)  # a Python number (sym_size of a fixed shape, say)
    _choose_constant_branches(gm, known)
    gm.graph.eliminate_dead_code()


def _choose_constant_branches(gm, known):
    """``where(condition, a, b)`` with a constant condition that is everywhere true (or false) is ``a`` (``b``)
    when that has the result's shape and type: MH's proposal of a model with one choice, say."""
    for node in list(gm.graph.nodes):
        if node.target is not _aten.where.self or node.args[0] not in known:
            continue
        condition = known[node.args[0]]
        branch = node.args[1] if bool(condition.all()) else node.args[2] if not bool(condition.any()) else None
        if not isinstance(branch, torch.fx.Node) or "shape" not in branch.meta or \
                branch.meta["shape"] != node.meta["shape"] or branch.meta.get("dtype") != node.meta.get("dtype"):
            continue
        node.replace_all_uses_with(branch)
