"""Where an automatic guide starts: functions ``site -> initial (constrained) value``.

Each receives a latent site of one prior run of the model (``site.fn`` its distribution,
``site.value`` the drawn value) and returns a value inside the site's support, as Pyro's
``init_to_*`` strategies do.
"""

import functools

import torch
from torch.distributions import biject_to


def init_to_feasible(site):
    """The point the unconstrained origin maps to: 0 for reals, 1 for positives, 0.5 in (0, 1).

    >>> import ppl_kernel.distributions as dist
    >>> from ppl_kernel.runtime import Site
    >>> init_to_feasible(Site("sample", "s", dist.Gamma(2.0, 1.0), (), {}, torch.tensor(3.0))).item()
    1.0
    """
    transform = biject_to(site.fn.support)
    return transform(torch.zeros_like(transform.inv(site.value.detach())))


def init_to_uniform(site=None, radius=2.0):
    """Uniform in ``(-radius, radius)`` on the unconstrained reals, mapped into the support (Pyro's MCMC default).

    >>> import ppl_kernel.distributions as dist
    >>> from ppl_kernel.runtime import Site
    >>> 0.0 < init_to_uniform(Site("sample", "p", dist.Beta(2.0, 2.0), (), {}, torch.tensor(0.3))).item() < 1.0
    True
    """
    if site is None:
        return functools.partial(init_to_uniform, radius=radius)
    transform = biject_to(site.fn.support)
    u = transform.inv(site.value.detach())
    return transform(torch.rand_like(u) * (2 * radius) - radius)


def init_to_sample(site):
    """A fresh draw from the prior."""
    return site.fn.sample().detach()


def init_to_median(site, num_samples=15):
    """The element-wise median of ``num_samples`` prior draws (falls back to feasible if drawing fails).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.runtime import Site
    >>> pyro.set_rng_seed(0)
    >>> abs(init_to_median(Site("sample", "w", dist.Normal(8.5, 1.0), (), {}, torch.tensor(8.0))).item() - 8.5) < 1
    True
    """
    try:
        draws = site.fn.sample(torch.Size((num_samples,))).detach()
        value = draws.median(dim=0).values if draws.is_floating_point() else draws[0]
    except (RuntimeError, ValueError, NotImplementedError):
        return init_to_feasible(site)
    if not bool(site.fn.support.check(value).all()):
        return init_to_feasible(site)
    return value


def init_to_mean(site):
    """The prior mean where it exists and lies in the support, else the median."""
    try:
        value = site.fn.mean.detach()
    except NotImplementedError:
        return init_to_median(site)
    value = value.expand(site.value.shape) if value.shape != site.value.shape else value
    if not bool(torch.isfinite(value).all()) or not bool(site.fn.support.check(value).all()):
        return init_to_median(site)
    return value.clone()


def init_to_value(site=None, values=None, fallback=init_to_median):
    """Given values by site name (``init_to_value(values={"w": torch.tensor(9.0)})``); others by ``fallback``."""
    values = {} if values is None else values
    if site is None:
        return functools.partial(init_to_value, values=values, fallback=fallback)
    if site.name in values:
        value = values[site.name]
        value = value if torch.is_tensor(value) else torch.as_tensor(value, dtype=site.value.dtype)
        return value.to(device=site.value.device).expand(site.value.shape).clone()
    return fallback(site)
