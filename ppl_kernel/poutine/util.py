"""Pyro's ``poutine.util`` helpers for sequential enumeration: which sites to escape at and how to extend
a partial trace with a site's values (``poutine.queue`` uses them; Pyro's RSA tutorials call them).

>>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel import poutine
>>> from ppl_kernel.runtime import Site
>>> site = Site("sample", "c", dist.Bernoulli(0.5), (), {})
>>> [float(tr["c"].value) for tr in poutine.util.enum_extend(poutine.Trace(), site)]
[0.0, 1.0]
"""

def site_is_subsample(site):
    """A plate's minibatch site (Pyro records those as sites too)."""
    return site["type"] == "subsample"


def prune_subsample_sites(trace):
    """A copy of ``trace`` without its plates' minibatch sites."""
    pruned = trace.copy()
    pruned.nodes = {name: site for name, site in trace.nodes.items() if not site_is_subsample(site)}
    return pruned


def discrete_escape(trace, msg):
    """Escape at a latent sample site with enumerable support that ``trace`` does not fix yet."""
    return (msg["type"] == "sample" and not msg["is_observed"] and msg["name"] not in trace
            and bool(getattr(msg["fn"], "has_enumerate_support", False)))


def all_escape(trace, msg):
    """Escape at any latent sample site that ``trace`` does not fix yet."""
    return msg["type"] == "sample" and not msg["is_observed"] and msg["name"] not in trace


def enum_extend(trace, msg, num_samples=None):
    """Copies of ``trace``, each extended at site ``msg`` with one value of its support (the first
    ``num_samples + 1`` values when ``num_samples`` is 0 or more, as Pyro counts them)."""
    if num_samples is None:
        num_samples = -1
    extended = []
    for i, value in enumerate(msg["fn"].enumerate_support()):
        if 0 <= num_samples < i:
            break
        extended.append(_with_value(trace, msg, value))
    return extended


def mc_extend(trace, msg, num_samples=None):
    """Copies of ``trace``, each extended at site ``msg`` with a fresh draw (``num_samples`` of them, default 1)."""
    if num_samples is None:
        num_samples = 1
    return [_with_value(trace, msg, msg["fn"].sample()) for _ in range(num_samples)]


def _with_value(trace, msg, value):
    site = msg.copy()
    site.value, site._log_prob, site.stop = value, None, False
    extended = trace.copy()
    extended.nodes[msg["name"]] = site
    return extended


__all__ = ["all_escape", "discrete_escape", "enum_extend", "mc_extend", "prune_subsample_sites", "site_is_subsample"]
