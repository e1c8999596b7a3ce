"""A batched execution captured once as a graph of torch operations, then replayed without its Python.

A vmapped run of a model pays, on every call, for the model's Python code, the effect handlers, the
distributions' constructors and vmap's own bookkeeping around each operation: for 1000 runs of a small
model that is most of the time (a few microseconds of arithmetic per operation, tens of microseconds of
Python around it). Where the same batched execution is made again and again (MH's steps), we record the
operations one call makes, as torch dispatches them (below vmap, so each is one operation on the whole
batch; under ``functionalize``, so none updates a tensor in place), into a ``torch.fx`` graph; then compute
once what depends on no input and no random draw (a distribution's constant parameters, their logarithms,
an observed value's checks), compute once what is computed twice, drop the views that change nothing,
and replay the rest as generated Python code.

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
    """``fn`` (tensors in, a tuple of tensors out) as a function that replays it (its ``graph_module`` is the
    ``torch.fx`` graph it runs), recorded by one call on ``example_inputs`` (which draws random numbers as a
    call would); any error of that call is raised.

    >>> import torch
    >>> def noisy_double(x):
    ...     return (x * torch.tensor(2.0).exp().log() + torch.rand(x.shape) * 0,)
    >>> replay = capture(noisy_double, torch.ones(3))
    >>> replay(torch.arange(3.0))[0]
    tensor([0., 2., 4.])
    """
    root, graph = torch.nn.Module(), torch.fx.Graph()
    recorder = _Recorder(root, graph)
    for i, x in enumerate(example_inputs):
        recorder.name(x, graph.placeholder(f"input_{i}"))
    with recorder:
        outputs = torch.func.functionalize(fn, remove="mutations")(*example_inputs)
    graph.output(tuple(recorder.node(out) for out in outputs))
    graph_module = torch.fx.GraphModule(root, graph)
    _drop_identity_views(graph_module)
    _merge_repeated(graph_module)
    _fold_constants(graph_module)
    replay = _as_function(graph_module)
    replay.graph_module = graph_module  # what it replays, for reading
    return replay


def _as_function(gm):
    """The graph as straight-line Python calling each operation's C++ entry point (``OpOverload._op``), with
    the constants as globals: a quarter faster than the GraphModule's own code, which calls every operation
    through a Python method and reads every constant as a module attribute."""
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
            names[node] = constant(getattr(gm, node.target))
        elif node.op == "call_function":
            names[node] = f"v{i}"
            target = node.target._op if isinstance(node.target, torch._ops.OpOverload) else node.target
            arguments = [render(a) for a in node.args] + [f"{k}={render(v)}" for k, v in node.kwargs.items()]
            lines.append(f"    {names[node]} = {constant(target)}({', '.join(arguments)})")
        elif node.op == "output":
            lines.append(f"    return {render(node.args[0])}")
    source = f"def replay({', '.join(inputs)}):\n" + "\n".join(lines) + "\n"
    exec(compile(source, "<captured batched step>", "exec"), env)
    return env["replay"]


class _Recorder(TorchDispatchMode):
    """Appends each operation torch dispatches to the graph; a tensor that no recorded operation made (data
    the function closes over) becomes a constant of the graph."""

    def __init__(self, root, graph):
        super().__init__()
        self.root, self.graph = root, graph
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
            self.root.register_buffer(attribute, tensor)
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
    """Replace every view whose result has its input's shape by its input (the graph has no in-place
    updates, so sharing the tensor is safe)."""
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
            known[node] = getattr(gm, node.target)
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
            gm.register_buffer(name, value)
            with gm.graph.inserting_before(node):
                constant = gm.graph.get_attr(name)
            known[constant] = value
            node.replace_all_uses_with(constant)
        elif isinstance(value, (int, float, bool)):
            node.replace_all_uses_with(value)  # a Python number (sym_size of a fixed shape, say)
    _choose_constant_branches(gm, known)
    gm.graph.eliminate_dead_code()
    gm.recompile()


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
