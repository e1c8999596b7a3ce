"""The effect-handler API as Pyro's effect-handlers tutorial uses it: Messenger subclasses with
``_pyro_sample`` / ``_pyro_post_sample`` methods, ``poutine.runtime.effectful``, handlers on methods."""

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.poutine.runtime import am_i_wrapped, apply_stack, effectful


def scale(guess):
    weight = pyro.sample("weight", dist.Normal(guess, 1.0))
    return pyro.sample("measurement", dist.Normal(weight, 0.75))


DATA = {"measurement": torch.tensor(9.5), "weight": torch.tensor(8.23)}
# The log-joint the tutorial prints (-3.0203 under pyro-ppl), computed from the two densities.
EXPECTED = (torch.distributions.Normal(8.5, 1.0).log_prob(torch.tensor(8.23))
            + torch.distributions.Normal(8.23, 0.75).log_prob(torch.tensor(9.5)))


class LogJoint(poutine.messenger.Messenger):
    def __init__(self, cond_data):  # as in the tutorial: no call to Messenger.__init__
        self.data = cond_data

    def __enter__(self):
        self.logp = torch.tensor(0.0)
        return super().__enter__()

    def _pyro_sample(self, msg):
        if msg["name"] in self.data:
            msg["value"] = self.data[msg["name"]]
            msg["done"] = True

    def _pyro_post_sample(self, msg):
        self.logp = self.logp + (msg["scale"] * msg["fn"].log_prob(msg["value"])).sum()


def test_pyro_sample_and_post_sample_methods_see_every_site():
    with LogJoint(DATA) as m:
        scale(8.5)
    assert torch.allclose(m.logp, EXPECTED)
    assert round(m.logp.item(), 4) == -3.0203


def test_pyro_sample_value_is_what_the_model_gets():
    with LogJoint(DATA):
        assert scale(8.5) is DATA["measurement"]


def test_process_message_override_sees_sites():
    seen = []

    class Spy(poutine.messenger.Messenger):
        def _process_message(self, msg):
            seen.append(msg["name"])

    with Spy():
        scale(8.5)
    assert seen == ["weight", "measurement"]


def test_effectful_operation_is_a_plain_call_without_handlers():
    @effectful(type="apply")
    def add(x, y):
        return x + y

    assert not am_i_wrapped()
    assert add(1, 2) == 3


def test_effectful_operation_reaches_a_handler_by_its_type():
    @effectful(type="apply")
    def add(x, y):
        return x + y

    class Lazy(poutine.messenger.Messenger):
        def _pyro_apply(self, msg):
            msg["value"] = ("lazy", msg["fn"], msg["args"])
            msg["done"] = True

    with Lazy():
        assert am_i_wrapped()
        assert add(1, 2) == ("lazy", add.__wrapped__, (1, 2))


def test_apply_stack_uses_the_active_stack_by_default():
    with poutine.trace() as tracer:
        msg = poutine.runtime.Site("sample", "x", dist.Normal(0.0, 1.0), (), {})
        apply_stack(msg)
    assert tracer.trace["x"].value is msg.value


def test_handler_decorating_a_method_keeps_self():
    class Model:
        offset = 3.0

        @poutine.condition(data={"x": torch.tensor(1.0)})
        def __call__(self):
            return pyro.sample("x", dist.Normal(0.0, 1.0)) + self.offset

    assert Model()().item() == 4.0
