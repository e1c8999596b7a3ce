"""Tensor operations that inference builds on, at Pyro's module paths (``pyro.ops.indexing.Vindex``).

- :mod:`.indexing`: ``Vindex``, advanced indexing that broadcasts batch dimensions (enumerated values);
- :mod:`.contract`: log-space factors with named dimensions and their sum-product contraction over
  plates (variable elimination), which ``TraceEnum_ELBO``, ``infer_discrete`` and MCMC use to sum
  out enumerated sites exactly.
"""

from . import contract, indexing  # noqa: F401
