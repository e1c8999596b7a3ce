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

from .comparison import compare  # noqa: F401
from .histogram_data import HistogramData  # noqa: F401
from .histogram_widget import HistogramWidget  # noqa: F401
from .inference_progress import LiveProgress  # noqa: F401
from .live_sampling import LiveSampling  # noqa: F401
from .loss_curve import LossCurve  # noqa: F401
from .model_sliders import ModelSliders, interact  # noqa: F401
from .trace_tree import TraceTreeWidget  # noqa: F401


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
