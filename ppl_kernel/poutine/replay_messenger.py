"""``replay``: reuse the values a previous trace chose for same-named sites (Pyro's semantics)."""

from ..runtime import Messenger, handler_function


class ReplayMessenger(Messenger):
    """Sites named in ``trace`` take its values; sites it lacks are sampled afresh; observed sites keep their data.

    A subsampled plate of the same name takes the trace's minibatch.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> tr = poutine.trace(model).get_trace()
    >>> bool(poutine.replay(model, trace=tr)() == tr["x"].value)
    True
    """

    def __init__(self, fn=None, trace=None, params=None):
        super().__init__(fn)
        if trace is None and params is None:
            raise ValueError("replay needs a trace to replay (trace=...) or parameter values (params=...)")
        self.trace = trace
        self.params = params

    def process_message(self, msg):
        if msg.type == "sample":
            if self.trace is None or msg.is_observed:
                return
            guide = self.trace.nodes.get(msg.name)
            if guide is None:
                return
            if guide.type != "sample" or guide.is_observed:
                raise RuntimeError(
                    f"replay: site '{msg.name}' is observed or not a sample site in the trace being replayed; "
                    "replay only latent sample sites (observe the data in the model instead)."
                )
            msg.value = guide.value
            msg.infer = guide.infer
            msg.done = True
        elif msg.type == "subsample" and self.trace is not None:
            # A subsampled plate takes the replayed run's minibatch (its indices), as in Pyro.
            recorded = self.trace.nodes.get(msg.name)
            if recorded is not None and recorded.type == "subsample":
                msg.value = recorded.value
                msg.done = True
        elif msg.type == "param" and self.params is not None and msg.name in self.params:
            site = self.params[msg.name]
            msg.value = site.value if hasattr(site, "value") else site
            msg.done = True


@handler_function(ReplayMessenger)
def replay(fn=None, trace=None, params=None):
    return ReplayMessenger(fn, trace=trace, params=params)
