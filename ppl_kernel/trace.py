"""Trace: the sites of one run, in order, and the call tree they happened in.

Each site hangs under the stochastic-function call that made it; calls nest as they did at run
time (``geometric`` calling itself, a returned lambda calling ``normal_product``). ``print(trace)``
draws the tree with box-drawing characters, as Gen prints a choice map; ``_repr_html_`` draws the
same tree as collapsible HTML.
"""

import html

import torch

from .errors import ReservedNameError
from .number_format import format_number
from .runtime import Site, readable_name

RETURN = "_RETURN"
_NO_KWARGS = {}  # shared by every return node, which has no arguments (never mutated)


class CallNode:
    """One call of a stochastic function: its name, arguments, return value and what happened inside.

    ``children`` holds :class:`CallNode` and site objects in the order they happened.
    """

    __slots__ = ("name", "args", "ret", "returned", "children", "parent")

    def __init__(self, name, args=(), parent=None):
        self.name = name
        self.args = args  # ((arg name or None, value), ...)
        self.ret = None
        self.returned = False
        self.children = []
        self.parent = parent

    @property
    def calls(self):
        return [c for c in self.children if isinstance(c, CallNode)]

    @property
    def sites(self):
        return [c for c in self.children if not isinstance(c, CallNode)]

    @property
    def depth(self):
        d, node = 0, self.parent
        while node is not None:
            d, node = d + 1, node.parent
        return d

    def path(self):
        """The chain of calls from the root to this one."""
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]

    def signature(self):
        parts = [short(v) if k is None else f"{k}={short(v)}" for k, v in self.args]
        return f"{self.name}({', '.join(parts)})"

    def walk(self):
        """Every call node under (and including) this one, depth first."""
        yield self
        for child in self.children:
            if isinstance(child, CallNode):
                yield from child.walk()

    def __repr__(self):
        return f"CallNode({self.signature()}, {len(self.children)} children)"


def short(value, width=40):
    """A short readable form of a value: numbers rounded, small tensors as lists, long text cut."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            text = format_number(value.item(), decimal_point=True)
        elif value.numel() <= 6:
            text = "[" + ", ".join(format_number(v, decimal_point=True) for v in value.flatten().tolist()) + "]"
        elif value.dim() == 1:
            text = f"[{value.numel()} values]"
        else:
            text = f"tensor{tuple(value.shape)}"
    elif isinstance(value, float):
        text = format_number(value, decimal_point=True)
    elif isinstance(value, tuple):
        text = "(" + ", ".join(short(v, width) for v in value) + ("," if len(value) == 1 else "") + ")"
    elif callable(value) and hasattr(value, "__name__"):
        text = f"<fn {readable_name(getattr(value, '__qualname__', value.__name__))}>"
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_distribution(d):
    """``Normal(55.0, 10.0)``: the family and its parameters, short."""
    deferred = d.__dict__.get("_deferred")
    name = type(d).__name__
    if deferred is not None:
        args, kwargs = deferred
        parts = [short(a, 16) for a in args] + [f"{k}={short(v, 16)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(parts)})"
    params = []
    for key in getattr(d, "arg_constraints", {}):
        if key in d.__dict__ and not (key == "logits" and "probs" in d.__dict__):
            params.append(short(d.__dict__[key], 16))
    return f"{name}({', '.join(params)})"


INDENT_LEVELS = 24  # deeper lines show their depth instead of more indentation


def _prefix(parts):
    if len(parts) <= INDENT_LEVELS:
        return "".join(parts)
    return f"┊{len(parts)}┊ " + "".join(parts[-INDENT_LEVELS // 2:])


class Trace:
    """The record of one run: ``trace["x"]`` is the site named x; iterating gives the sites in order.

    ``trace.nodes`` is a dict name -> site in run order (with ``"_RETURN"`` last, as in Pyro);
    ``trace.root`` is the call tree.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     return pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> tr = poutine.trace(model).get_trace()
    >>> [site.name for site in tr], tr.root.name
    (['x'], 'model')
    """

    def __init__(self, root=None):
        self.nodes = {}  # name -> site, in the order the run made them
        self.root = root

    def add_return(self, ret):
        """Record the run's return value as the node ``"_RETURN"`` (last, as in Pyro).

        Checked here, once per run rather than once per site: a user's site of that name would
        otherwise be silently replaced by the return value.
        """
        site = self.nodes.get(RETURN)
        if site is not None:
            model = self.root.name if self.root is not None else "the model"
            raise ReservedNameError(
                f"model '{model}' has a {site.type} site named '{RETURN}', the name a trace keeps for the model's "
                f"return value. Rename the site (e.g. pyro.sample(\"return_value\", ...))."
            )
        self.nodes[RETURN] = Site("return", RETURN, None, (), _NO_KWARGS, ret)

    def __getitem__(self, name):
        return self.nodes[name]

    def __contains__(self, name):
        return name in self.nodes

    def __iter__(self):
        return (s for name, s in self.nodes.items() if name != RETURN)

    def __len__(self):
        return sum(1 for _ in self)

    @property
    def sites(self):
        return list(self)

    @property
    def sample_sites(self):
        return [s for s in self if s.type == "sample"]

    @property
    def stochastic_nodes(self):
        """Names of the latent (not observed) sample sites."""
        return [s.name for s in self if s.is_latent]

    @property
    def observation_nodes(self):
        return [s.name for s in self if s.kind == "observed"]

    @property
    def return_value(self):
        ret = self.nodes.get(RETURN)
        return None if ret is None else ret.value

    def log_prob_sum(self, site_filter=None):
        """Sum of the log-probabilities of all sample sites (``site_filter(name, site)`` selects some)."""
        total = 0.0
        for site in self:
            if site.type == "sample" and (site_filter is None or site_filter(site.name, site)):
                total = total + site.log_prob_sum()
        return total if torch.is_tensor(total) else torch.tensor(total)

    def compute_log_prob(self, site_filter=lambda name, site: True):
        """Fill in every sample site's log-probability now (Pyro's spelling; they are also computed on demand)."""
        for site in self:
            if site.type == "sample" and site_filter(site.name, site):
                site.log_prob  # noqa: B018  (computes and caches)

    def copy(self):
        new = Trace(self.root)
        new.nodes = dict(self.nodes)
        return new

    # ---- renderings -------------------------------------------------------------------------------
    def format_shapes(self, title="Trace Shapes:", last_site=None):
        """A table of every site's shapes, as Pyro's: params, then per sample site its distribution's
        ``batch | event`` shape, its value's, and its log_prob's once computed (``compute_log_prob()``).

        >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
        >>> from ppl_kernel import poutine
        >>> def model():
        ...     with pyro.plate("data", 3):
        ...         pyro.sample("x", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        >>> print(poutine.trace(model).get_trace().format_shapes())
        Trace Shapes:
         Param Sites:
        Sample Sites:
               x dist 3 | 2
                value 3 | 2
        """
        if not self.nodes:
            return title
        params, samples = [], []
        for name, site in self.nodes.items():
            if site.type == "param":
                params.append([name, list(getattr(site.value, "shape", ())), None])
            elif site.type == "sample":
                batch, event = tuple(getattr(site.fn, "batch_shape", ())), tuple(getattr(site.fn, "event_shape", ()))
                samples.append([f"{name} dist", list(batch), list(event)])
                shape = tuple(getattr(site.value, "shape", ()))
                split = len(shape) - len(event)
                samples.append(["value", list(shape[:split]), list(shape[split:])])
                if site._log_prob is not None:
                    samples.append(["log_prob", list(site._log_prob.shape), []])
            if name == last_site:
                break
        return _shape_table(title, params, samples)

    def site_line(self, site):
        if site.type != "sample":  # param, a plate's minibatch (subsample), a user's effectful operation
            return f"{site.name} : {site.type} = {short(site.value)}"
        dist_text = describe_distribution(site.fn)
        mark = "  (observed)" if site.is_observed else ""
        try:
            lp = f"  log p = {format_number(site.log_prob_sum().item(), decimal_point=True)}"
        except Exception:  # a site that cannot be scored still shows
            lp = ""
        return f"{site.name} ~ {dist_text} = {short(site.value)}{lp}{mark}"

    def call_line(self, node):
        text = node.signature()
        if node.returned:
            text += f" → {short(node.ret)}"
        return text

    def format(self, max_lines=None):
        """The call tree as text, one line per call and per site, Gen-style.

        Past ``INDENT_LEVELS`` levels a line shows its depth instead of more indentation, so the text
        of a recursion n deep grows as n, not n squared. ``max_lines`` cuts it with a last line saying
        how many were left out.
        """
        lines = list(self._lines(max_lines))
        return "\n".join(lines)

    def _lines(self, max_lines=None):
        count = 0
        for line in self._all_lines():
            if max_lines is not None and count >= max_lines:
                yield f"… (more lines not shown: the trace has {len(self)} sites; print(trace) shows them all)"
                return
            count += 1
            yield line

    def _all_lines(self):
        if self.root is None:
            for s in self:
                yield self.site_line(s)
            return
        yield self.call_line(self.root)
        if not self.root.children:  # recorded without the call tree: the sites, flat
            sites = self.sites
            for i, s in enumerate(sites):
                yield ("└── " if i == len(sites) - 1 else "├── ") + self.site_line(s)
            return
        # Depth first with an explicit stack (no recursion limit): (node, index of next child, prefix parts).
        stack = [(self.root, 0, [])]
        while stack:
            node, i, parts = stack.pop()
            children = node.children
            if i >= len(children):
                continue
            child = children[i]
            last = i == len(children) - 1
            stack.append((node, i + 1, parts))
            prefix = _prefix(parts)
            if isinstance(child, CallNode):
                yield prefix + ("└── " if last else "├── ") + self.call_line(child)
                stack.append((child, 0, parts + ["    " if last else "│   "]))
            else:
                yield prefix + ("└── " if last else "├── ") + self.site_line(child)

    def __str__(self):
        return self.format()

    def __repr__(self):
        names = ", ".join(s.name for s in self)
        return f"<Trace of {self.root.name if self.root else 'a run'}: {names}>"

    def _repr_html_(self, max_nodes=None):
        """The call tree as collapsible HTML; ``max_nodes`` cuts it (with a line saying so)."""
        if self.root is None:
            return "<ul>" + "".join(f"<li>{html.escape(self.site_line(s))}</li>" for s in self) + "</ul>"
        out = ['<div class="ppl-trace" style="font-family: monospace; font-size: 13px">']
        # Depth first with an explicit stack: an entry is a node to open, or the closing tag of a call.
        stack, shown = [self.root], 0
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            if max_nodes is not None and shown >= max_nodes:
                out.append(f"<div>… (more not shown: the trace has {len(self)} sites)</div>")
                out.extend(x for x in reversed(stack) if isinstance(x, str))  # close the open calls
                break
            shown += 1
            if isinstance(item, CallNode):
                out.append(f'<details open style="margin-left: 1.2em"><summary><b>'
                           f'{html.escape(self.call_line(item))}</b></summary>')
                stack.append("</details>")
                stack.extend(reversed(item.children))
            else:
                colour = "#555" if item.is_observed else "#1f5fa8"
                out.append(f'<div style="margin-left: 1.2em; color: {colour}">{html.escape(self.site_line(item))}</div>')
        out.append("</div>")
        return "".join(out)


def _shape_table(title, params, samples):
    """Right-aligned labels, batch sizes right-aligned before a ``|``, event sizes after it."""
    rows = params + samples
    label_width = max([len(r[0]) for r in rows] + [len("Sample Sites:")])
    batch_cols = max([len(r[1]) for r in rows] + [0])
    event_cols = max([len(r[2]) for r in rows if r[2] is not None] + [0])
    widths = [1] * (batch_cols + event_cols)
    for _, batch, event in rows:
        for i, size in enumerate(batch):
            j = batch_cols - len(batch) + i
            widths[j] = max(widths[j], len(str(size)))
        for i, size in enumerate(event or ()):
            widths[batch_cols + i] = max(widths[batch_cols + i], len(str(size)))

    def line(label, batch, event):
        cells = [""] * (batch_cols - len(batch)) + [str(s) for s in batch]
        text = " ".join([label.rjust(label_width)] + [c.rjust(w) for c, w in zip(cells, widths, strict=False)])
        if event is not None:
            text += " |" + "".join(" " + str(s).ljust(widths[batch_cols + i]) for i, s in enumerate(event))
        return text.rstrip()

    lines = [title.rjust(label_width), "Param Sites:".rjust(label_width)]
    lines += [line(*row) for row in params]
    lines.append("Sample Sites:".rjust(label_width))
    lines += [line(*row) for row in samples]
    return "\n".join(lines)
