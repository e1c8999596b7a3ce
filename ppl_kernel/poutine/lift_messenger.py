"""``lift``: turn ``param`` statements into ``sample`` statements from a prior (Pyro's semantics)."""

from torch.distributions import Distribution

from ..runtime import Messenger, handler_function


class LiftMessenger(Messenger):
    """Each ``pyro.param(name, ...)`` becomes a latent site ``name`` drawn from ``prior``: one distribution
    for all parameters, or a dict ``{name: distribution}`` (parameters it does not name stay parameters).
    A parameter read twice in one run is drawn once.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     return pyro.param("w", torch.tensor(0.0))
    >>> tr = poutine.trace(poutine.lift(model, prior={"w": dist.Normal(5.0, 0.01)})).get_trace()
    >>> tr["w"].type, abs(tr["w"].value.item() - 5.0) < 0.1
    ('sample', True)
    """

    def __init__(self, fn=None, prior=None):
        super().__init__(fn)
        if not isinstance(prior, (dict, Distribution)):
            raise TypeError("poutine.lift needs prior=: a distribution for every param, or a dict "
                            f"{{param name: distribution}}, got {type(prior).__name__}; e.g. prior=dist.Normal(0., 1.)")
        self.prior = prior
        self._drawn = {}

    def __enter__(self):
        self._drawn = {}
        return super().__enter__()

    def process_message(self, msg):
        if msg.type != "param":
            return
        prior = self.prior.get(msg.name) if isinstance(self.prior, dict) else self.prior
        if prior is None:
            return
        msg.type, msg.fn, msg.args, msg.kwargs, msg.infer = "sample", prior, (), {}, {}
        drawn = self._drawn.get(msg.name)
        if drawn is not None:  # the same parameter again in this run: the value drawn the first time, not a
            msg.value, msg.is_observed, msg.done = drawn.value, True, True  # second site (outer handlers skip it)
            msg.stop = True
        else:
            self._drawn[msg.name] = msg
            msg.is_observed = False


@handler_function(LiftMessenger)
def lift(fn=None, prior=None):
    return LiftMessenger(fn, prior=prior)
