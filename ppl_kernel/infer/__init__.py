"""Inference: weighted traces of a model and the marginals read from them.

One import line per module, kept in alphabetical order of module, so that each inference family
adds its own line.
"""

from . import abstract_infer, autoguide  # noqa: F401  (pyro.infer.abstract_infer.TracePosterior)
from .discrete import infer_discrete  # noqa: F401
from .elbo import GuideError, Trace_ELBO  # noqa: F401
from .enum import config_enumerate  # noqa: F401
from .enumeration import Enumerate, Search  # noqa: F401
from .errors import EnumerationError, InferenceError  # noqa: F401
from .importance import Importance  # noqa: F401
from .marginal import Marginal  # noqa: F401
from .mcmc import HMC, MCMC, NUTS  # noqa: F401
from .mh import MH  # noqa: F401
from .posterior import ABSENT, EmpiricalMarginal, TracePosterior  # noqa: F401
from .predictive import Predictive  # noqa: F401
from .query import expectation, infer  # noqa: F401
from . import reparam, resampler  # noqa: F401  (pyro.infer.reparam.LocScaleReparam, pyro.infer.resampler.Resampler)
from .rejection import Rejection  # noqa: F401
from .smc import SMC  # noqa: F401
from .svi import SVI  # noqa: F401
from .tracegraph_elbo import TraceGraph_ELBO  # noqa: F401
from .traceenum_elbo import TraceEnum_ELBO  # noqa: F401
