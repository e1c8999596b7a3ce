"""Inference drawn live: ``progress=LiveProgress()`` shows the posterior's panels while a run collects traces.

Every inference algorithm takes a ``progress`` callback (see :mod:`ppl_kernel.infer.posterior`).
This one adds the traces collected since its last call to the same weighted histogram panels that a
finished posterior displays, a few times a second, and beside them the running estimate (the posterior
mean of the return value or of ``estimate="site"``, with its standard-error band, and ``exact=`` as a
line; see :mod:`ppl_kernel_jupyter.running_estimate`); when the run ends (or is stopped) the output
holds the static picture and a summary, as every widget of the notebook layer does::

    posterior = MH(model, num_samples=20000, progress=LiveProgress(exact=0.625)).run()

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import Importance
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> live = LiveProgress(display=False)
>>> posterior = Importance(coin, num_samples=200, progress=live).run()
>>> live.widget.runs, live.widget.status, live.widget.estimate["label"]
(200, 'done', 'mean of the return value')
"""

from .histogram_data import HistogramData
from .histogram_figure import static_bundle
from .histogram_widget import HistogramWidget
from .live_weights import LiveWeights
from .posterior_display import is_exact
from .running_estimate import RunningEstimate
from .static_output import widget_bundle

class LiveProgress:
    """A progress callback that draws an inference run's posterior panels as the traces come in."""

    def __init__(self, title=None, display=True, estimate=None, exact=None):
        self.title = title
        self.display = display
        self.estimate_site = estimate  # the site whose running mean is drawn; None: the return value
        self.exact = exact
        self.widget = None
        self._handle = None
        self._reset()

    def _reset(self):
        self.data = HistogramData(distribution="posterior")
        self._ingested = 0
        self._weights = LiveWeights()  # the panels' weights, relative to one reference log-weight
        self.estimate = None

    def __call__(self, posterior, done, total):
        if self.widget is None or done == 0:  # a run's first call: a fresh display
            self._start(posterior, total)
        self._ingest(posterior)
        finished = not getattr(posterior, "running", False)
        status = ("stopped" if posterior.partial else "done") if finished else "running"
        if finished and is_exact(posterior):  # every path summed: the estimate's last value is the exact one
            self.estimate.finish(exact=self.estimate.value)
        state = self.data.state()
        state["estimate"] = self.estimate.state()
        self.widget.show(state, status=status, message=f"{done} model runs")
        if finished and self._handle is not None:
            static = static_bundle(state, self.widget.title, status)
            self._handle.update(widget_bundle(self.widget, static), raw=True)

    def _start(self, posterior, total):
        from ppl_kernel.runtime import model_name

        from ppl_kernel.infer import MCMC, MH, Enumerate

        self._reset()
        self.estimate = RunningEstimate(self.estimate_site, self.exact, sampled=not isinstance(posterior, Enumerate),
                                        correlated=isinstance(posterior, (MH, MCMC)))
        name = self.title or f"posterior of {model_name(posterior.model)}"
        self.widget = HistogramWidget(title=name, target=int(total or 0))
        if self.display:
            from IPython.display import display

            self._handle = display(self.widget, display_id=True)

    def _ingest(self, posterior):
        store = posterior.store
        end = store.num_runs
        if end <= self._ingested:
            return
        every = store.log_weight_tensor()[:end]
        new = every[self._ingested:]
        self.estimate.add_runs(store, self._ingested, end, new)  # keeps its own reference weight
        weights, restart = self._weights.take(new, every)
        if restart:  # a run far above the reference: the panels start over, every weight finite
            self.data = HistogramData(distribution="posterior")
            self._ingested = 0
        self.data.add_runs(store, self._ingested, end, weights)
        self._ingested = end
