"""The live loss curve of an optimization (SVI): a widget fed by ``SVI``'s per-step callback.

Use it as a context around the training loop; the curve redraws a few times a second while the
steps run, and when the block ends the same output also holds a static PNG of the curve and a
one-line summary (what a saved notebook, nbconvert and a terminal show)::

    with LossCurve("ELBO loss") as curve:
        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO(), callback=curve)
        for _ in range(2000):
            svi.step(data)

DOM markers: ``div.ppl-loss`` (``data-status`` running/done, ``data-steps`` the step count) holding
``polyline.ppl-loss-line`` (``data-points``: points drawn after thinning).

>>> curve = LossCurve("demo", display=False)
>>> for step in range(1, 2001):
...     curve(step, 100.0 / step)
>>> curve.finish()
>>> curve.widget.total_steps, len(curve.widget.steps) <= 2 * MAX_POINTS, curve.widget.status
(2000, True, 'done')
"""

import base64
import io
import math
import pathlib

import anywidget
import traitlets

from ppl_kernel.infer.throttle import Throttle

from .static_output import widget_bundle

MAX_POINTS = 500  # points sent to the browser: the curve is thinned to about this many


class LossCurveWidget(anywidget.AnyWidget):
    _esm = (pathlib.Path(__file__).parent / "static" / "loss_curve.js").read_text()
    _css = """
    .ppl-loss { font-family: var(--jp-code-font-family, monospace); font-size: 12px; margin: 4px 0; }
    .ppl-loss-head { margin-bottom: 2px; }
    .ppl-loss-line { fill: none; stroke: #1f5fa8; stroke-width: 1.5; }
    .ppl-loss-axis { stroke: #999; }
    .ppl-loss-tick { font-size: 10px; fill: #555; }
    """
    title = traitlets.Unicode("loss").tag(sync=True)
    status = traitlets.Unicode("running").tag(sync=True)
    steps = traitlets.List().tag(sync=True)
    losses = traitlets.List().tag(sync=True)
    total_steps = traitlets.Int(0).tag(sync=True)


class LossCurve:
    """Collects ``(step, loss)`` pairs (call it, or pass it as SVI's ``callback``) and draws them live."""

    def __init__(self, title="loss", display=True):
        self.title = title
        self.history = []  # (step, loss) of every step
        self.widget = LossCurveWidget(title=title)
        self._display = display
        self._handle = None
        self._throttle = Throttle()  # the notebook layer's one redraw rule

    def __enter__(self):
        if self._display:
            from IPython.display import display

            self._handle = display(self.widget, display_id=True)
        return self

    def __exit__(self, *exc):
        self.finish()

    def __call__(self, step, loss):
        self.history.append((int(step), float(loss)))
        if self._throttle.ready():
            self._throttle.call(self._push, "running")

    def _thinned(self):
        stride = max(1, math.ceil(len(self.history) / MAX_POINTS))
        points = self.history[::stride]
        if points and points[-1] is not self.history[-1]:
            points.append(self.history[-1])
        return points

    def _push(self, status):
        points = self._thinned()
        with self.widget.hold_sync():
            self.widget.steps = [s for s, _ in points]
            self.widget.losses = [v if math.isfinite(v) else None for _, v in points]
            self.widget.total_steps = self.history[-1][0] if self.history else 0
            self.widget.status = status

    def summary(self):
        if not self.history:
            return f"{self.title}: no steps"
        first, last = self.history[0][1], self.history[-1][1]
        tail = [v for _, v in self.history[-max(1, len(self.history) // 10):]]
        return (f"{self.title}: {len(self.history)} steps, loss {first:.4g} → {last:.4g} "
                f"(mean of the last 10%: {sum(tail) / len(tail):.4g})")

    def png(self):
        """The curve as a PNG (matplotlib), for the saved notebook."""
        from matplotlib.figure import Figure  # no pyplot: the user's backend and figures stay untouched

        fig = Figure(figsize=(6, 2.4), dpi=90)
        ax = fig.subplots()
        points = self._thinned()
        ax.plot([s for s, _ in points], [v for _, v in points], color="#1f5fa8", linewidth=1.2)
        ax.set_xlabel("step")
        ax.set_ylabel(self.title)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def finish(self):
        """Final redraw, then the static PNG and summary below the widget."""
        self._push("done")
        if self._handle is not None:
            static = {"text/plain": self.summary()}
            if self.history:
                static["image/png"] = base64.b64encode(self.png()).decode("ascii")
            self._handle.update(widget_bundle(self.widget, static), raw=True)
