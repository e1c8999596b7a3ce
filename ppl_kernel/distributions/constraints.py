"""Constraints, importable by Pyro's module path: ``from pyro.distributions.constraints import positive``.

They are torch's own objects (``constraints.positive is torch.distributions.constraints.positive``), so
that ``biject_to`` and every torch distribution's ``support`` recognise them.

>>> import torch
>>> from ppl_kernel.distributions.constraints import positive, simplex
>>> positive is torch.distributions.constraints.positive, bool(simplex.check(torch.tensor([0.25, 0.75])))
(True, True)
"""

from torch.distributions.constraints import *  # noqa: F403  (torch's public constraints, unchanged)
from torch.distributions.constraints import __all__  # noqa: F401
