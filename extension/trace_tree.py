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


def call_state(trace, node, path="0"):
    children = []
    for i, child in enumerate(node.children):
        if isinstance(child, CallNode):
            children.append(call_state(trace, child, f"{path}.{i}"))
        else:
            children.append(site_state(trace, child))
    return {"kind": "call", "name": node.name, "signature": node.signature(), "returned": bool(node.returned),
            "ret": short(node.ret) if node.returned else "", "depth": node.depth, "path": path,
            "children": children}


def tree_state(trace):
    """The trace's call tree as nested JSON; a trace recorded without calls shows its sites flat under the root."""
    root = trace.root
    if root is None or (not root.children and len(trace)):
        flat = CallNode(root.name if root is not None else "run", root.args if root is not None else ())
        if root is not None:
            flat.ret, flat.returned = root.ret, root.returned
        flat.children = list(trace)
        return call_state(trace, flat)
    return call_state(trace, root)


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

    def _on_message(self, widget, content, buffers):
        if isinstance(content, dict) and content.get("type") == "resample":
            try:
                self.resample()
            except Exception:  # already shown in the widget's error line
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
        data["text/plain"] = str(self.trace) if self._has_tree() else "\n".join(map(self.trace.site_line, self.trace))
        data["text/html"] = self.trace._repr_html_()
        return data, meta

    def _has_tree(self):
        return self.trace.root is not None and bool(self.trace.root.children)
