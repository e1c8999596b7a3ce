"""``escape``: leave a run at a chosen site by raising :class:`NonlocalExit` (Pyro's semantics).

Sequential enumeration (``poutine.queue``) is built on it: a run stops at the first site the queued
partial trace does not fix, and the site travels out in the exception so that the caller can extend
the partial trace with each of its values.
"""

from ..runtime import Messenger, get_stack, handler_function


class NonlocalExit(Exception):  # noqa: N818  (Pyro's name, which user code catches)
    """Raised by :class:`EscapeMessenger` at a site it escapes; ``site`` is that site's message."""

    def __init__(self, site, *args):
        super().__init__(*args)
        self.site = site

    def reset_stack(self):
        """Reset the handlers still active outside the escape (a ``trace`` around ``queue`` starts its trace
        again), up to a ``block`` that hid the site: the run that escaped is retried from the start."""
        from .block_messenger import BlockMessenger

        for handler in reversed(get_stack()):
            reset = getattr(handler, "_reset", None)
            if reset is not None:
                reset()
            if isinstance(handler, BlockMessenger) and handler.hide_fn(self.site):
                break


class EscapeMessenger(Messenger):
    """Raise :class:`NonlocalExit` at the first sample site for which ``escape_fn(msg)`` is true; the
    handlers outside this one never see that site.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     pyro.sample("a", dist.Normal(0.0, 1.0))
    ...     pyro.sample("b", dist.Bernoulli(0.5))
    >>> try:
    ...     poutine.escape(model, escape_fn=lambda msg: msg["name"] == "b")()
    ... except poutine.NonlocalExit as e:
    ...     print(e.site["name"])
    b
    """

    def __init__(self, fn=None, escape_fn=None):
        super().__init__(fn)
        if escape_fn is None:
            raise ValueError("escape needs escape_fn(msg) -> bool: the sites at which to leave the run")
        self.escape_fn = escape_fn

    def process_message(self, msg):
        if msg.type == "sample" and self.escape_fn(msg):
            msg.done = msg.stop = True
            raise NonlocalExit(msg)


@handler_function(EscapeMessenger)
def escape(fn=None, escape_fn=None):
    return EscapeMessenger(fn, escape_fn=escape_fn)
