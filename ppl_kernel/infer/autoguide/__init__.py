"""Automatic guides, spelled as in Pyro: ``from ppl_kernel.infer.autoguide import AutoNormal``.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer.autoguide import AutoNormal
>>> pyro.clear_param_store()
>>> def model():
...     pyro.sample("w", dist.Normal(0.0, 1.0))
>>> sorted(AutoNormal(model)())
['w']
"""

from .guides import AutoDelta, AutoDiagonalNormal, AutoGuide, AutoMultivariateNormal, AutoNormal  # noqa: F401
from .guide_list import AutoGuideList  # noqa: F401
from .laplace import AutoLaplaceApproximation  # noqa: F401
from .low_rank import AutoLowRankMultivariateNormal  # noqa: F401
from .initialization import (  # noqa: F401
    init_to_feasible, init_to_mean, init_to_median, init_to_sample, init_to_uniform, init_to_value,
)
