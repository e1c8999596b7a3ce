"""Reparameterizers for ``poutine.reparam`` (Pyro's ``pyro.infer.reparam``).

>>> from ppl_kernel.infer.reparam import LocScaleReparam
>>> LocScaleReparam(0.0).centered
0.0
"""

from .loc_scale import LocScaleReparam  # noqa: F401
from .reparam import Reparam  # noqa: F401
