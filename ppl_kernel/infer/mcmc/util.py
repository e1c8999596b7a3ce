"""Pyro's import path for the MCMC helpers tutorials use (``from pyro.infer.mcmc.util import summary``).

Each lives in the module named for what it does; this module only gives them Pyro's address.
"""

from .diagnostics import print_summary, summary  # noqa: F401
from .model_density import initialize_model  # noqa: F401


def diagnostics(samples, group_by_chain=True):
    """``{site: {"n_eff": ..., "r_hat": ...}}`` of draws (``chains x draws x ...`` when grouped by chain).

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> sorted(diagnostics({"x": torch.randn(2, 300)})["x"])
    ['n_eff', 'r_hat']
    """
    stats = summary(samples, group_by_chain=group_by_chain)
    return {name: {"n_eff": s["n_eff"], "r_hat": s["r_hat"]} for name, s in stats.items()}
