"""Sample a model many times while its histograms fill in, then keep the runs as a posterior.

:class:`LiveSampling` runs the model through the core's one run loop: ``Importance(model,
num_samples).run(*args)`` with a ``progress`` callback (see :mod:`ppl_kernel.infer.posterior`), which
calls it at once and then a few times a second (:class:`ppl_kernel.infer.throttle.Throttle`, the one
redraw rule). Each call adds the runs stored since the last one to the
:class:`~ppl_kernel_jupyter.histogram_data.HistogramData` and sends the panels (one message).

A model without evidence gives every run weight 1: the panels show its prior. A conditioned model
(``obs=`` sites, ``factor``, ``poutine.condition``) gives each run its likelihood weight, so the panels
show the posterior given the evidence, with the effective sample size, and each panel the prior
beside it (the same runs counted without their weights: no second run); ``prior=True`` (``--prior``)
samples the prior instead, with the observations left out (``poutine.uncondition``).

Beside the panels, the running estimate (:mod:`~ppl_kernel_jupyter.running_estimate`) follows the mean
of the return value (or of the site ``estimate``) with its standard-error band; ``exact=`` draws the true
value as a line.

``executor=`` (a ``concurrent.futures.Executor``) runs the samples in chunks on it
(:mod:`ppl_kernel.infer.parallel`): the panels fill in as chunks finish, and Stop cancels the chunks not
yet started (the finished ones are kept).

Two ways to run:

- ``run()`` in the calling thread: a kernel interrupt (``KeyboardInterrupt``) ends it;
- ``start()`` in a background thread, with a Stop button in the widget; the notebook stays usable
  (the core's handler stack is per thread). ``stop()`` does what the button does.

Either way what was drawn so far is kept: ``.posterior`` holds the runs with ``partial = True``.
A run with a ``seed`` draws from its own ``torch.Generator`` (as does every background run), so that
seeding elsewhere in the notebook neither rewinds it nor is rewound by it
(:func:`ppl_kernel.settings.drawing_from`). At the end the static output below the widget is replaced
by a PNG of the histograms and a text summary, which is what a saved notebook, nbconvert and a
terminal show.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> run = LiveSampling(coin, num_samples=50, display=False)
>>> posterior = run.run()
>>> len(posterior), run.widget.panel("c")["runs"], run.status
(50, 50, 'done')
"""

import contextlib
import re
import threading
import time
import traceback
import weakref

import torch

from ppl_kernel import poutine
from ppl_kernel.infer import Importance
from ppl_kernel.runtime import model_name
from ppl_kernel.settings import drawing_from

from .histogram_data import HistogramData
from .histogram_figure import static_bundle
from .histogram_widget import HistogramWidget
from .live_weights import LiveWeights
from .running_estimate import RunningEstimate
from .static_output import widget_bundle
from .user_traceback import user_frames_only

class LiveSampling:
    """Draw runs of ``model(*args, **kwargs)`` with live histograms; the result is a TracePosterior."""

    def __init__(self, model, args=(), kwargs=None, num_samples=1000, seed=None, title=None, live=True,
                 display=True, on_done=None, prior=False, estimate=None, exact=None, executor=None):
        self.model = model
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.num_samples = int(num_samples)
        self.seed = seed
        self.prior = prior
        self.title = title or model_name(model)
        self.posterior = Importance(poutine.uncondition(model) if prior else model, num_samples=self.num_samples,
                                    progress=self._progress, executor=executor)
        self.data = self._new_data() if live else None
        # Beside the panels: the mean of the return value (or of site ``estimate``) as the runs come in.
        self.estimate = RunningEstimate(estimate, exact) if live else None
        self.widget = HistogramWidget(title=self.title, target=self.num_samples) if live else None
        if self.widget is not None:
            # ipywidgets keeps every open widget alive: its Stop button holds a weak reference, never this run.
            self.widget.observe(_stop_button(weakref.WeakMethod(self.stop)), names="stop_requested")
        self.display = display
        self.on_done = on_done
        self.status = "pending"
        self.error = None
        self.thread = None
        self.generator = None
        self._stop_asked = False
        self._ingested = 0
        self._weights = LiveWeights()  # the panels' weights, relative to one reference log-weight
        self._widget_handle = None
        self._static_handle = None
        self.flushes = 0  # times the panels were sent while sampling
        self.sampling_cpu_seconds = self.sampling_seconds = 0.0

    def _new_data(self):
        # Prior beside posterior from the same runs: Importance without a guide draws every latent site
        # from its own distribution in the model and only weights the run by the observed sites and
        # factors (ppl_kernel.infer.importance._run_prior, also per chunk on an executor), so the runs
        # counted without their weights are draws of the prior. (Of the prior with the observed values as
        # the model's inputs: the same as --prior unless a latent site's distribution depends on an
        # observed value; a run ended at probability zero drew only the sites before its end.)
        return HistogramData(unweighted_is_prior=not self.prior)

    @property
    def refresh_seconds(self):
        """Seconds spent refreshing the panels while sampling."""
        throttle = getattr(self.posterior, "progress_throttle", None)
        return throttle.seconds if throttle is not None else 0.0

    # ---- control ---------------------------------------------------------------------------------
    def run(self):
        """Sample in this thread; a KeyboardInterrupt stops early. Returns the posterior.

        An exception raised by the model ends the run too: the runs so far are kept, the widget
        says what went wrong, and the exception is raised again with a traceback of the user's lines.
        """
        __tracebackhide__ = True
        self._begin(stoppable=False)
        try:
            self._sample(own_generator=self.seed is not None)
        except Exception as e:
            self.error = e
            self._finish("error", _describe(e))
            raise e.with_traceback(user_frames_only(e.__traceback__)) from None
        self._finish(self._end_status())
        return self.posterior

    def start(self):
        """Sample in a background thread (with a Stop button); returns self at once."""
        self._begin(stoppable=True)
        self.thread = threading.Thread(target=self._background, name=f"ppl-sample-{self.title}", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Ask the run to end after the current model run (what the Stop button does)."""
        self._stop_asked = True
        self.posterior.stop()

    def wait(self, timeout=None):
        """Block until a background run has ended; returns the posterior."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.posterior

    def _background(self):
        try:
            self._sample(own_generator=True)  # a background run never shares the notebook's random stream
        except Exception as e:  # shown in the widget and the static output; the thread just ends
            self.error = e
            self._finish("error", _describe(e), _user_traceback_text(e))
        else:
            self._finish(self._end_status())

    def _end_status(self):
        if not self.posterior.partial:
            return "done"
        return "stopped" if self._stop_asked else "interrupted"

    # ---- the run ---------------------------------------------------------------------------------
    def _begin(self, stoppable):
        self.status = "running"
        if self.widget is not None:
            self.widget.stoppable = stoppable
        if self.display:
            from IPython.display import display

            if self.widget is not None:
                # One output: at the end it is updated to hold the widget *and* its static picture, so
                # JupyterLab shows the live widget once while a saved notebook, nbconvert and a terminal
                # (which cannot draw widgets) show the PNG and the summary.
                self._widget_handle = display(self.widget, display_id=True)
            else:
                self._static_handle = display(
                    {"text/plain": f"{self.title}: sampling {self.num_samples} runs…"}, raw=True, display_id=True
                )

    def _sample(self, own_generator):
        if own_generator:
            self.generator = torch.Generator()
            if self.seed is not None:
                self.generator.manual_seed(self.seed)
            else:
                self.generator.seed()  # a fresh random seed, not a draw from the notebook's generator
        start, wall = time.process_time(), time.monotonic()
        try:
            with drawing_from(self.generator) if own_generator else contextlib.nullcontext():
                self.posterior.run(*self.args, **self.kwargs)
        finally:
            # Seconds spent sampling, refreshes included (the benches read them; the end picture is not).
            self.sampling_cpu_seconds = time.process_time() - start
            self.sampling_seconds = time.monotonic() - wall

    def _progress(self, posterior, done, total):
        if self._stop_asked:  # asked before the run began (the run clears earlier requests when it starts)
            posterior.stop()
        if self.widget is not None and posterior.running:  # the end is drawn by _finish, with its status
            self.refresh()
            self.flushes += 1

    def refresh(self, status=None, message=None):
        """Add the runs stored since the last refresh to the panels and send them (one message)."""
        store = self.posterior.store
        end = store.num_runs
        if end > self._ingested:
            every = store.log_weight_tensor()[:end]
            new = every[self._ingested:]
            self.estimate.add_runs(store, self._ingested, end, new)
            weights, restart = self._weights.take(new, every)
            if restart:  # a run far above the reference: the panels start over, every weight finite
                self.data = self._new_data()
                self._ingested = 0
            self.data.add_runs(store, self._ingested, end, weights)
            self._ingested = end
        self.widget.show(self.state(), status=status, message=message)

    def state(self):
        """What the panels and the running estimate show now (:meth:`HistogramData.state`, with ``estimate``)."""
        state = self.data.state()
        state["estimate"] = self.estimate.state()
        return state

    def _finish(self, status, message="", details=""):
        posterior = self.posterior
        n = len(posterior)  # adding a run is atomic: a run cut short by an interrupt is not counted
        self.status = status
        if self.widget is not None:
            self.refresh(status=status, message=message)
            self.widget.stoppable = False
            if self._widget_handle is not None:
                extra = "\n".join(x for x in (message, details) if x)
                static = static_bundle(self.state(), self.title, status, extra)
                self._widget_handle.update(widget_bundle(self.widget, static), raw=True)
        elif self._static_handle is not None:
            self._static_handle.update({"text/plain": f"{self.title}: {n} runs ({status}) {message}"}, raw=True)
        posterior.progress = None  # the posterior outlives this view: a later .run() draws nothing here
        if self.on_done is not None:
            self.on_done(posterior)


def _stop_button(weak_stop):
    def on_stop(change):
        stop = weak_stop()
        if change["new"] and stop is not None:
            stop()

    return on_stop


def _describe(error):
    """``ZeroDivisionError: division by zero (Cell In[3], line 4)``: what and where, in one line."""
    where = ""
    tb = user_frames_only(error.__traceback__)
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is not None:
        where = f" (in {last.tb_frame.f_code.co_name}, {_cell_label(last.tb_frame.f_code.co_filename)}, " \
                f"line {last.tb_lineno})"
    return f"{type(error).__name__}: {error}{where}"


def _cell_label(filename):
    try:
        from IPython import get_ipython

        shell = get_ipython()
        label = shell.compile.format_code_name(filename) if shell is not None else None
    except Exception:  # no IPython: fall back to the file name
        label = None
    return " ".join(label) if label else filename


def _user_traceback_text(error):
    """The user's frames as IPython prints them (``Cell In[3], line 4``, with the lines), as plain text."""
    tb = user_frames_only(error.__traceback__)
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            lines = shell.InteractiveTB.structured_traceback(type(error), error, tb, tb_offset=0)
            return _ANSI.sub("", "\n".join(lines))
    except Exception:  # no IPython, or its formatter failed: Python's own text
        pass
    return "".join(traceback.format_exception(type(error), error, tb))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
