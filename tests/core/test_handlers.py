"""Effect handlers: Pyro's semantics, each usable as a context and as a function wrapper."""

import threading

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.errors import InvalidParameterError


def model():
    a = pyro.sample("a", dist.Normal(0.0, 1.0))
    b = pyro.sample("b", dist.Normal(a, 1.0))
    return a + b


def test_condition_observes_named_sites_in_both_forms():
    tr = poutine.trace(pyro.condition(model, data={"b": 2.0})).get_trace()
    assert tr["b"].is_observed and tr["b"].value.item() == 2.0 and not tr["a"].is_observed
    with poutine.trace() as tracer, poutine.condition(data={"a": torch.tensor(1.0)}):
        model()
    assert tracer.trace["a"].is_observed and tracer.trace["a"].value.item() == 1.0
    assert tracer.trace.observation_nodes == ["a"] and tracer.trace.stochastic_nodes == ["b"]


def test_condition_accepts_a_trace_as_data():
    tr = poutine.trace(model).get_trace()
    tr2 = poutine.trace(poutine.condition(model, data=tr)).get_trace()
    assert tr2["a"].value is tr["a"].value and tr2["a"].is_observed


def test_do_fixes_a_value_without_scoring_it():
    tr = poutine.trace(pyro.do(model, data={"a": torch.tensor(5.0)})).get_trace()
    assert tr["a"].value.item() == 5.0 and not tr["a"].is_observed
    assert tr["a"].infer["is_intervened"]
    assert tr["a"].log_prob.item() == 0.0
    assert abs(tr.log_prob_sum().item() - tr["b"].log_prob.item()) < 1e-6
    # b's distribution sees the intervened value
    assert tr["b"].fn.loc == 5.0


def test_block_hides_sites_from_outer_handlers():
    assert list(poutine.trace(poutine.block(model)).get_trace().nodes) == ["_RETURN"]
    assert list(poutine.trace(poutine.block(model, hide=["a"])).get_trace().nodes) == ["b", "_RETURN"]
    assert list(poutine.trace(poutine.block(model, expose=["a"])).get_trace().nodes) == ["a", "_RETURN"]
    assert list(poutine.trace(poutine.block(model, hide_types=["sample"])).get_trace().nodes) == ["_RETURN"]
    with pytest.raises(ValueError, match="both hidden and exposed"):
        poutine.block(model, hide=["a"], expose=["a"])


def test_replay_reuses_values_and_samples_missing_sites():
    guide_trace = poutine.trace(lambda: pyro.sample("a", dist.Normal(10.0, 1.0))).get_trace()
    tr = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace()
    assert tr["a"].value is guide_trace["a"].value
    assert "b" not in guide_trace and "b" in tr and tr["b"].is_choice  # drawn afresh, not fixed by replay
    assert tr["a"].done and not tr["a"].is_choice


def test_replay_leaves_observed_sites_alone():
    guide_trace = poutine.trace(model).get_trace()
    observed = pyro.condition(model, data={"b": 3.0})
    tr = poutine.trace(poutine.replay(observed, trace=guide_trace)).get_trace()
    assert tr["b"].value.item() == 3.0


def test_seed_makes_runs_repeat_and_restores_the_outer_state():
    torch.manual_seed(123)
    before = torch.rand(())
    torch.manual_seed(123)
    first = poutine.seed(model, rng_seed=7)()
    assert torch.rand(()) == before  # the outer random stream is untouched
    assert poutine.seed(model, rng_seed=7)() == first


def test_scale_multiplies_log_probs():
    obs_model = lambda: pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(1.0))
    lp = poutine.trace(obs_model).get_trace().log_prob_sum()
    with poutine.trace() as tracer, poutine.scale(scale=3.0):
        obs_model()
    assert torch.allclose(tracer.trace.log_prob_sum(), 3 * lp)


def test_mask_switches_off_log_probs():
    obs_model = lambda: pyro.sample("y", dist.Normal(torch.zeros(3), 1.0), obs=torch.ones(3))
    m = torch.tensor([True, False, True])
    tr = poutine.trace(poutine.mask(obs_model, mask=m)).get_trace()
    assert tr["y"].log_prob[1].item() == 0.0 and tr["y"].log_prob[0].item() < 0
    tr = poutine.trace(poutine.mask(obs_model, mask=False)).get_trace()
    assert tr.log_prob_sum().item() == 0.0


def test_substitute_fixes_params_and_latent_values_without_observing():
    def learner():
        w = pyro.param("w", torch.tensor(1.0))
        return pyro.sample("z", dist.Normal(w, 1.0))

    tr = poutine.trace(poutine.substitute(learner, data={"w": 4.0, "z": 2.0})).get_trace()
    assert tr["w"].value.item() == 4.0 and tr["z"].value.item() == 2.0 and not tr["z"].is_observed


def test_uncondition_samples_observed_sites():
    conditioned = pyro.condition(model, data={"b": 3.0})
    tr = poutine.trace(poutine.uncondition(conditioned)).get_trace()
    assert not tr["b"].is_observed and tr["b"].infer["was_observed"]
    values = {poutine.trace(poutine.uncondition(conditioned)).get_trace()["b"].value.item() for _ in range(5)}
    assert len(values) == 5 and 3.0 not in values


def test_handlers_work_as_decorators():
    @poutine.scale(scale=2.0)
    def doubled():
        return pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))

    tr = poutine.trace(doubled).get_trace()
    assert torch.allclose(tr["y"].log_prob, 2 * dist.Normal(0.0, 1.0).log_prob(torch.tensor(0.0)))


def test_handler_stack_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def background():
        with poutine.trace() as tracer:
            inside.set()
            release.wait(5)
            pyro.sample("bg", dist.Normal(0.0, 1.0))
        seen["bg"] = list(tracer.trace.nodes)

    thread = threading.Thread(target=background)
    thread.start()
    inside.wait(5)
    # While the background thread is inside its trace, the main thread runs untraced and traces on its own.
    assert poutine.get_stack() == []
    tr = poutine.trace(model).get_trace()
    release.set()
    thread.join(5)
    assert list(tr.nodes) == ["a", "b", "_RETURN"]
    assert seen["bg"] == ["bg"]


def test_trace_log_prob_sum_adds_every_sample_site():
    tr = poutine.trace(model).get_trace()
    expected = dist.Normal(0.0, 1.0).log_prob(tr["a"].value) + dist.Normal(tr["a"].value, 1.0).log_prob(tr["b"].value)
    assert torch.allclose(tr.log_prob_sum(), expected)


def test_factor_adds_to_the_log_prob():
    def soft():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        pyro.factor("f", 0.0 if x.item() else -2.0)

    tr = poutine.trace(pyro.condition(soft, data={"x": 0.0})).get_trace()
    assert abs(tr["f"].log_prob.item() + 2.0) < 1e-6
    assert tr["f"].is_observed


def test_deterministic_records_a_value_that_adds_no_log_prob():
    def m():
        a = pyro.sample("a", dist.Normal(0.0, 1.0))
        return pyro.deterministic("twice", 2 * a)

    tr = poutine.trace(m).get_trace()
    assert torch.equal(tr["twice"].value, 2 * tr["a"].value)
    assert tr["twice"].log_prob.item() == 0.0
    assert tr.stochastic_nodes == ["a"]


def test_fast_scalar_scores_equal_torch():
    for d, v in [(dist.Normal(1.5, 2.0), 0.3), (dist.Bernoulli(0.3), 1.0), (dist.Bernoulli(0.3), 0.0),
                 (dist.Uniform(-1.0, 3.0), 2.0)]:
        def site_model(d=d, v=v):
            return pyro.sample("s", d, obs=torch.tensor(v))

        fast = poutine.trace(site_model).get_trace()["s"].log_prob
        reference = getattr(torch.distributions, type(d).__name__)(*d._deferred[0]).log_prob(torch.tensor(v))
        assert torch.allclose(fast, reference), type(d).__name__


def test_a_user_defined_distribution_works_where_a_builtin_does():
    class Coin(dist.Distribution):
        arg_constraints = {}
        support = torch.distributions.constraints.boolean

        def __init__(self, p):
            self.p = torch.as_tensor(p)
            super().__init__(torch.Size(), validate_args=False)

        def sample(self, sample_shape=torch.Size()):
            return (torch.rand(sample_shape) < self.p).float()

        def log_prob(self, value):
            return torch.where(value == 1, self.p.log(), (1 - self.p).log())

    tr = poutine.trace(lambda: pyro.sample("c", Coin(0.25))).get_trace()
    assert tr["c"].value.item() in (0.0, 1.0)
    flips = torch.stack([pyro.sample("c", Coin(0.25)) for _ in range(2000)])
    # P(heads) = 0.25: SE = sqrt(0.25*0.75/2000) = 0.0097 -> 5 SE = 0.048
    assert abs(flips.mean().item() - 0.25) < 0.048
    cond = poutine.trace(pyro.condition(lambda: pyro.sample("c", Coin(0.25)), data={"c": 1.0})).get_trace()
    assert abs(cond.log_prob_sum().item() - torch.log(torch.tensor(0.25)).item()) < 1e-6


def test_every_handler_function_is_documented_with_a_runnable_example():
    for name in ("block", "condition", "do", "mask", "replay", "scale", "seed", "substitute", "trace", "uncondition"):
        doc = getattr(poutine, name).__doc__
        assert doc and ">>>" in doc, f"poutine.{name} has no example in its docstring"


def test_trace_accepts_pyros_graph_types_and_rejects_others():
    model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0))
    for graph_type in ("flat", "dense"):
        assert "x" in poutine.trace(model, graph_type=graph_type).get_trace()
    with pytest.raises(ValueError, match="graph_type must be 'flat' or 'dense'"):
        poutine.trace(model, graph_type="tree")


def test_scale_accepts_a_batched_tensor_and_weights_each_element():
    def model():
        with pyro.plate("data", 2):
            return pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.zeros(2))

    weights = torch.tensor([1.0, 3.0])
    lp = poutine.trace(poutine.scale(model, scale=weights)).get_trace()["x"].log_prob
    unscaled = torch.distributions.Normal(0.0, 1.0).log_prob(torch.zeros(2))
    assert torch.allclose(lp, unscaled * weights)


def test_scale_with_a_scalar_tensor_scores_as_the_same_number():
    model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.5))  # noqa: E731
    by_tensor = poutine.trace(poutine.scale(model, scale=torch.tensor(2.5))).get_trace().log_prob_sum()
    by_float = poutine.trace(poutine.scale(model, scale=2.5)).get_trace().log_prob_sum()
    assert by_tensor.item() == pytest.approx(by_float.item())


def test_scale_with_a_non_positive_tensor_element_is_an_error():
    with pytest.raises(InvalidParameterError, match=r"poutine.scale: every element of the scale tensor must be a positive"):
        poutine.scale(lambda: None, scale=torch.tensor([1.0, 0.0]))


def test_a_str_subclass_is_accepted_as_a_site_name():
    class Name(str):
        pass

    tr = poutine.trace(lambda: pyro.sample(Name("x"), dist.Normal(0.0, 1.0))).get_trace()
    assert list(tr.nodes) == ["x", "_RETURN"] and type(tr["x"].name) is str


def test_seed_seeds_numpy_and_random_as_set_rng_seed_does_and_restores_them():
    import random

    np = pytest.importorskip("numpy")

    def model():
        return np.random.rand(), random.random(), pyro.sample("x", dist.Normal(0.0, 1.0)).item()

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = poutine.seed(model, rng_seed=7)()
    assert (np.random.get_state()[1] == before).all()  # the outer NumPy state is put back
    assert poutine.seed(model, rng_seed=7)() == first
    pyro.set_rng_seed(7)
    assert model() == first
