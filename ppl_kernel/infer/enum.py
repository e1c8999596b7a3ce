"""``config_enumerate``: mark a model's or guide's discrete sites for enumeration (Pyro's ``pyro.infer.enum``).

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
>>> from ppl_kernel import poutine
>>> @config_enumerate
... def model():
...     pyro.sample("coin", dist.Bernoulli(0.5))
...     pyro.sample("height", dist.Normal(0.0, 1.0))
>>> tr = poutine.trace(model).get_trace()
>>> tr["coin"].infer.get("enumerate"), tr["height"].infer.get("enumerate")
('parallel', None)
"""

from ..runtime import Messenger

_STRATEGIES = ("parallel", "sequential", None)


class EnumerateConfigMessenger(Messenger):
    """Set ``infer["enumerate"] = default`` on each latent site that has a finite support and no
    ``"enumerate"`` of its own (a site's own ``infer={"enumerate": ...}`` wins)."""

    def __init__(self, fn=None, default="parallel"):
        super().__init__(fn)
        if default not in _STRATEGIES:
            raise ValueError(f"config_enumerate: default must be 'parallel' or 'sequential', got {default!r}")
        self.default = default

    def process_message(self, msg):
        if (msg.type == "sample" and not msg.is_observed and "enumerate" not in msg.infer
                and getattr(msg.fn, "has_enumerate_support", False)):
            msg.infer = dict(msg.infer)
            msg.infer["enumerate"] = self.default


def config_enumerate(guide=None, default="parallel", expand=False, num_samples=None, tmc="diagonal"):
    """Mark every discrete site of ``guide`` (a model or a guide) ``infer={"enumerate": default}``.

    Usable as ``@config_enumerate``, ``@config_enumerate(default="sequential")`` or
    ``config_enumerate(fn, "parallel")``. ``expand=False`` is the only layout (enumerated values
    broadcast); ``num_samples`` (Monte Carlo enumeration) is not supported.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> guide = config_enumerate(lambda: pyro.sample("z", dist.Bernoulli(0.5)), "sequential")
    >>> poutine.trace(guide).get_trace()["z"].infer["enumerate"]
    'sequential'
    """
    if num_samples is not None:
        raise NotImplementedError("config_enumerate(num_samples=...) (Monte Carlo enumeration) is not supported: "
                                  "enumerate the whole support (drop num_samples) or let the guide sample the site")
    if expand:
        raise NotImplementedError("config_enumerate(expand=True) is not supported: enumerated values broadcast "
                                  "(expand=False), which gives the same results")
    if guide is None or isinstance(guide, str):
        default = guide if isinstance(guide, str) else default
        return lambda fn: EnumerateConfigMessenger(fn, default)
    return EnumerateConfigMessenger(guide, default)
