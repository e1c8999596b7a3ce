"""The Jupyter layer of ppl_kernel: ``%%model``, live histograms, the trace-tree widget.

Load it in a notebook with ``%load_ext ppl_kernel`` (or ``%load_ext ppl_kernel_jupyter``). That registers
the magics (:mod:`ppl_kernel_jupyter.magics`) and the display of posteriors, marginals and traces
(:mod:`ppl_kernel_jupyter.posterior_display`), and puts ``pyro`` (ppl_kernel), ``dist`` and ``poutine`` in
the namespace unless those names are taken, so the seed tutorial's cells run as written.

>>> from IPython.testing.globalipapp import get_ipython
>>> ip = get_ipython()
>>> _ = ip.extension_manager.load_extension("ppl_kernel")  # what %load_ext ppl_kernel does
>>> "model" in ip.magics_manager.magics["cell"]
True
"""

import importlib

# The public names, imported on first use: the Jupyter server imports this package for its save hook
# (_jupyter_server_extension_points), and must not pay for torch and the widgets when it starts.
_PUBLIC = {
    "compare": ".comparison",
    "HistogramData": ".histogram_data",
    "HistogramWidget": ".histogram_widget",
    "LiveProgress": ".inference_progress",
    "LiveSampling": ".live_sampling",
    "LossCurve": ".loss_curve",
    "ModelSliders": ".model_sliders",
    "interact": ".model_sliders",
    "TraceTreeWidget": ".trace_tree",
}
__all__ = list(_PUBLIC)


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ppl_kernel_jupyter' has no attribute '{name}'")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))


def _jupyter_server_extension_points():
    """The Jupyter server extension this package ships (enabled by its install): the save hook that keeps
    a static picture instead of a live view in saved notebooks (:mod:`ppl_kernel_jupyter.static_output`)."""
    return [{"module": "ppl_kernel_jupyter.static_output"}]


def load_ipython_extension(ipython):
    import ppl_kernel
    import ppl_kernel.distributions
    from ppl_kernel import poutine

    from .magics import ModelMagics
    from .posterior_display import register

    ipython.register_magics(ModelMagics)
    register(ipython)
    for name, value in (("pyro", ppl_kernel), ("dist", ppl_kernel.distributions), ("poutine", poutine)):
        ipython.user_ns.setdefault(name, value)


def unload_ipython_extension(ipython):
    from .posterior_display import unregister

    unregister(ipython)
    manager = ipython.magics_manager
    manager.registry.pop("ModelMagics", None)
    manager.magics["cell"].pop("model", None)
    for name in ("sample", "trace"):
        manager.magics["line"].pop(name, None)
