"""Pyro's ``pyro.infer.inspect`` path to :func:`~ppl_kernel.model_graph.render_model` (its one home is
``ppl_kernel.model_graph``), so that ``from pyro.infer.inspect import render_model`` runs under the alias.

>>> from ppl_kernel.infer.inspect import render_model
>>> import ppl_kernel as pyro
>>> render_model is pyro.render_model
True
"""

from ..model_graph import render_model

__all__ = ["render_model"]
