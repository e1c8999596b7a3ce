"""Inference drawn live: ``progress=LiveProgress()`` shows the posterior's panels while a run collects traces.

Every inference algorithm takes a ``progress`` callback (see :mod:`ppl_kernel.infer.posterior`).
This one adds the traces collected since its last call to the same weighted histogram panels that a
finished posterior displays, a few times a second; when the run ends (or is stopped) the output also
holds the static picture and a summary, as every widget of the notebook layer does::

    posterior = MH(model, num_samples=20000, progress=LiveProgress()).run()

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import Importance
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> live = LiveProgress(display=False)
>>> posterior = Importance(coin, num_samples=200, progress=live).run()
>>> live.widget.runs, live.widget.status
(200, 'done')
"""

import math

from .histogram_data import HistogramData
from .histogram_figure import static_bundle
from .histogram_widget import HistogramWidget
from .static_output import widget_bundle

_REBASE = 600.0  # a log-weight this far above the reference would overflow exp(): rebuild the panels


class LiveProgress:
    """A progress callback that draws an inference run's posterior panels as the traces come in."""

    def __init__(self, title=None, display=True):
        self.title = title
        self.display = display
        self.widget = None
        self._handle = None
        self._reset()

    def _reset(self):
        self.data = HistogramData(distribution="posterior")
        self._ingested = 0
        self._reference = None  # weights are exp(log-weight - reference): relative weights are all that count

    def __call__(self, posterior, done, total):
        if self.widget is None or done == 0:  # a run's first call: a fresh display
            self._start(posterior, total)
        self._ingest(posterior)
        finished = not getattr(posterior, "running", False)
        status = ("stopped" if posterior.partial else "done") if finished else "running"
        self.widget.show(self.data.state(), status=status, message=f"{done} model runs")
        if finished and self._handle is not None:
            static = static_bundle(self.data.state(), self.widget.title, status)
            self._handle.update(widget_bundle(self.widget, static), raw=True)

    def _start(self, posterior, total):
        from ppl_kernel.runtime import model_name

        self._reset()
        name = self.title or f"posterior of {model_name(posterior.model)}"
        self.widget = HistogramWidget(title=name, target=int(total or 0))
        if self.display:
            from IPython.display import display

            self._handle = display(self.widget, display_id=True)

    def _ingest(self, posterior):
        log_weights = posterior.log_weights
        end = len(log_weights)
        new = [lw for lw in log_weights[self._ingested:end] if lw != -math.inf]
        if new and self._reference is None:
            self._reference = max(new)
        if new and max(new) - self._reference > _REBASE:
            self._reset()  # start over with a reference that keeps every weight finite
            self._reference = max(lw for lw in log_weights[:end] if lw != -math.inf)
        weights = [0.0 if lw == -math.inf else math.exp(lw - self._reference) for lw in log_weights[self._ingested:end]]
        self.data.add_runs(posterior.store, self._ingested, end, weights)
        self._ingested = end
