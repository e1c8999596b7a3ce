"""The base class of reparameterizers: ``apply(msg)`` turns one sample site into others."""

from ...distributions import Independent


class Reparam:
    """A reparameterizer: ``apply({"name", "fn", "value", "is_observed"})`` returns ``{"fn", "value",
    "is_observed"}`` for the original site, after drawing whatever auxiliary sites it needs.

    >>> Reparam().apply({"name": "x", "fn": None, "value": None, "is_observed": False})
    Traceback (most recent call last):
    ...
    NotImplementedError: Reparam.apply: a reparameterizer subclass must say how it replaces site 'x'
    """

    def apply(self, msg):
        raise NotImplementedError(f"{type(self).__name__}.apply: a reparameterizer subclass must say how it replaces "
                                  f"site '{msg['name']}'")

    @staticmethod
    def _unwrap(fn):
        """The distribution under ``.to_event(k)`` wrappers, and k summed over them."""
        event_dim = 0
        while isinstance(fn, Independent):
            event_dim += fn.reinterpreted_batch_ndims
            fn = fn.base_dist
        return fn, event_dim

    @staticmethod
    def _wrap(fn, event_dim):
        return fn.to_event(event_dim) if event_dim else fn
