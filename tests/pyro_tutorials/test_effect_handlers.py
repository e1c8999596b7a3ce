"""Pyro's effect-handlers tutorial ("Poutine: a guide to programming with effect handlers"): the log-joint
written four ways, all giving the tutorial's -3.0203."""

import math

import torch


def scale_model():
    import pyro
    import pyro.distributions as dist

    def scale(guess):
        weight = pyro.sample("weight", dist.Normal(guess, 1.0))
        return pyro.sample("measurement", dist.Normal(weight, 0.75))

    return scale


DATA = {"measurement": 9.5, "weight": 8.23}
EXPECTED = (torch.distributions.Normal(8.5, 1.0).log_prob(torch.tensor(8.23))
            + torch.distributions.Normal(8.23, 0.75).log_prob(torch.tensor(9.5))).item()  # -3.0203


def test_log_joint_from_condition_and_trace():
    import pyro.poutine as poutine

    def make_log_joint(model):
        def _log_joint(cond_data, *args, **kwargs):
            conditioned_model = poutine.condition(model, data=cond_data)
            trace = poutine.trace(conditioned_model).get_trace(*args, **kwargs)
            return trace.log_prob_sum()
        return _log_joint

    assert abs(make_log_joint(scale_model())(DATA, 8.5).item() - EXPECTED) < 1e-4


def test_log_joint_from_the_messenger_classes():
    from pyro.poutine.condition_messenger import ConditionMessenger
    from pyro.poutine.trace_messenger import TraceMessenger

    scale = scale_model()
    with TraceMessenger() as tracer:
        with ConditionMessenger(data=DATA):
            scale(8.5)
    logp = 0.0
    for name, node in tracer.trace.nodes.items():
        if node["type"] == "sample":
            if node["is_observed"]:
                # Pyro keeps the given float itself; ppl_kernel makes it a tensor (scored under validation).
                assert math.isclose(float(node["value"]), DATA[name], rel_tol=1e-6)
            logp = logp + node["fn"].log_prob(node["value"]).sum()
    assert abs(logp.item() - EXPECTED) < 1e-4


def test_log_joint_messenger_with_pyro_sample():
    import pyro.poutine as poutine

    class LogJointMessenger(poutine.messenger.Messenger):
        def __init__(self, cond_data):
            self.data = cond_data

        def __call__(self, fn):
            def _fn(*args, **kwargs):
                with self:
                    fn(*args, **kwargs)
                    return self.logp.clone()
            return _fn

        def __enter__(self):
            self.logp = torch.tensor(0.0)
            return super().__enter__()

        def __exit__(self, exc_type, exc_value, traceback):
            self.logp = torch.tensor(0.0)
            return super().__exit__(exc_type, exc_value, traceback)

        def _pyro_sample(self, msg):
            assert msg["name"] in self.data
            msg["value"] = torch.as_tensor(self.data[msg["name"]])
            msg["is_observed"] = True
            self.logp = self.logp + (msg["scale"] * msg["fn"].log_prob(msg["value"])).sum()

    with LogJointMessenger(cond_data=DATA) as m:
        scale_model()(8.5)
        assert abs(m.logp.item() - EXPECTED) < 1e-4
    assert abs(LogJointMessenger(cond_data=DATA)(scale_model())(8.5).item() - EXPECTED) < 1e-4


def test_log_joint_messenger_with_pyro_post_sample():
    import pyro.poutine as poutine

    class LogJointMessenger2(poutine.messenger.Messenger):
        def __init__(self, cond_data):
            self.data = cond_data

        def __enter__(self):
            self.logp = torch.tensor(0.0)
            return super().__enter__()

        def _pyro_sample(self, msg):
            if msg["name"] in self.data:
                msg["value"] = torch.as_tensor(self.data[msg["name"]])
                msg["done"] = True

        def _pyro_post_sample(self, msg):
            assert msg["done"]
            self.logp = self.logp + (msg["scale"] * msg["fn"].log_prob(msg["value"])).sum()

    with LogJointMessenger2(cond_data=DATA) as m:
        scale_model()(8.5)
    assert abs(m.logp.item() - EXPECTED) < 1e-4


def test_monte_carlo_elbo_from_replay():
    import pyro
    import pyro.distributions as dist
    import pyro.poutine as poutine

    scale = scale_model()

    def guide(guess):
        loc = pyro.param("loc", torch.tensor(9.0))
        return pyro.sample("weight", dist.Normal(loc, 0.6))

    def monte_carlo_elbo(model, guide, batch, *args, **kwargs):
        conditioned_model = poutine.condition(model, data=batch)
        guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
        model_trace = poutine.trace(poutine.replay(conditioned_model, trace=guide_trace)).get_trace(*args, **kwargs)
        elbo = 0.0
        for name, node in model_trace.nodes.items():
            if node["type"] == "sample":
                elbo = elbo + node["fn"].log_prob(node["value"]).sum()
                if not node["is_observed"]:
                    elbo = elbo - guide_trace.nodes[name]["fn"].log_prob(node["value"]).sum()
        return -elbo

    loss = monte_carlo_elbo(scale, guide, {"measurement": torch.tensor(9.5)}, 8.5)
    loss.backward()
    assert pyro.get_param_store().get_unconstrained("loc").grad is not None
