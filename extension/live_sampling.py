"""Sample a model many times while its histograms fill in, then keep the runs as a posterior.

:class:`LiveSampling` runs ``model(*args)`` ``num_samples`` times under ``poutine.trace`` (sites
only, no call tree: it is the fast path) and collects the traces in a
:class:`ppl_kernel.infer.TracePosterior`, the type inference returns. While it runs, the
:class:`~ppl_kernel_jupyter.histogram_widget.HistogramWidget` is refreshed at most ``1 / interval`` times a
second (and less often if drawing the state takes long: at most ~5% of the time goes to it), so
the kernel never comes near Jupyter's IOPub rate limit and sampling keeps >= 80% of its speed.

Two ways to run:

- ``run()`` in the calling thread: a kernel interrupt (``KeyboardInterrupt``) ends it;
- ``start()`` in a background thread, with a Stop button in the widget; the notebook stays usable
  (the core's handler stack is per thread). ``stop()`` does what the button does.

Either way what was drawn so far is kept: ``.posterior`` holds the runs with ``partial = True``.
At the end the static output below the widget is replaced by a PNG of the histograms and a text
summary, which is what a saved notebook, nbconvert and a terminal show.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> def coin():
...     return pyro.sample("c", dist.Bernoulli(0.5))
>>> run = LiveSampling(coin, num_samples=50, display=False)
>>> posterior = run.run()
>>> len(posterior), run.widget.panel("c")["runs"], run.status
(50, 50, 'done')
"""

import threading
import time
import traceback

from ppl_kernel import poutine, set_rng_seed
from ppl_kernel.infer import TracePosterior
from ppl_kernel.runtime import model_name

from .histogram_data import HistogramData
from .histogram_figure import static_bundle
from .histogram_widget import HistogramWidget
from .static_output import widget_bundle
from .user_traceback import user_frames_only

MAX_DRAW_SHARE = 0.05  # at most this share of the time goes to refreshing the widget
MAX_WAIT = 2.0  # seconds: the longest the view goes without a refresh


class LiveSampling:
    """Draw runs of ``model(*args, **kwargs)`` with live histograms; the result is a TracePosterior."""

    def __init__(self, model, args=(), kwargs=None, num_samples=1000, seed=None, title=None, live=True,
                 interval=0.25, display=True, on_done=None):
        self.model = model
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.num_samples = int(num_samples)
        self.seed = seed
        self.title = title or model_name(model)
        self.interval = interval
        self.posterior = TracePosterior(model)
        # trace_with_calls re-runs a stored trace with these arguments (for the trace-tree view).
        self.posterior._args, self.posterior._kwargs = self.args, self.kwargs
        self.data = HistogramData() if live else None
        self.widget = HistogramWidget(title=self.title, target=self.num_samples) if live else None
        self._stop = threading.Event()
        if self.widget is not None:
            # ipywidgets keeps every open widget alive: its Stop button holds the event, never this run.
            self.widget.observe(_stop_button(self._stop), names="stop_requested")
        self.display = display
        self.on_done = on_done
        self.status = "pending"
        self.error = None
        self.thread = None
        self._ingested = 0
        self._widget_handle = None
        self._static_handle = None
        self.flushes = 0
        self.sampling_cpu_seconds = self.sampling_seconds = self.refresh_seconds = 0.0

    # ---- control ---------------------------------------------------------------------------------
    def run(self):
        """Sample in this thread; a KeyboardInterrupt stops early. Returns the posterior.

        An exception raised by the model ends the run too: the runs so far are kept, the widget
        says what went wrong, and the exception is raised again with a traceback of the user's lines.
        """
        __tracebackhide__ = True
        self._begin(stoppable=False)
        try:
            self._sample()
        except KeyboardInterrupt:
            self._finish("interrupted", "interrupted: the runs drawn so far are kept")
        except Exception as e:
            self.error = e
            self._finish("error", _describe(e))
            raise e.with_traceback(user_frames_only(e.__traceback__)) from None
        else:
            self._finish("stopped" if self._stop.is_set() else "done")
        return self.posterior

    def start(self):
        """Sample in a background thread (with a Stop button); returns self at once."""
        self._begin(stoppable=True)
        self.thread = threading.Thread(target=self._background, name=f"ppl-sample-{self.title}", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Ask the run to end after the current model run (what the Stop button does)."""
        self._stop.set()

    def wait(self, timeout=None):
        """Block until a background run has ended; returns the posterior."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.posterior

    def _background(self):
        try:
            self._sample()
        except Exception as e:  # shown in the widget and the static output; the thread just ends
            self.error = e
            self._finish("error", _describe(e), _user_traceback_text(e))
        else:
            self._finish("stopped" if self._stop.is_set() else "done")

    # ---- the loop --------------------------------------------------------------------------------
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

    def _sample(self):
        start, wall = time.process_time(), time.monotonic()
        try:
            self._loop()
        finally:
            # Seconds spent sampling, refreshes included (the benches read them; the end picture is not).
            self.sampling_cpu_seconds = time.process_time() - start
            self.sampling_seconds = time.monotonic() - wall

    def _loop(self):
        if self.seed is not None:
            set_rng_seed(self.seed)
        tracer = poutine.trace(self.model, calls=False)
        run = tracer.get_trace
        args, kwargs = self.args, self.kwargs
        add = self.posterior.add
        stopped = self._stop.is_set
        live = self.widget is not None
        clock = time.monotonic
        next_draw = clock() + self.interval
        done = len(self.posterior)
        n = self.num_samples
        while done < n and not stopped():
            add(run(*args, **kwargs))
            done += 1
            if live and clock() >= next_draw:
                t0 = clock()
                self.refresh()
                t1 = clock()
                self.refresh_seconds += t1 - t0
                # Slow down when drawing is costly, but keep the view alive (at least every MAX_WAIT s).
                next_draw = t1 + min(max(self.interval, (t1 - t0) / MAX_DRAW_SHARE), MAX_WAIT)

    def refresh(self, status=None, message=None):
        """Add the runs drawn since the last refresh to the panels and send them (one message)."""
        end = len(self.posterior)
        self.data.add_runs(self.posterior.store, self._ingested, end)
        self._ingested = end
        self.widget.show(self.data.state(), status=status, message=message)
        self.flushes += 1

    def _finish(self, status, message="", details=""):
        posterior = self.posterior
        n = len(posterior)  # adding a run is atomic: a run cut short by an interrupt is not counted
        posterior.partial = status != "done"
        self.status = status
        if self.widget is not None:
            self._ingested = min(self._ingested, n)
            self.refresh(status=status, message=message)
            self.widget.stoppable = False
            if self._widget_handle is not None:
                extra = "\n".join(x for x in (message, details) if x)
                static = static_bundle(self.data.state(), self.title, status, extra)
                self._widget_handle.update(widget_bundle(self.widget, static), raw=True)
        elif self._static_handle is not None:
            self._static_handle.update({"text/plain": f"{self.title}: {n} runs ({status}) {message}"}, raw=True)
        if self.on_done is not None:
            self.on_done(posterior)


def _stop_button(event):
    def on_stop(change):
        if change["new"]:
            event.set()

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
    return "".join(traceback.format_exception(type(error), error, user_frames_only(error.__traceback__)))
