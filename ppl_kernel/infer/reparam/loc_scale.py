"""Decentering a location-scale latent site (Gorinova, Moore & Hoffman 2019), as Pyro's ``LocScaleReparam``."""

import numbers

import torch

from ... import primitives
from ...distributions import constraints
from .reparam import Reparam


class LocScaleReparam(Reparam):
    """Sample ``x ~ F(loc, scale)`` as ``x_decentered ~ F(c * loc, scale ** c)`` and
    ``x = loc + scale ** (1 - c) * (x_decentered - c * loc)``.

    ``centered=0`` decenters fully (``x_decentered`` is standard: Neal's funnel becomes a plain Gaussian
    for NUTS), ``1`` leaves the site as it is, ``None`` learns a per-element ``c`` as the parameter
    ``"<name>_centered"`` in [0, 1]. ``shape_params`` names the other parameters to copy (default: all in
    the family's ``arg_constraints`` but loc and scale). For latent sites only, as in Pyro.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("x", dist.StudentT(4.0, 1.0, 3.0))
    >>> tr = poutine.trace(poutine.reparam(model, config={"x": LocScaleReparam(0.0)})).get_trace()
    >>> type(tr["x_decentered"].fn).__name__, float(tr["x_decentered"].fn.df)
    ('StudentT', 4.0)
    """

    def __init__(self, centered=None, shape_params=None):
        if centered is not None:
            within = (0 <= centered <= 1) if isinstance(centered, numbers.Real) else bool(
                ((0 <= centered) & (centered <= 1)).all())
            if not within:
                raise ValueError(f"LocScaleReparam(centered={centered!r}): centered must lie in [0, 1] "
                                 "(0: fully decentered, 1: unchanged), or be None to learn it.")
        if shape_params is not None and not all(isinstance(name, str) for name in shape_params):
            raise TypeError("LocScaleReparam(shape_params=...): give the parameter names as strings, e.g. ('df',)")
        self.centered = centered
        self.shape_params = shape_params

    def apply(self, msg):
        name, fn, value = msg["name"], msg["fn"], msg["value"]
        if msg["is_observed"]:
            raise NotImplementedError(f"LocScaleReparam at site '{name}': it reparameterizes latent sites only; "
                                      "leave observed sites out of the reparam config.")
        centered = self.centered
        if isinstance(centered, numbers.Real) and centered == 1:
            return msg
        base, event_dim = self._unwrap(fn)
        if not (hasattr(base, "loc") and hasattr(base, "scale")):
            raise TypeError(f"LocScaleReparam at site '{name}': {type(base).__name__} has no loc and scale to "
                            "decenter; use it on Normal, StudentT, Cauchy, Laplace, ... sites.")
        shape_params = self.shape_params
        if shape_params is None:
            shape_params = tuple(k for k in base.arg_constraints if k not in ("loc", "scale"))
        params = {key: getattr(base, key) for key in shape_params}
        if centered is None:
            centered = primitives.param(f"{name}_centered", lambda: torch.full_like(base.loc, 0.5).expand(
                fn.event_shape if fn.event_shape else base.loc.shape).clone(), constraint=constraints.unit_interval)
        params["loc"] = base.loc * centered
        params["scale"] = base.scale ** centered
        decentered_fn = type(base)(**params)
        decentered_value = None
        if value is not None:  # a value given from outside (replay, init): invert the transform differentiably
            decentered_value = (value - base.loc) * base.scale.pow(centered - 1) + centered * base.loc
        decentered_value = primitives.sample(f"{name}_decentered", self._wrap(decentered_fn, event_dim),
                                             obs=decentered_value)
        if value is None:
            value = base.loc + base.scale.pow(1 - centered) * (decentered_value - centered * base.loc)
        return {"fn": None, "value": value, "is_observed": True}
