"""Posteriors display themselves: the same histogram panels, weighted, with a one-line summary.

ppl_kernel does not import IPython, so the display is attached from this side:
:func:`register` tells IPython's display formatters how to show a ``TracePosterior`` (and every
inference result, its subclasses), an ``EmpiricalMarginal`` and a ``Trace``. The formatters are
registered by module and class name, so nothing here imports the classes before they are used.

Shown: a :class:`~ppl_kernel_jupyter.histogram_widget.HistogramWidget` (weights from the posterior's
normalized log-weights) followed by a static PNG + text summary, as after a ``%%model`` run.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel import poutine
>>> from ppl_kernel.infer import TracePosterior
>>> post = TracePosterior()
>>> for _ in range(4):
...     _ = post.add(poutine.trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0))).get_trace())
>>> posterior_summary(post)
'TracePosterior: 4 traces, ESS 4.0'
"""

from IPython.display import display

from .histogram_data import HistogramData, format_number
from .histogram_figure import static_bundle
from .histogram_widget import HistogramWidget
from .static_output import widget_bundle

_FORMATTED = (
    ("ppl_kernel.infer.posterior", "TracePosterior"),
    ("ppl_kernel.infer.posterior", "EmpiricalMarginal"),
)


def posterior_data(posterior):
    """Panels of a posterior's traces, each weighted by its normalized weight."""
    data = HistogramData()
    if not len(posterior):
        return data
    weights = posterior.get_normalized_weights().tolist()
    data.add_runs(posterior.store, 0, len(weights), weights)
    data.weighted = len(set(weights)) > 1
    return data


def marginal_data(marginal):
    """One panel (or one per element) for an EmpiricalMarginal's values, weighted."""
    data = HistogramData()
    sites = marginal.sites
    name = "return" if sites is None else sites if isinstance(sites, str) else ", ".join(sites)
    weights = marginal.weights.tolist()
    for value, w in zip(marginal.values, weights, strict=True):
        data.add_value(name, value, w)
    data.weighted = len(set(weights)) > 1
    return data


def posterior_summary(posterior):
    n = len(posterior)
    parts = [f"{type(posterior).__name__}: {n} traces"]
    if posterior.partial:
        parts.append("partial (stopped early)")
    if n:
        try:
            parts.append(f"ESS {posterior.get_ESS():.1f}")
        except ValueError as e:  # every weight zero: say so instead of failing to display
            parts.append(str(e).split(":")[0])
    return ", ".join(parts)


def marginal_summary(marginal):
    text = f"EmpiricalMarginal of {marginal._what()}: {len(marginal.values)} values"
    if marginal.missing_mass > 0:
        text += f" (site absent in runs of weight {format_number(marginal.missing_mass)})"
    if marginal.is_numeric and marginal.samples.dim() == 1:
        text += f", mean {format_number(marginal.mean.item())}, sd {format_number(marginal.stddev.item())}"
    elif not marginal.is_numeric or marginal.is_discrete:
        top = sorted(zip(marginal.support, marginal.probs.tolist(), strict=True), key=lambda kv: -kv[1])[:3]
        text += ", " + ", ".join(f"{_short(v)}: {format_number(round(p, 4))}" for v, p in top)
    return text


def _short(value):
    from ppl_kernel.trace import short

    return short(value, 24)


def show(data, title, summary):
    """Display the widget and the static picture for filled panels; returns the widget."""
    state = data.state()
    widget = HistogramWidget(title=title, status="done", message=summary, target=0)
    widget.show(state)
    display(widget_bundle(widget, static_bundle(state, summary, "done")), raw=True)
    return widget


def display_posterior(posterior):
    summary = posterior_summary(posterior)
    if not len(posterior):
        display({"text/plain": summary}, raw=True)
        return True
    show(posterior_data(posterior), type(posterior).__name__, summary)
    return True


def display_marginal(marginal):
    show(marginal_data(marginal), "EmpiricalMarginal", marginal_summary(marginal))
    return True


def trace_bundle(trace):
    from .trace_tree import TraceTreeWidget

    return TraceTreeWidget(trace)._repr_mimebundle_()


def register(shell):
    """Teach ``shell``'s display formatters the posterior, marginal and trace types."""
    formatter = shell.display_formatter.ipython_display_formatter
    formatter.for_type_by_name(*_FORMATTED[0], display_posterior)
    formatter.for_type_by_name(*_FORMATTED[1], display_marginal)
    shell.display_formatter.mimebundle_formatter.for_type_by_name("ppl_kernel.trace", "Trace", trace_bundle)


def unregister(shell):
    for module, name in _FORMATTED:
        _pop(shell.display_formatter.ipython_display_formatter, module, name)
    _pop(shell.display_formatter.mimebundle_formatter, "ppl_kernel.trace", "Trace")


def _pop(formatter, module, name):
    formatter.deferred_printers.pop((module, name), None)
    for cls in list(formatter.type_printers):
        if cls.__module__ == module and cls.__name__ == name:
            formatter.type_printers.pop(cls, None)

