"""``reparam``: sample chosen sites through a reparameterizer (Pyro's semantics), e.g. decentering a
hierarchical model's funnel with ``LocScaleReparam(0)`` so that NUTS no longer diverges in its neck."""

from ..runtime import Messenger, handler_function
from ..distributions.point import Delta


class ReparamMessenger(Messenger):
    """Hand each latent sample site named in ``config`` (a dict ``{name: reparam}``, or a function
    ``config(msg) -> reparam or None``) to its reparameterizer: ``reparam.apply(msg)`` draws auxiliary
    sites (``x_decentered``) and returns the site's value, which is then recorded like a
    ``deterministic`` site (scored by the auxiliary sites, not again by the original distribution).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> from ppl_kernel.infer.reparam import LocScaleReparam
    >>> def model():
    ...     return pyro.sample("x", dist.Normal(3.0, 2.0))
    >>> tr = poutine.trace(poutine.reparam(model, config={"x": LocScaleReparam(0.0)})).get_trace()
    >>> [(site.name, site.kind) for site in tr]
    [('x_decentered', 'latent'), ('x', 'deterministic')]
    >>> bool(tr["x"].value == 3.0 + 2.0 * tr["x_decentered"].value)
    True
    """

    def __init__(self, fn=None, config=None):
        super().__init__(fn)
        if config is None or not (isinstance(config, dict) or callable(config)):
            raise TypeError("poutine.reparam needs config=: a dict {site name: reparameterizer} or a function "
                            "config(msg) -> reparameterizer or None, e.g. config={'x': LocScaleReparam(0.0)}")
        self.config = config

    def process_message(self, msg):
        if msg.type != "sample" or msg.infer.get("_deterministic"):
            return
        reparam = self.config.get(msg.name) if isinstance(self.config, dict) else self.config(msg)
        if reparam is None:
            return
        new = reparam.apply({"name": msg.name, "fn": msg.fn, "value": msg.value, "is_observed": msg.is_observed})
        if new["fn"] is msg.fn and new["value"] is msg.value:
            return  # the reparameterizer left the site as it was (LocScaleReparam(centered=1))
        value = new["value"]
        event_dim = len(msg.fn.event_shape)
        msg.fn = new["fn"] if new["fn"] is not None else Delta(value, event_dim=event_dim)
        msg.value, msg.is_observed = value, True
        msg.mask = False  # its density was already counted at the auxiliary sites
        msg.infer = dict(msg.infer, _deterministic=True)
        msg._log_prob = None


@handler_function(ReparamMessenger)
def reparam(fn=None, config=None):
    return ReparamMessenger(fn, config=config)
