"""Sliders for a model's arguments: move one and the histograms are drawn again for the new value.

``interact(coin, p=(0, 1, 0.05))`` shows a slider per named argument above the model's panels.
Moving a slider cancels the run in flight (it stops after its current model run) and starts
sampling with the new values in a background thread, so the kernel stays responsive. Starts are
throttled: at most one per ``throttle`` seconds; moves in between are gathered into one run with
the latest values.

While a run goes, its live histogram widget is shown; when it ends, that output is replaced by the
static figure of the run (Vega-Lite, PNG, text: see :mod:`ppl_kernel_jupyter.histogram_figure`),
titled with the argument values. So a saved notebook keeps the picture of the last state. The
sliders are shown live with a static note beside them (what they slide, and that moving them needs
the kernel): the save hook of :mod:`ppl_kernel_jupyter.static_output` keeps only the note in the saved
file, so a reopened notebook shows the note and the last picture, never "Error displaying widget".

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> def coin(p=0.5):
...     return pyro.sample("heads", dist.Bernoulli(p))
>>> sliders = interact(coin, p=(0, 1, 0.05), num_samples=200, display=False)
>>> sliders.values
{'p': 0.5}
>>> sliders.set(p=0.8).wait().title
'coin(p=0.8)'
"""

import inspect
import threading
from html import escape
import time

import ipywidgets

from ppl_kernel.runtime import model_name

from .histogram_figure import static_bundle
from .live_sampling import LiveSampling
from .static_output import live_with_static


def interact(model, num_samples=1000, throttle=0.3, model_args=(), model_kwargs=None, display=True, seed=None,
             background=False, **sliders):
    """Sliders for ``model``'s keyword arguments, each given as ``name=(low, high)`` or
    ``name=(low, high, step)`` (whole numbers give an integer slider) or a list of choices
    (a dropdown). The first run is sampled before this returns (as ``%%model`` does; its picture is
    then in the cell's output when the notebook is saved) unless ``background=True``; the runs that
    slider moves start go in the background. Returns a :class:`ModelSliders`; see the module docstring."""
    sliders = ModelSliders(model, sliders, num_samples=num_samples, throttle=throttle, model_args=model_args,
                           model_kwargs=model_kwargs, display=display, seed=seed)
    return sliders if background else sliders.wait()


class ModelSliders:
    """The sliders, the run they started last (``run``) and its posterior (``posterior``)."""

    def __init__(self, model, sliders, num_samples=1000, throttle=0.3, model_args=(), model_kwargs=None,
                 display=True, seed=None):
        if not sliders:
            raise ValueError(f"interact({model_name(model)}, ...): name the arguments to slide, "
                             "e.g. interact(model, p=(0, 1, 0.05)).")
        self.model = model
        self.name = model_name(model)
        self.num_samples = int(num_samples)
        self.throttle = float(throttle)
        self.model_args = tuple(model_args)
        self.model_kwargs = dict(model_kwargs or {})
        self.seed = seed
        defaults = _defaults(model, self.name, sliders)
        self.sliders = {name: _slider(self.name, name, spec, defaults.get(name)) for name, spec in sliders.items()}
        self.run = None
        self.runs_started = 0
        self._lock = threading.Lock()
        self._last_start = -float("inf")
        self._timer = None
        self._generation = 0
        self._done = threading.Event()
        self._handle = None
        self.box = ipywidgets.VBox(list(self.sliders.values()))
        for slider in self.sliders.values():
            slider.observe(self._moved, names="value")
        if display:
            from IPython.display import display as show

            data, metadata = live_with_static(self.box, _static_sliders(self.name, sliders))
            show(data, raw=True, metadata=metadata)
            self._handle = show({"text/plain": f"{self.name}: sampling…"}, raw=True, display_id=True)
        self._start()

    @property
    def values(self):
        """The arguments the sliders give now: ``{name: value}``."""
        return {name: _plain(slider.value) for name, slider in self.sliders.items()}

    @property
    def title(self):
        """``coin(p=0.8)``: the model and the slider values of the last run started."""
        return self._title

    @property
    def posterior(self):
        """The runs of the last run started (complete once :meth:`wait` returns)."""
        return self.run.posterior

    def set(self, **values):
        """Move sliders from code (as a user would with the mouse); returns self."""
        for name, value in values.items():
            if name not in self.sliders:
                raise KeyError(f"interact({self.name}): no slider '{name}'; the sliders are {list(self.sliders)}.")
            self.sliders[name].value = value
        return self

    def wait(self, timeout=60):
        """Block until the latest run (including one still waiting for the throttle) has ended; returns self."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = self._timer is not None
                run = self.run
            if not pending and run is not None and self._done.wait(max(0.0, deadline - time.monotonic())):
                with self._lock:
                    if self.run is run and self._timer is None:
                        return self
            else:
                time.sleep(0.01)
        raise TimeoutError(f"interact({self.name}): the run for {self.title} did not end in {timeout} s.")

    def close(self):
        """Stop the run in flight and remove the sliders."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self.run is not None:
                self.run.stop()
        self.box.close()

    def __repr__(self):
        return f"sliders for {self.name}: " + ", ".join(f"{k}={v!r}" for k, v in self.values.items())

    def _moved(self, change):
        with self._lock:
            wait = self.throttle - (time.monotonic() - self._last_start)
            if wait > 0:
                if self._timer is None:  # one start is pending; it will read the latest values
                    self._timer = threading.Timer(wait, self._start_after_wait)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self._start()

    def _start_after_wait(self):
        with self._lock:
            self._timer = None
        self._start()

    def _start(self):
        with self._lock:
            if self.run is not None:
                self.run.stop()  # cancel the run in flight: it ends after its current model run
            self._generation += 1
            generation = self._generation
            values = self.values
            self._title = f"{self.name}({', '.join(f'{k}={v!r}' for k, v in values.items())})"
            self._done.clear()
            run = LiveSampling(self.model, args=self.model_args, kwargs={**self.model_kwargs, **values},
                               num_samples=self.num_samples, seed=self.seed, title=self._title, display=False,
                               on_done=lambda _posterior: self._finished(generation))
            self.run = run
            self.runs_started += 1
            self._last_start = time.monotonic()
            if self._handle is not None:
                self._handle.update(run.widget)
        run.start()

    def _finished(self, generation):
        with self._lock:
            if generation != self._generation:
                return  # a cancelled run: a newer one owns the picture
            run = self.run
        if self._handle is not None:
            self._handle.update(static_bundle(run.data.state(), run.title, run.status), raw=True)
        self._done.set()


def _static_sliders(name, specs):
    """What a saved notebook shows in place of the sliders: what they slide, and how to move them again."""
    ranges = [f"{arg} from {spec[0]} to {spec[1]}" if isinstance(spec, tuple) else f"{arg} in {spec!r}"
              for arg, spec in specs.items()]
    text = f"Sliders for {name}: {', '.join(ranges)}. Run the cell to move them; the figure below is the last state."
    html = (f'<div class="ppl-sliders-static"><b>Sliders for <code>{escape(name)}</code></b>: '
            f"{escape(', '.join(ranges))}.<br>Run the cell to move them; the figure below is the last state.</div>")
    return {"text/html": html, "text/plain": text}


def _defaults(model, name, sliders):
    """The model's defaults for the slid arguments; a name the model does not take is an error."""
    try:
        parameters = inspect.signature(model).parameters
    except (TypeError, ValueError):  # no signature to read: trust the names
        return {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for arg in sliders:
        if arg not in parameters and not takes_any:
            raise TypeError(f"interact({name}, {arg}=...): {name} has no argument '{arg}'; "
                            f"its arguments are {list(parameters)}.")
    return {k: p.default for k, p in parameters.items() if p.default is not inspect.Parameter.empty}


def _slider(model, name, spec, default):
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"interact({model}, {name}=[]): give the choices, e.g. {name}=['a', 'b'].")
        return ipywidgets.Dropdown(options=spec, value=default if default in spec else spec[0], description=name)
    if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not all(isinstance(x, (int, float)) for x in spec):
        raise ValueError(f"interact({model}, {name}={spec!r}): give a range (low, high) or (low, high, step), "
                         f"e.g. {name}=(0, 1, 0.05), or a list of choices.")
    low, high = spec[0], spec[1]
    if not low < high:
        raise ValueError(f"interact({model}, {name}={spec!r}): the low end must be below the high end.")
    integral = all(isinstance(x, int) and not isinstance(x, bool) for x in spec)
    step = spec[2] if len(spec) == 3 else (1 if integral else (high - low) / 100)
    value = default if isinstance(default, (int, float)) and low <= default <= high else (low + high) / 2
    options = {"min": low, "max": high, "step": step, "description": name, "continuous_update": True}
    if integral:
        return ipywidgets.IntSlider(value=int(round(value)), **options)
    return ipywidgets.FloatSlider(value=float(value), readout_format=".3g", **options)


def _plain(value):
    """A slider's value as the user would write it (0.8, not 0.8000000000000002)."""
    return round(value, 10) if isinstance(value, float) else value
