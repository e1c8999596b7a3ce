"""Pyro's module path of the weighted-trace base classes: ``from pyro.infer.abstract_infer import TracePosterior``.

They live in :mod:`ppl_kernel.infer.posterior`; a subclass that defines ``_traces`` (yielding
``(trace, log_weight)`` pairs) gets ``run``, ``exec_traces`` and ``log_weights`` as in Pyro.

>>> from ppl_kernel.infer import abstract_infer, posterior
>>> abstract_infer.TracePosterior is posterior.TracePosterior
True
"""

from .posterior import EmpiricalMarginal, TracePosterior  # noqa: F401
