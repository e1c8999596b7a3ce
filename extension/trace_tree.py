"""One run of a model as the call tree of its :class:`~ppl_kernel.trace.Trace`: a static picture and a widget.

Each call shows its function's name and arguments (and what it returned); each site sits under
the call that made it with its distribution, value, log-probability and an ``observed`` mark.

What ``%trace`` shows is :class:`TraceTree`: self-contained HTML (calls fold with ``<details>``,
colours inherited from the theme, only markup and styles that JupyterLab's sanitizer keeps for an
untrusted notebook) and the trace's text. It needs no kernel, so what the user sees is what a saved,
reopened or exported notebook shows, whichever cell ran last. (A widget view needs its model in a
running kernel: JupyterLab 4 shows "Error displaying widget: model not found" for it in a reopened
notebook, ranking the widget above the HTML beside it; run the cell again for another run.)

:class:`TraceTreeWidget` (``%trace --live``) adds what needs a kernel: a "resample" button (the
user sees the recursion depth or the branch change) and "show more" under a call too large to send
at once. It also shows traces that inference returns: give it a trace and, to resample, a function
returning another one (``posterior.sample_trace``). Its bundle carries the static HTML too, and its
output is replaced by that static picture when the next cell starts; if it is the last cell run
before saving, the saved notebook keeps the widget view.

DOM markers (stable, for browser tests and styling):

- ``div.ppl-tree.ppl-tree-live`` the root (``div.ppl-tree.ppl-tree-static`` in the static tree, which has
  the same classes below it but no ``data-`` attributes and no buttons), ``data-run`` counts the runs shown (1, then +1 per resample);
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

import html
import itertools
import pathlib
import weakref

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


# ---- the static tree: what a saved notebook shows ----------------------------------------------------
# Styles are inline (a reopened notebook is untrusted: no <style>, no scripts) and use no colour of
# their own: text inherits the theme's, secondary text is dimmed with opacity, so light and dark read.
_BOX = "font-family: monospace; font-size: 13px; line-height: 1.45"
_INDENT = "margin-left: 1.4em"
_DIM = "opacity: 0.78"


def _site_html(site):
    parts = [f'<span class="ppl-site-name" style="font-weight: bold">{html.escape(site["name"])}</span> ~ '
             f'<span class="ppl-site-dist">{html.escape(site["dist"])}</span> = '
             f'<span class="ppl-site-value">{html.escape(site["value"])}</span>']
    if site.get("log_prob") is not None:
        parts.append(f' <span class="ppl-site-logp" style="{_DIM}">log p = {html.escape(site["log_prob"])}</span>')
    if site.get("observed"):
        parts.append(' <i class="ppl-observed">observed</i>')
    return f'<div class="ppl-site" style="{_INDENT}">{"".join(parts)}</div>'


def tree_html(state, title="", info=""):
    """A :func:`tree_state` as self-contained HTML: each call a ``<details open>`` that folds on a click.

    Built with an explicit stack, so a deep recursion does not hit Python's recursion limit.

    >>> state = {"kind": "call", "name": "f", "signature": "f()", "returned": True, "ret": "1", "depth": 0,
    ...          "path": "0", "children": [{"kind": "site", "name": "x", "dist": "Bernoulli(0.5)",
    ...                                     "value": "1", "log_prob": "-0.6931", "observed": False}]}
    >>> text = tree_html(state, "f")
    >>> text.count("<details"), "x</span> ~ " in text
    (1, True)
    """
    head = f'<b class="ppl-tree-title">{html.escape(title)}</b>'
    if info:
        head += f' <span class="ppl-tree-info" style="{_DIM}">{html.escape(info)}</span>'
    out = [f'<div class="ppl-tree ppl-tree-static" style="{_BOX}"><div class="ppl-tree-head">{head}</div>']
    stack = [state] if state and state.get("kind") == "call" else []
    while stack:
        item = stack.pop()
        if isinstance(item, str):  # a closing tag, queued when its call was opened
            out.append(item)
            continue
        if item["kind"] == "site":
            out.append(_site_html(item))
            continue
        ret = f'<span class="ppl-call-ret"> → {html.escape(item["ret"])}</span>' if item.get("returned") else ""
        out.append(f'<details open class="ppl-call" style="{_INDENT if item["depth"] else ""}">'
                   f'<summary class="ppl-call-head" style="cursor: pointer">'
                   f'<span class="ppl-call-sig" style="font-weight: bold">{html.escape(item["signature"])}</span>'
                   f'{ret}</summary>')
        closing = "</details>"
        if item.get("pending"):
            closing = (f'<div class="ppl-more" style="{_INDENT}; {_DIM}">… {item["pending"]} more not shown here: '
                       f'print(trace) shows them all</div></details>')
        stack.append(closing)
        stack.extend(reversed(item["children"]))
    out.append("</div>")
    return "".join(out)


def _info(trace):
    try:
        return f"{len(trace)} sites, log p = {format_number(trace.log_prob_sum().item())}"
    except Exception:  # an unscorable site: show the tree anyway
        return f"{len(trace)} sites"


def _trace_text(trace):
    """The trace as text, at most ``MAX_NODES`` lines (what a saved notebook holds of a huge run)."""
    if trace.root is not None and trace.root.children:
        return trace.format(max_lines=MAX_NODES)
    lines = list(itertools.islice(map(trace.site_line, trace), MAX_NODES + 1))
    if len(lines) > MAX_NODES:
        lines[-1] = f"… {len(trace) - MAX_NODES} more sites: print(trace) shows them all"
    return "\n".join(lines)


def static_tree_bundle(trace, title=None):
    """The mimebundle of one run's call tree that every front end draws with no kernel: HTML and text.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> bundle = static_tree_bundle(poutine.trace(lambda: pyro.sample("c", dist.Bernoulli(0.5))).get_trace())
    >>> sorted(bundle), "<details open" in bundle["text/html"]
    (['text/html', 'text/plain'], True)
    """
    return TraceTree(trace, title)._repr_mimebundle_()


class TraceTree:
    """One run's call tree as a static picture: what ``%trace`` shows (see the module docstring).

    ``trace``: the run; ``title``: the heading (default: the model's name). ``tree`` is the call tree
    as :func:`tree_state` sends it (bounded like the widget's first message).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def coin():
    ...     return pyro.sample("c", dist.Bernoulli(0.5))
    >>> view = TraceTree.for_model(coin)
    >>> view.title, [c["name"] for c in view.tree["children"]], sorted(view._repr_mimebundle_())
    ('coin', ['c'], ['text/html', 'text/plain'])
    """

    def __init__(self, trace, title=None):
        self.trace = trace
        self.title = title or (trace.root.name if trace.root is not None else "trace")
        self.tree = tree_state(trace)

    @classmethod
    def for_model(cls, model, args=(), kwargs=None):
        """The tree of one run of ``model(*args, **kwargs)``."""
        return cls(poutine.trace(model).get_trace(*args, **dict(kwargs or {})), title=model_name(model))

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": tree_html(self.tree, self.title, _info(self.trace)), "text/plain": _trace_text(self.trace)}

    def __repr__(self):
        return f"<TraceTree {self.title!r}: {len(self.trace)} sites>"


# Trees shown interactively, still to be replaced by their static picture when the next cell runs.
_LIVE_TREES = weakref.WeakSet()


def finish_live_trees(*_info):
    """Replace every interactive tree's output by the static picture of the run it shows (IPython calls
    this before each cell runs; see the module docstring)."""
    for tree in list(_LIVE_TREES):
        tree.finish()


def _finish_before_next_cell(shell):
    if finish_live_trees not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", finish_live_trees)


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

    def static_bundle(self):
        """HTML and text of the run shown now (what the output becomes when the next cell runs)."""
        return {"text/html": tree_html(self.tree, self.title, self.info), "text/plain": _trace_text(self.trace)}

    def _ipython_display_(self):
        from IPython import get_ipython
        from IPython.display import display

        data, meta = self._repr_mimebundle_()
        data["text/html"] = self.static_bundle()["text/html"]
        self._handle = display(data, metadata=meta, raw=True, display_id=True)
        shell = get_ipython()
        if shell is not None and hasattr(shell, "events"):
            _finish_before_next_cell(shell)
            _LIVE_TREES.add(self)

    def finish(self):
        """End the interactive view: its output becomes the static picture of the run shown now."""
        _LIVE_TREES.discard(self)
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            handle.update(self.static_bundle(), raw=True)

    def __repr__(self):
        return f"<TraceTreeWidget {self.title!r}: run {self.run}>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        # The fallbacks are bounded too: a saved notebook holds the first MAX_NODES lines of a huge run.
        data["text/plain"] = _trace_text(self.trace)
        data["text/html"] = self.trace._repr_html_(max_nodes=MAX_NODES)
        return data, meta
