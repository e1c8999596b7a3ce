"""ppl_kernel: stochastic functions on PyTorch, written as in Pyro.

>>> import ppl_kernel as pyro
>>> import ppl_kernel.distributions as dist
>>> pyro.set_rng_seed(0)
>>> def weather():
...     cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
...     cloudy = "cloudy" if cloudy.item() == 1.0 else "sunny"
...     mean_temp = {"cloudy": 55.0, "sunny": 75.0}[cloudy]
...     scale_temp = {"cloudy": 10.0, "sunny": 15.0}[cloudy]
...     temp = pyro.sample("temp", dist.Normal(mean_temp, scale_temp))
...     return cloudy, temp.item()
>>> weather()[0] in ("cloudy", "sunny")
True
"""

from . import distributions, poutine  # noqa: F401
from .errors import (  # noqa: F401
    DuplicateSiteError, EnumerationError, GuideError, InferenceError, InvalidParameterError, ModelError, ObservationError,
    RunawayModelError, SiteTypeError, UnhashableArgumentError,
)
from .params import clear_param_store, get_param_store  # noqa: F401
from .poutine import condition, do, markov  # noqa: F401
from .primitives import (  # noqa: F401
    deterministic, enable_validation, factor, iarange, irange, observe, param, plate, plate_stack, require, sample,
    set_max_sites, set_rng_seed, validation_enabled,
)
from .memoize import cache, mem  # noqa: F401
from .trace import Trace  # noqa: F401
from .model_graph import render_model  # noqa: F401
from . import infer, nn, optim  # noqa: F401  (pyro.infer.SVI, pyro.optim.Adam right after import, as in Pyro)
from . import vectorize  # noqa: F401  (the module of batched execution: ppl_kernel.vectorize.run_batched)

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """``%load_ext ppl_kernel``: the notebook layer (package ``ppl_kernel_jupyter``, folder ``extension/``) is imported only here."""
    import ppl_kernel_jupyter

    ppl_kernel_jupyter.load_ipython_extension(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext ppl_kernel``: remove the magics and displays that loading added."""
    import ppl_kernel_jupyter

    ppl_kernel_jupyter.unload_ipython_extension(ipython)
