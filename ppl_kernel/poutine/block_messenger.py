"""``block``: hide sites from the handlers outside it (Pyro's semantics)."""

from ..runtime import Messenger, handler_function


class BlockMessenger(Messenger):
    """Hide sites from outer handlers. With no arguments everything is hidden.

    ``hide=[names]`` hides just those; ``expose=[names]`` hides all but those; ``hide_types`` /
    ``expose_types`` select by site type; ``hide_fn(site)`` decides per site.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     pyro.sample("a", dist.Normal(0.0, 1.0)); pyro.sample("b", dist.Normal(0.0, 1.0))
    >>> list(poutine.trace(poutine.block(model, hide=["a"])).get_trace().nodes)
    ['b', '_RETURN']
    """

    def __init__(self, fn=None, hide_fn=None, expose_fn=None, hide_all=True, expose_all=False,
                 hide=None, expose=None, hide_types=None, expose_types=None):
        super().__init__(fn)
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif expose_fn is not None:
            self.hide_fn = lambda msg: not expose_fn(msg)
        else:
            self.hide_fn = _default_hide_fn(hide_all, expose_all, hide, expose, hide_types, expose_types)

    def process_message(self, msg):
        msg.stop = bool(self.hide_fn(msg))


def _default_hide_fn(hide_all, expose_all, hide, expose, hide_types, expose_types):
    if hide_all and expose_all:
        raise ValueError("block: cannot hide_all and expose_all at once")
    hide, expose = set(hide or ()), set(expose or ())
    hide_types, expose_types = set(hide_types or ()), set(expose_types or ())
    if hide & expose or hide_types & expose_types:
        raise ValueError(f"block: a site cannot be both hidden and exposed: {sorted(hide & expose) or sorted(hide_types & expose_types)}")
    if expose_all:
        return lambda msg: False
    if hide or hide_types:
        hide_all = False
    if expose or expose_types:
        hide_all = True
    return lambda msg: (
        msg.name in hide or msg.type in hide_types
        or (hide_all and msg.name not in expose and msg.type not in expose_types)
    )


@handler_function(BlockMessenger)
def block(fn=None, hide_fn=None, expose_fn=None, hide_all=True, expose_all=False,
          hide=None, expose=None, hide_types=None, expose_types=None):
    return BlockMessenger(fn, hide_fn, expose_fn, hide_all, expose_all, hide, expose, hide_types, expose_types)
