"""The trace-tree widget: one run of a model as the call tree of its :class:`~ppl_kernel.trace.Trace`.

Each call shows its function's name and arguments (and what it returned); each site sits under
the call that made it with its distribution, value, log-probability and an ``observed`` mark.
Calls collapse and expand; "resample" draws a new run (the user sees the recursion depth or the
branch change). It also shows traces that inference returns: give it a trace and, to resample,
a function returning another one (``posterior.sample_trace``). Without a browser it falls back
to the trace's own text (Gen-style, ``str(trace)``) and HTML (``trace._repr_html_()``).

DOM markers (stable, for browser tests and styling):

- ``div.ppl-tree`` the root, ``data-run`` counts the runs shown (1, then +1 per resample);
- ``button.ppl-resample``, ``button.ppl-expand-all``, ``button.ppl-collapse-all``;
- ``details.ppl-call[data-call=NAME]`` one call (``data-depth``); its ``summary`` holds
  ``span.ppl-call-sig`` (``geometric(p=0.5, t=1)``) and ``span.ppl-call-ret``; click the summary
  to collapse or expand;
- ``button.ppl-more`` (``data-path``) under a call whose children were not all sent: "show N more";
- ``div.ppl-site[data-site=NAME]`` (``data-observed`` ``true``/``false``) with ``span.ppl-site-dist``,
  ``span.ppl-site-value``, ``span.ppl-site-logp`` and, when observed, ``span.ppl-observed``.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel import poutine
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> w = TraceTreeWidget(poutine.trace(coin).get_trace())
>>> w.tree["name"], [c["name"] for c in w.tree["children"]]
('coin', ['c'])
"""

import itertools
import pathlib

import anywidget
import traitlets

from ppl_kernel import poutine
from ppl_kernel.runtime import model_name
from ppl_kernel.trace import CallNode, describe_distribution, short

from .histogram_data import format_number

_STATIC = pathlib.Path(__file__).parent / "static"


def site_state(trace, site):
    """One site as the widget draws it."""
    if site.type == "param":
        dist_text = "param"
    else:
        dist_text = describe_distribution(site.fn)
    try:
        log_prob = format_number(site.log_prob_sum().item()) if site.type == "sample" else None
    except Exception:  # a site that cannot be scored still shows
        log_prob = None
    return {"kind": "site", "name": site.name, "dist": dist_text, "value": short(site.value),
            "log_prob": log_prob, "observed": bool(site.is_observed)}


# What one message may hold: a run of 100,000 sites or a recursion 2000 deep is sent a part at a time;
# "show more" under a call asks the kernel for the next part of it (lazy expansion).
MAX_NODES = 2000  # calls and sites sent in all
MAX_CHILDREN = 200  # children sent per call before its "show more"
MAX_DEPTH = 50  # levels of calls sent below the top (or below a call the user expanded)
MAX_SENT_DEPTH = 300  # no call deeper than this is sent at all (JSON nests a level per call)


def call_state(trace, node, path="0", depth=0, expanded=None, budget=None):
    """``node``'s subtree as nested JSON, within a bound: see :func:`tree_state`.

    Built with an explicit stack (no recursion, whatever the depth). A call whose children were
    not all sent carries ``pending``: how many are left for a "show more".
    """
    expanded = expanded or {}
    left = MAX_NODES * (1 + len(expanded)) if budget is None else budget  # each "show more" adds a page

    def shell(call, path, depth):
        return {"kind": "call", "name": call.name, "signature": call.signature(), "returned": bool(call.returned),
                "ret": short(call.ret) if call.returned else "", "depth": depth, "path": path,
                "children": [], "pending": 0}

    top = shell(node, path, depth)
    left -= 1
    queue = [(node, top, 0)]  # breadth first: the levels near the top are sent before deep ones
    head = 0
    while head < len(queue):
        call, out, levels = queue[head]
        head += 1
        allowance = expanded.get(out["path"])
        if (levels >= MAX_DEPTH and allowance is None) or out["depth"] >= MAX_SENT_DEPTH:
            out["pending"] = len(call.children)
            continue
        shown = MAX_CHILDREN if allowance is None else allowance
        children = call.children
        for i, child in enumerate(children):
            if i >= shown or left <= 0:
                out["pending"] = len(children) - i
                break
            left -= 1
            if isinstance(child, CallNode):
                child_out = shell(child, f"{out['path']}.{i}", out["depth"] + 1)
                out["children"].append(child_out)
                queue.append((child, child_out, 1 if allowance is not None else levels + 1))
            else:
                out["children"].append(site_state(trace, child))
    return top


def tree_state(trace, expanded=None):
    """The trace's call tree as nested JSON; a trace recorded without calls shows its sites flat under the root.

    At most ``MAX_NODES`` nodes, ``MAX_CHILDREN`` children per call and ``MAX_DEPTH`` levels are
    sent; ``expanded`` maps the path of a call the user opened further to how many of its
    children to send (the levels below it start counting again).
    """
    root = trace.root
    if root is None or (not root.children and len(trace)):
        flat = CallNode(root.name if root is not None else "run", root.args if root is not None else ())
        if root is not None:
            flat.ret, flat.returned = root.ret, root.returned
        flat.children = list(trace)
        return call_state(trace, flat, expanded=expanded)
    return call_state(trace, root, expanded=expanded)


class TraceTreeWidget(anywidget.AnyWidget):
    """One run's call tree with collapsible calls and a resample button.

    ``trace``: the run to show. ``resample``: a function of no arguments returning a new Trace
    (for a model: ``lambda: poutine.trace(model).get_trace(*args)``); None hides the button.
    Use :func:`for_model` to build one from a model and its arguments.
    """

    _esm = (_STATIC / "trace_tree.js").read_text()
    _css = (_STATIC / "widgets.css").read_text()

    title = traitlets.Unicode("").tag(sync=True)
    tree = traitlets.Dict().tag(sync=True)
    run = traitlets.Int(1).tag(sync=True)
    info = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    can_resample = traitlets.Bool(False).tag(sync=True)

    def __init__(self, trace, resample=None, title=None, **kwargs):
        super().__init__(**kwargs)
        self._resample = resample
        self.trace = trace
        self.title = title or (trace.root.name if trace.root is not None else "trace")
        self.can_resample = resample is not None
        self._show(trace)
        self.on_msg(self._on_message)

    def _show(self, trace):
        self.trace = trace
        self._expanded = {}
        with self.hold_sync():
            self.tree = tree_state(trace)
            n_sites = len(trace)
            try:
                lp = f", log p = {format_number(trace.log_prob_sum().item())}"
            except Exception:  # an unscorable site: show the tree anyway
                lp = ""
            self.info = f"{n_sites} sites{lp}"

    def resample(self):
        """Draw a new run and show it (what the button does); returns the new trace."""
        if self._resample is None:
            raise TypeError("this trace view has no model to resample; build it with TraceTreeWidget.for_model(...)")
        try:
            trace = self._resample()
        except Exception as e:  # the user's model failed on this run: say so in the widget
            self.error = f"{type(e).__name__}: {e}"
            raise
        self.error = ""
        self._show(trace)
        self.run += 1
        return trace

    def expand(self, path):
        """Send more of the call at ``path``: its next ``MAX_CHILDREN`` children and ``MAX_DEPTH`` levels
        below it (what its "show more" button asks for)."""
        stack, node = [self.tree], None
        while stack:  # the call as last sent: how many of its children the page already has
            candidate = stack.pop()
            if candidate.get("path") == path:
                node = candidate
                break
            stack.extend(c for c in candidate.get("children", ()) if c.get("kind") == "call")
        if node is None:
            raise KeyError(f"no call at path {path!r} in this tree")
        if node["depth"] >= MAX_SENT_DEPTH:
            # A message nests one level per call; past this the browser's and the kernel's JSON would not.
            self.info = (f"calls deeper than {MAX_SENT_DEPTH} levels are shown in the text form: print(trace) "
                         f"or str(widget.trace)")
            return
        self._expanded[path] = len(node["children"]) + MAX_CHILDREN
        self.tree = tree_state(self.trace, self._expanded)

    def _on_message(self, widget, content, buffers):
        if not isinstance(content, dict):
            return
        if content.get("type") == "resample":
            try:
                self.resample()
            except Exception:  # already shown in the widget's error line
                pass
        elif content.get("type") == "expand":
            try:
                self.expand(str(content.get("path")))
            except KeyError:  # a stale click from before a resample: nothing to expand
                pass

    @classmethod
    def for_model(cls, model, args=(), kwargs=None):
        """A tree of one run of ``model(*args, **kwargs)``; resample runs it again."""
        kwargs = dict(kwargs or {})

        def draw():
            return poutine.trace(model).get_trace(*args, **kwargs)

        return cls(draw(), resample=draw, title=model_name(model))

    def __repr__(self):
        return f"<TraceTreeWidget {self.title!r}: run {self.run}>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        # The fallbacks are bounded too: a saved notebook holds the first MAX_NODES lines of a huge run.
        if self._has_tree():
            data["text/plain"] = self.trace.format(max_lines=MAX_NODES)
        else:
            data["text/plain"] = "\n".join(itertools.islice(map(self.trace.site_line, self.trace), MAX_NODES))
        data["text/html"] = self.trace._repr_html_(max_nodes=MAX_NODES)
        return data, meta

    def _has_tree(self):
        return self.trace.root is not None and bool(self.trace.root.children)
