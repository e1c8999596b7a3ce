"""The live histogram widget: one anywidget model for the whole group of panels.

The kernel side holds :class:`~ppl_kernel_jupyter.histogram_data.HistogramData`; :meth:`HistogramWidget.show`
copies its state into the synced traits inside one ``hold_sync`` block, so each update is a single
comm message of counts (never an image). The sampler calls it a few times a second at most.

DOM markers (stable, for browser tests and styling):

- ``div.ppl-hist`` the widget root; ``data-status`` is ``running``, ``done``, ``stopped``,
  ``interrupted`` or ``error``; ``span.ppl-hist-runs`` (``data-runs``) is the number of runs drawn.
- ``button.ppl-stop`` the Stop button (shown while a background run is going).
- ``progress.ppl-progress`` (``max``: the runs planned, ``value``: the runs drawn) and ``span.ppl-eta``
  ("about 12 s left"; ``data-seconds``), shown while a run with a known size is going; the time left
  is estimated in the page from the rate it has seen, after a second of runs.
- ``div.ppl-panel[data-site=NAME]`` one panel (``data-kind`` is ``bars`` or ``hist``);
  inside it ``span.ppl-panel-count`` (``data-runs``: runs that made the site),
  ``span.ppl-panel-mean``, ``span.ppl-panel-sd``; bars are ``rect.ppl-bar`` with ``data-label``
  and ``data-count``, histogram bins ``rect.ppl-bin`` with ``data-count``.
- ``div.ppl-estimate`` (``data-label``: what is estimated, "P(c = 1)") the running estimate against the
  runs: ``path.ppl-estimate-line``, ``path.ppl-estimate-band`` (± 1 standard error), ``line.ppl-exact``
  (the exact value, when known), ``span.ppl-estimate-value`` (``data-value``: the latest estimate).
- the prior beside a posterior (a conditioned model's panels): ``rect.ppl-prior-bar`` (``data-label``,
  ``data-count``: unweighted runs) over the bars, ``path.ppl-prior-line`` (``data-counts``) over the bins,
  ``span.ppl-panel-prior-mean``, and ``span.ppl-legend`` in the head.
- ``div.ppl-group[data-pattern="x_{i}"]`` a group of sites named alike; ``div.ppl-appear-row[data-site]``
  with ``span.ppl-appear-runs`` says how many runs made each member; ``button.ppl-group-prev`` /
  ``button.ppl-group-next`` page through the member panels; ``span.ppl-group-page`` (``data-page``).

>>> w = HistogramWidget(title="demo")
>>> w.status, w.runs
('running', 0)
"""

import pathlib

import anywidget
import traitlets

from .histogram_data import HistogramData

_STATIC = pathlib.Path(__file__).parent / "static"


class HistogramWidget(anywidget.AnyWidget):
    """Per-site histogram panels that update while a model is being sampled.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> data = HistogramData()
    >>> for _ in range(5):
    ...     data.add(poutine.trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0))).get_trace())
    >>> w = HistogramWidget(title="x")
    >>> w.show(data.state(), status="done")
    >>> [p["name"] for p in w.panels], w.runs
    (['x', 'return'], 5)
    """

    _esm = (_STATIC / "histograms.js").read_text()
    _css = (_STATIC / "widgets.css").read_text()

    title = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("running").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    runs = traitlets.Int(0).tag(sync=True)
    target = traitlets.Int(0).tag(sync=True)  # runs planned; 0 when not known
    weighted = traitlets.Bool(False).tag(sync=True)
    panels = traitlets.List().tag(sync=True)
    groups = traitlets.List().tag(sync=True)
    stoppable = traitlets.Bool(False).tag(sync=True)
    stop_requested = traitlets.Bool(False).tag(sync=True)
    page_size = traitlets.Int(6).tag(sync=True)
    estimate = traitlets.Dict().tag(sync=True)  # the running estimate (running_estimate.RunningEstimate.state)

    def show(self, state, status=None, message=None):
        """Copy a :meth:`HistogramData.state` into the widget (one comm message)."""
        with self.hold_sync():
            self.runs = state["runs"]
            self.weighted = state["weighted"]
            self.panels = state["panels"]
            self.groups = state["groups"]
            if "estimate" in state:
                self.estimate = state["estimate"]
            if status is not None:
                self.status = status
            if message is not None:
                self.message = message

    def panel(self, name):
        """The state of the panel named ``name`` (KeyError if there is none)."""
        for p in self.panels:
            if p["name"] == name:
                return p
        raise KeyError(f"no panel named {name!r}; panels: {[p['name'] for p in self.panels]}")

    def __repr__(self):
        return f"<HistogramWidget {self.title!r}: {self.runs} runs, {len(self.panels)} panels, {self.status}>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, meta = bundle
        else:
            data, meta = bundle, {}
        data = dict(data)
        data["text/plain"] = repr(self)
        return data, meta


__all__ = ["HistogramWidget", "HistogramData"]
