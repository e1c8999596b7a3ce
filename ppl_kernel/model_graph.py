"""A model's graph: its random variables and which ones each depends on, found by running it.

The model runs a few times under :class:`_GraphRecorder`. Each site's value leaves the site as a
:class:`~ppl_kernel.provenance.TrackedTensor` naming the site, so a later distribution built from it
carries that name in its parameters: a *data* edge. A value read into Python (``if x.item() == 0``)
may steer everything after it, so every site sampled after such a read gets a *control* edge from
the value read. The graph is the union over the runs; a site present in only some runs is marked.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
>>> def model(data):
...     mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
...     with pyro.plate("data", len(data)):
...         pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)
>>> graph = pyro.render_model(model, model_args=(torch.zeros(3),))
>>> graph.edges
{('mu', 'obs'): 'data'}
>>> graph.nodes["obs"].kind, graph.nodes["obs"].plates
('observed', (('data', 3),))
>>> graph.svg.startswith("<svg")
True
"""

import base64
import copy
import html
import os
import random
import shutil
import subprocess

import torch

from .errors import GraphvizError
from .model_graph_svg import graph_svg
from .provenance import listen_for_reads, provenance_of, track, untrack
from .runtime import Messenger, model_name

RETURN = "return"  # the node of the model's return value (sites are strings a user chose; see _return_key)


class GraphNode:
    """One node of a :class:`ModelGraph`: a site (or the return value) and what it is.

    ``kind`` is the site's kind (``latent``, ``observed``, ``deterministic``, ``auxiliary``, ``param``)
    or ``return``; ``distribution`` the distribution's class name (a param's: its constraint, if it has one); ``plates`` the ``(name, size)``
    pairs of the plates around it, outermost first; ``runs`` how many of the graph's runs had it and
    ``observed_runs`` how many of those observed it (a semi-supervised model observes a site in some runs only:
    its kind is then ``observed`` and :attr:`observed` is ``None``).
    """

    __slots__ = ("name", "kind", "distribution", "plates", "runs", "observed_runs")

    def __init__(self, name, kind, distribution, plates):
        self.name = name
        self.kind = kind
        self.distribution = distribution
        self.plates = plates
        self.runs = 0
        self.observed_runs = 0

    @property
    def observed(self):
        """``True`` if every run that had the site observed it, ``False`` if none did, ``None`` if some did (Pyro's vote)."""
        if self.observed_runs == 0:
            return False
        return True if self.observed_runs == self.runs else None

    def __repr__(self):
        return f"GraphNode({self.name!r}, {self.kind}, {self.distribution}, plates={self.plates}, runs={self.runs})"


class ModelGraph:
    """The random variables of a model and the dependencies between them, over one or more runs.

    ``nodes`` maps a name to its :class:`GraphNode` (in the order the sites first appeared);
    ``edges`` maps ``(parent, child)`` to ``"data"`` (the child's distribution is computed from the
    parent's value) or ``"control"`` (the parent's value was read into Python before the child was
    sampled, so it may have decided whether or how the child is sampled). In Jupyter it displays as
    an SVG picture; ``.svg`` is that picture and ``.source`` the same graph in Graphviz's DOT language.
    """

    def __init__(self, model, runs, render_distributions=False):
        self.model = model_name(model)
        self.runs = runs
        self.nodes = {}
        self.edges = {}
        self.render_distributions = render_distributions
        self.format = "svg"  # what render() writes when given no format (graphviz.Digraph's attribute)
        self.leaf_stagger = {}  # name -> extra layers below its parents, set by unflatten()

    def parents(self, name):
        """The names the node ``name`` depends on, in the order they appeared."""
        return [parent for parent in self.nodes if (parent, name) in self.edges]

    def sometimes(self, name):
        """Whether the node appeared in only some of the runs (structure that changes run to run)."""
        return self.nodes[name].runs < self.runs

    @property
    def plates(self):
        """Each plate's name and size, outermost first in the order they appeared."""
        found = {}
        for node in self.nodes.values():
            for name, size in node.plates:
                found.setdefault(name, size)
        return found

    @property
    def svg(self):
        """The picture: a self-contained SVG document (no network, no Graphviz needed)."""
        return graph_svg(self)

    def _repr_svg_(self):
        return self.svg

    def _repr_html_(self):
        # The same SVG as an image: JupyterLab shows HTML (sanitized) even in a notebook it does not trust
        # (one reopened elsewhere), where it refuses to render raw SVG output.
        data = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        return f'<img src="data:image/svg+xml;base64,{data}" alt="{html.escape(repr(self))}"/>'

    @property
    def source(self):
        """The graph in Graphviz's DOT language (``dot -Tpdf``): plates as clusters, observed sites shaded."""
        lines = [f'digraph "{_dot_escape(self.model)}" {{', "  node [fontname=sans];"]
        clusters = {}
        for node in self.nodes.values():
            clusters.setdefault(tuple(name for name, _ in node.plates), []).append(node)
        sizes = self.plates
        opened = ()
        for key in sorted(clusters):
            common = 0
            while common < min(len(opened), len(key)) and opened[common] == key[common]:
                common += 1
            lines.extend("  " * (depth + 1) + "}" for depth in reversed(range(common, len(opened))))
            for depth in range(common, len(key)):
                indent = "  " * (depth + 1)
                lines.append(f'{indent}subgraph "cluster_{_dot_escape(key[depth])}" {{')
                lines.append(f'{indent}  label="{_dot_escape(key[depth])} ({sizes[key[depth]]})"; labeljust=r; labelloc=b;')
            opened = key
            indent = "  " * (len(key) + 1)
            for node in clusters[key]:
                lines.append(f"{indent}{self._dot_node(node)}")
        lines.extend("  " * (depth + 1) + "}" for depth in reversed(range(len(opened))))
        for (parent, child), kind in self.edges.items():
            style = " [style=dashed]" if kind == "control" else ""
            lines.append(f'  "{_dot_escape(parent)}" -> "{_dot_escape(child)}"{style};')
        lines.append("}")
        return "\n".join(lines)

    def _dot_node(self, node):
        label = self.label(node)
        attributes = [f'label="{_dot_escape(label)}"']
        shape = {"deterministic": "box", "param": "plain", "return": "box"}.get(node.kind, "ellipse")
        attributes.append(f"shape={shape}")
        styles = []
        if node.kind == "observed":
            styles.append("filled")
            # Graphviz's gradient fill for a site observed in some runs only, as Pyro draws it
            attributes.append("fillcolor=gray" if node.observed else 'fillcolor="gray:white"')
        if self.sometimes(node.name):
            styles.append("dashed")
        if styles:
            attributes.append(f'style="{",".join(styles)}"')
        return f'"{_dot_escape(node.name)}" [{", ".join(attributes)}];'

    def label(self, node):
        """What a node says: its name, and its distribution (a param: its constraint) when the graph renders them."""
        name = "return value" if node.kind == "return" else node.name
        if self.render_distributions and node.distribution:
            return f"{name} : {node.distribution}" if node.kind == "param" else f"{name} ~ {node.distribution}"
        return name

    def save(self, filename, format=None):
        """Write the picture to ``filename`` in ``format`` (default: the file's suffix): ``svg`` (drawn without
        Graphviz), ``dot`` / ``gv`` (the DOT source), or any other format Graphviz's ``dot`` program writes
        (``pdf``, ``png``, ...), which then must be installed.

        >>> import tempfile, os, ppl_kernel as pyro, ppl_kernel.distributions as dist
        >>> graph = pyro.render_model(lambda: pyro.sample("x", dist.Normal(0.0, 1.0)))
        >>> path = os.path.join(tempfile.mkdtemp(), "model.dot")
        >>> graph.save(path)
        >>> open(path).read().startswith("digraph")
        True
        """
        filename = os.fspath(filename)
        format = (format or os.path.splitext(filename)[1][1:] or self.format).lower()
        if format == "svg":
            data = self.svg.encode("utf-8")
        elif format in ("dot", "gv"):
            data = self.source.encode("utf-8")
        else:
            data = self._graphviz_output(format, filename)
        with open(filename, "wb") as f:
            f.write(data)

    def _graphviz_output(self, format, filename):
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizError(
                f"Saving the graph of model {self.model!r} to {filename!r} as {format.upper()} needs Graphviz's `dot` "
                "program, which is not on PATH. Save it as .svg (drawn without Graphviz) or .dot instead, or install "
                "Graphviz (apt-get install graphviz, conda install graphviz, brew install graphviz).")
        done = subprocess.run([dot, f"-T{format}"], input=self.source.encode("utf-8"), capture_output=True)
        if done.returncode != 0:
            raise GraphvizError(
                f"Graphviz's dot could not write the graph of model {self.model!r} as {format!r}: "
                f"{done.stderr.decode(errors='replace').strip()} -- give a format dot knows (dot -T? lists them), or .svg.")
        return done.stdout

    def render(self, filename=None, directory=None, format=None, view=False, cleanup=False):
        """Write the picture as graphviz.Digraph.render does: to ``filename`` plus ``"." + format`` (default
        ``self.format``, ``svg``) in ``directory``; returns the path written. ``view`` and ``cleanup`` are accepted
        for graphviz's signature (no DOT source file is left behind to clean up, nothing is opened).

        >>> import tempfile, ppl_kernel as pyro, ppl_kernel.distributions as dist
        >>> graph = pyro.render_model(lambda: pyro.sample("x", dist.Normal(0.0, 1.0)))
        >>> path = graph.render("model", directory=tempfile.mkdtemp())
        >>> path.endswith("model.svg"), open(path).read().startswith("<svg")
        (True, True)
        """
        format = format or self.format
        path = f"{filename or self.model}.{format}"
        if directory is not None:
            path = os.path.join(directory, path)
        self.save(path, format)
        return path

    def unflatten(self, stagger=None, fanout=False, chain=None):
        """A copy whose picture is less wide, as Graphviz's ``unflatten`` makes it: with ``stagger=m`` the
        leaves (nodes with no children) that share a parent are put 1, 2, ..., m layers below it in turn, instead
        of all on one row. ``fanout`` and ``chain`` are accepted for graphviz's signature; the hand-made layout
        has no use for them.

        >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     for i in range(4):
        ...         pyro.sample(f"y{i}", dist.Normal(x, 1.0))
        >>> pyro.render_model(model).unflatten(stagger=2).leaf_stagger
        {'y0': 0, 'y1': 1, 'y2': 0, 'y3': 1}
        """
        if stagger is not None and (not isinstance(stagger, int) or stagger < 1):
            raise ValueError(f"unflatten(stagger={stagger!r}) of model {self.model!r}: stagger is how many layers "
                             "the leaves spread over; give a whole number of at least 1.")
        graph = copy.copy(self)
        graph.leaf_stagger = {}
        if stagger:
            has_children = {parent for parent, _ in self.edges}
            placed = {}  # parent -> how many of its leaves are placed so far
            for name in self.nodes:
                parents = self.parents(name)
                if name in has_children or not parents:
                    continue
                parent = parents[-1]
                graph.leaf_stagger[name] = placed.get(parent, 0) % stagger
                placed[parent] = placed.get(parent, 0) + 1
        return graph

    def __repr__(self):
        return f"ModelGraph({self.model!r}, nodes={list(self.nodes)}, edges={self.edges})"


def render_model(model, model_args=None, model_kwargs=None, filename=None, render_distributions=False,
                 render_params=False, render_deterministic=False, runs=10):
    """The graph of ``model``'s random variables and their dependencies (Pyro's ``render_model``).

    The model is run ``runs`` times with ``model_args`` and ``model_kwargs``; the graph is the union
    of what the runs did, and sites that appeared in only some runs are drawn dashed. Observed sites
    are shaded, plates are boxes labelled with their size; deterministic sites are left out, their
    edges joined through, unless ``render_deterministic=True`` draws them as rectangles (Pyro's default and
    option); dashed
    arrows are control dependencies (a value read into Python before the site was sampled). The
    global random state is left as it was. ``filename`` also saves the picture (see
    :meth:`ModelGraph.save`).

    As in Pyro, a *list* of argument tuples (``model_args``) or of keyword dicts (``model_kwargs``) draws a
    semi-supervised model: the graph is the union over the calls, and a site observed in some calls only is
    half shaded (its node's ``observed`` is ``None``). The graph displays itself in Jupyter and has
    graphviz.Digraph's ``source``, ``format``, ``render`` and ``unflatten``, so code written for Pyro's
    graphviz object runs; it needs no Graphviz installed.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def weather():
    ...     cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    ...     temp = pyro.sample("temp", dist.Normal(55.0 if cloudy.item() else 75.0, 10.0))
    ...     return temp
    >>> graph = pyro.render_model(weather, render_distributions=True)
    >>> graph.edges
    {('cloudy', 'temp'): 'control', ('cloudy', 'return'): 'control', ('temp', 'return'): 'data'}
    >>> graph.label(graph.nodes["temp"])
    'temp ~ Normal'
    """
    if not callable(model):
        raise TypeError(f"render_model(model, ...): model must be a callable model, got {type(model).__name__} {model!r}.")
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"render_model(..., runs={runs!r}): runs is how often to run the model; give a whole number of at least 1.")
    calls = _calls(model, model_args, model_kwargs)
    graph = ModelGraph(model, runs * len(calls), render_distributions)
    python_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            for args, kwargs in calls:
                for _ in range(runs):
                    _record_run(graph, model, args, kwargs, render_params)
    finally:
        random.setstate(python_state)
    _in_run_order(graph)
    if not render_deterministic:
        _contract(graph, [name for name, node in graph.nodes.items() if node.kind == "deterministic"])
    if filename is not None:
        graph.save(filename)
    return graph


def _calls(model, model_args, model_kwargs):
    """The ``(args, kwargs)`` of each call: one, or one per entry where either is a list (Pyro's semi-supervised
    form; the other one is then shared by every call)."""
    name = model_name(model)
    several = isinstance(model_args, list) or isinstance(model_kwargs, list)
    args_list = model_args if isinstance(model_args, list) else [model_args]
    kwargs_list = model_kwargs if isinstance(model_kwargs, list) else [model_kwargs]
    if several and isinstance(model_args, list) and isinstance(model_kwargs, list) and len(args_list) != len(kwargs_list):
        raise ValueError(f"render_model({name}, ...): {len(args_list)} model_args but {len(kwargs_list)} model_kwargs; "
                         "give one keyword dict per argument tuple (or a single one for all).")
    count = max(len(args_list), len(kwargs_list))
    if count == 0:
        raise ValueError(f"render_model({name}, ...): an empty list of model_args or model_kwargs gives no call to "
                         "draw; give at least one, or None for a model without arguments.")
    calls = []
    for i in range(count):
        args = args_list[i if len(args_list) > 1 else 0]
        kwargs = kwargs_list[i if len(kwargs_list) > 1 else 0]
        args = () if args is None else tuple(args) if isinstance(args, tuple) else (args,)
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError(f"render_model({name}, model_kwargs=...): each model_kwargs must be a dict of keyword "
                            f"arguments, got {type(kwargs).__name__} {kwargs!r}.")
        calls.append((args, dict(kwargs or {})))
    return calls


class _GraphRecorder(Messenger):
    """Records one run: each site's kind, distribution, plates and the names its inputs came from."""

    def __init__(self, render_params):
        super().__init__()
        self.render_params = render_params
        self.read = set()  # names whose values user code has read into Python so far in this run
        self.sites = []  # (name, kind, distribution, plates, data parents, control parents)

    def heard_read(self, names):
        self.read |= names

    def postprocess_message(self, msg):
        if msg.type == "param" and not self.render_params:
            return
        if msg.type not in ("sample", "param"):
            return
        data = _inputs_of(msg) - {msg.name}
        control = frozenset(self.read) - data - {msg.name}
        plates = tuple((frame.name, frame.size) for frame in msg.cond_indep_stack)
        if msg.type == "param":  # its constraint, which Pyro's render_distributions shows for a param
            constraint = msg.args[2] if len(msg.args) > 2 else None
            distribution = None if constraint is None else str(constraint)
        else:
            distribution = None if msg.kind == "deterministic" else _distribution_name(msg.fn)
        self.sites.append((msg.name, msg.kind, distribution, plates, data, control))
        msg.value = track(msg.value, {msg.name})


def _record_run(graph, model, args, kwargs, render_params):
    recorder = _GraphRecorder(render_params)
    with listen_for_reads(recorder.heard_read), recorder:
        result = model(*args, **kwargs)
    seen = set()
    for name, kind, distribution, plates, data, control in recorder.sites:
        _add_node(graph, seen, name, kind, distribution, plates, data, control)
    if result is not None:
        data = provenance_of(result)
        key = RETURN if RETURN not in seen or graph.nodes[RETURN].kind == "return" else "return value"
        _add_node(graph, seen, key, "return", None, (), data, frozenset(recorder.read) - data)


def _add_node(graph, seen, name, kind, distribution, plates, data, control):
    if name not in seen:  # a sequential plate's repeated site counts once per run
        seen.add(name)
        node = graph.nodes.get(name)
        if node is None:
            node = graph.nodes[name] = GraphNode(name, kind, distribution, plates)
        node.runs += 1
        if kind == "observed":
            node.observed_runs += 1
            node.kind = "observed"  # observed in any run: drawn shaded (half shaded when not in all)
    for parent in data:
        graph.edges[(parent, name)] = "data"
    for parent in control:
        graph.edges.setdefault((parent, name), "control")


def _inputs_of(msg):
    """The names the site's distribution was computed from: the provenance of its log-density at the value
    (which sees every parameter, however the distribution stores it)."""
    if msg.type == "param":
        return frozenset()
    try:
        return provenance_of(msg.fn.log_prob(untrack(msg.value)))
    except Exception:  # a distribution that cannot score here: read its tensor attributes instead
        return provenance_of([v for v in vars(msg.fn).values() if isinstance(v, torch.Tensor)])


def _distribution_name(fn):
    while type(fn).__name__ == "Independent" and hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return type(fn).__name__


def _in_run_order(graph):
    """Return values last, edges in the order of their child then parent, whatever run found them first."""
    nodes = sorted(graph.nodes.values(), key=lambda node: node.kind == "return")
    graph.nodes = {node.name: node for node in nodes}
    rank = {name: i for i, name in enumerate(graph.nodes)}
    graph.edges = dict(sorted(graph.edges.items(), key=lambda item: (rank[item[0][1]], rank[item[0][0]])))


def _contract(graph, names):
    """Leave out the nodes ``names``, joining each one's parents to its children."""
    for name in names:
        parents = {p: k for (p, c), k in graph.edges.items() if c == name}
        children = {c: k for (p, c), k in graph.edges.items() if p == name}
        graph.edges = {edge: k for edge, k in graph.edges.items() if name not in edge}
        for parent, into in parents.items():
            for child, out in children.items():
                kind = "data" if into == out == "data" else "control"
                if graph.edges.get((parent, child)) != "data":
                    graph.edges[(parent, child)] = kind
        del graph.nodes[name]


def _dot_escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')
