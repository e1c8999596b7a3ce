"""Posteriors display themselves: the same histogram panels, weighted, with a one-line summary.

ppl_kernel does not import IPython, so the display is attached from this side:
:func:`register` tells IPython's display formatters how to show a ``TracePosterior`` (and every
inference result, its subclasses), an ``EmpiricalMarginal`` and a ``Trace``. The formatters are
registered by module and class name, so nothing here imports the classes before they are used.

Shown: the static figure of :mod:`ppl_kernel_jupyter.histogram_figure` (weights from the posterior's
normalized log-weights), as a finished ``%%model`` run leaves it: a result that is already complete
needs no live widget, and the figure survives saving and reopening the notebook with no kernel.
Titles speak of the model and the question, never of class names: "posterior of coin given obs",
"exact (enumerated, 4 paths)".

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel import poutine
>>> from ppl_kernel.infer import TracePosterior
>>> post = TracePosterior()
>>> for _ in range(4):
...     _ = post.add(poutine.trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0))).get_trace())
>>> posterior_summary(post)
'4 runs, ESS 4'
"""

from IPython.display import display

from .histogram_data import HistogramData, format_number
from .histogram_figure import static_bundle

_FORMATTED = (
    ("ppl_kernel.infer.posterior", "TracePosterior"),
    ("ppl_kernel.infer.posterior", "EmpiricalMarginal"),
)


def posterior_data(posterior):
    """Panels of a posterior's traces, each weighted by its normalized weight."""
    data = HistogramData(distribution="posterior")
    if not len(posterior):
        return data
    weights = posterior.get_normalized_weights().tolist()
    data.add_runs(posterior.store, 0, len(weights), weights)
    data.weighted = len(set(weights)) > 1
    if not data.observed and not data.weighted:
        data.distribution = None  # forward runs of a model with no data: its prior, and titled so
    return data


def marginal_data(marginal):
    """One panel (or one per element) for an EmpiricalMarginal's values, weighted."""
    data = HistogramData(distribution="posterior")
    sites = marginal.sites
    name = "return" if sites is None else sites if isinstance(sites, str) else ", ".join(sites)
    weights = marginal.weights.tolist()
    for value, w in zip(marginal.values, weights, strict=True):
        data.add_value(name, value, w)
    data.weighted = len(set(weights)) > 1
    return data


def is_exact(posterior):
    """True for an enumeration's result: every path, weighted by its exact probability."""
    return type(posterior).__name__ in ("Enumerate", "Search") and not posterior.partial


def posterior_title(posterior):
    """``posterior of coin`` (the model's name), never the class name of the algorithm."""
    from ppl_kernel.runtime import model_name

    model = getattr(posterior, "model", None)
    return f"posterior of {model_name(model)}" if model is not None else "posterior"


def posterior_summary(posterior):
    """How the posterior was made, in words: exact paths, or runs with their effective sample size."""
    n = len(posterior)
    if n and is_exact(posterior):
        return f"exact (enumerated, {n} paths)"
    parts = [f"{n} runs"]
    if posterior.partial:
        parts.append("stopped early: a partial result")
    if n:
        try:
            parts.append(f"ESS {format_number(round(float(posterior.get_ESS())))}")
        except ValueError as e:  # every weight zero: say so instead of failing to display
            parts.append(str(e).split(":")[0])
    return ", ".join(parts)


def marginal_summary(marginal):
    text = f"marginal of {marginal._what()}: {len(marginal.values)} values"
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
    """Display the static figure of filled panels, titled ``title``, with ``summary`` under the text view."""
    state = data.state()
    display(static_bundle(state, title, "done", summary), raw=True)
    return state


def display_posterior(posterior):
    summary = posterior_summary(posterior)
    title = posterior_title(posterior)
    if not len(posterior):
        display({"text/plain": f"{title}: {summary}"}, raw=True)
        return True
    data = posterior_data(posterior)
    if is_exact(posterior):
        data.weighted = False  # exact probabilities: no effective sample size to speak of
    if data.distribution is None:
        title = title.replace("posterior of ", "")
    show(data, f"{title} ({summary})" if is_exact(posterior) else title, summary)
    return True


def display_marginal(marginal):
    data, title = marginal_data(marginal), f"marginal of {marginal._what()}"
    posterior = marginal.posterior
    if len(posterior) and is_exact(posterior):
        # exact probabilities, as display_posterior says: not "importance weighted, ESS 1 of 2"
        data.weighted = False
        title += f" ({posterior_summary(posterior)})"
    show(data, title, marginal_summary(marginal))
    return True


def trace_bundle(trace):
    """A displayed Trace: its call tree as static HTML (a trace needs no kernel to be read again)."""
    from .trace_tree import static_tree_bundle

    return static_tree_bundle(trace)


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

