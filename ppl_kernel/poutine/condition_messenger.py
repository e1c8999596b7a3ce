"""Handlers that give sites fixed values: ``condition``, ``substitute``, ``do``, ``uncondition``."""

from collections.abc import Mapping

import torch

from ..errors import ArgumentTypeError
from ..runtime import Messenger, handler_function


def _value_of(data, name):
    value = data.nodes[name].value if hasattr(data, "nodes") else data[name]
    if value is not None and not torch.is_tensor(value):
        value = torch.tensor(value, dtype=torch.get_default_dtype())
    return value


def _has(data, name):
    return name in (data.nodes if hasattr(data, "nodes") else data)


def _check_data(handler, data):
    """``data`` must map site names to values (a dict, or a trace whose sites give them)."""
    if hasattr(data, "nodes") or isinstance(data, Mapping):
        return data
    raise ArgumentTypeError(
        f"{handler}(model, data=...): data must map site names to values, e.g. data={{'x': torch.tensor(1.0)}}, "
        f"or be a trace; got {type(data).__name__} {_short(data)}. To observe a list of values, give each its "
        "own site (x_0, x_1, ...) or put one site in a plate and pass the values as one tensor."
    )


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ConditionMessenger(Messenger):
    """Observe sites: each site named in ``data`` takes that value and scores it (``is_observed``).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("temp", dist.Normal(60.0, 10.0))
    >>> tr = poutine.trace(poutine.condition(model, data={"temp": 70.0})).get_trace()
    >>> tr["temp"].value.item(), tr["temp"].is_observed
    (70.0, True)
    """

    def __init__(self, fn=None, data=None):
        super().__init__(fn)
        if data is None:
            raise ValueError("condition needs data: condition(model, data={'site name': value})")
        self.data = _check_data("condition", data)

    def process_message(self, msg):
        if msg.type == "sample" and _has(self.data, msg.name):
            msg.value = _value_of(self.data, msg.name)
            msg.is_observed = msg.value is not None


class SubstituteMessenger(Messenger):
    """Fix sites' values without observing them (param sites, and sample sites as in NumPyro).

    A substituted sample site is not a random choice any more (inference leaves it alone) but, unlike
    ``do``, it still scores its value.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.param("a", torch.tensor(1.0)) + pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> poutine.substitute(model, data={"a": torch.tensor(10.0), "x": torch.tensor(0.5)})().item()
    10.5
    """

    def __init__(self, fn=None, data=None):
        super().__init__(fn)
        self.data = {} if data is None else _check_data("substitute", data)

    def process_message(self, msg):
        if msg.type in ("sample", "param") and _has(self.data, msg.name):
            msg.value = _value_of(self.data, msg.name)
            msg.done = True


class DoMessenger(Messenger):
    """Intervene: each site named in ``data`` is set to that value, cutting it from its causes.

    The site stays in the trace (``site.infer["is_intervened"]``) but is not a random choice any
    more, so it adds nothing to the log-probability.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0)) * 2
    >>> pyro.do(model, data={"x": torch.tensor(3.0)})().item()
    6.0
    """

    def __init__(self, fn=None, data=None):
        super().__init__(fn)
        if data is None:
            raise ValueError("do needs data: do(model, data={'site name': value})")
        self.data = _check_data("do", data)

    def process_message(self, msg):
        if msg.type == "sample" and _has(self.data, msg.name):
            msg.value = _value_of(self.data, msg.name)
            msg.is_observed = False
            msg.infer = dict(msg.infer, is_intervened=True)
            msg.mask = False
            msg.done = True


class UnconditionMessenger(Messenger):
    """Undo observation: observed sites are sampled from their distribution instead (the data is kept in
    ``site.infer["obs"]``).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(5.0))
    >>> tr = poutine.trace(poutine.uncondition(model)).get_trace()
    >>> tr["y"].is_observed, tr["y"].infer["obs"].item()
    (False, 5.0)
    """

    def process_message(self, msg):
        if msg.kind == "observed":
            msg.infer = dict(msg.infer, was_observed=True, obs=msg.value)
            msg.is_observed = False
            msg.value = None
            msg.done = False


@handler_function(ConditionMessenger)
def condition(fn=None, data=None):
    return ConditionMessenger(fn, data=data)


@handler_function(SubstituteMessenger)
def substitute(fn=None, data=None):
    return SubstituteMessenger(fn, data=data)


@handler_function(DoMessenger)
def do(fn=None, data=None):
    return DoMessenger(fn, data=data)


@handler_function(UnconditionMessenger)
def uncondition(fn=None):
    return UnconditionMessenger(fn)
