"""Errors that teach: each names the site or model and says how to fix it."""

import re

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.errors import (
    ArgumentTypeError, DuplicateSiteError, InvalidParameterError, ObservationError, ReservedNameError,
    RunawayModelError, SiteTypeError, UserDistributionError,
)

from .seed_models import geometric


def test_duplicate_site_names_the_site_both_call_paths_and_a_fix():
    def step(t):
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    def model():
        step(0)
        step(1)

    with pytest.raises(DuplicateSiteError) as info:
        poutine.trace(model).get_trace()
    msg = str(info.value)
    assert "'x' appears twice" in msg and "model 'model'" in msg
    assert "first in model() > step(t=0)" in msg and "again in model() > step(t=1)" in msg
    assert '"x_{}".format(t)' in msg


@pytest.mark.parametrize("make", [
    lambda: pyro.sample("temp", dist.Normal(0.0, -1.0)),  # the scalar fast path
    lambda: pyro.sample("temp", dist.normal, torch.zeros(1), -torch.ones(1)),  # torch's own validation
])
def test_negative_sigma_names_the_site_and_the_parameter(make):
    with pytest.raises(InvalidParameterError, match=r"site 'temp': parameter 'scale' of Normal must satisfy GreaterThan"):
        poutine.trace(make).get_trace()


def test_probability_outside_0_1_names_the_site_and_parameter_without_handlers_too():
    with pytest.raises(InvalidParameterError, match=r"site 'cloudy': parameter 'probs' of Bernoulli"):
        pyro.sample("cloudy", dist.Bernoulli(1.5))
    with pytest.raises(InvalidParameterError, match=r"site 'cloudy': parameter 'probs' of Bernoulli"):
        pyro.sample("cloudy", dist.bernoulli, torch.tensor([-0.5]))


def test_an_observation_outside_the_support_names_the_site():
    model = lambda: pyro.sample("coin", dist.Bernoulli(torch.tensor(0.5)), obs=torch.tensor(2.0))
    tr = poutine.trace(model).get_trace()
    with pytest.raises(InvalidParameterError, match=r"site 'coin': value .* outside the support"):
        tr.log_prob_sum()


def test_non_callable_fn_is_a_type_error_naming_the_site():
    with pytest.raises(SiteTypeError, match=r"site 'x': fn must be a distribution") as info:
        pyro.sample("x", 3.0)
    assert isinstance(info.value, TypeError)


def test_wrong_arguments_for_a_primitive_name_the_site():
    with pytest.raises(SiteTypeError, match=r"site 'x': wrong arguments for Normal: .*takes from 3 to 4 positional arguments"):
        pyro.sample("x", dist.normal, 0.0, 1.0, 2.0, 3.0)


def test_wrong_arguments_for_a_stochastic_function_name_the_site():
    def fn(a):
        return pyro.sample("inner", dist.Normal(a, 1.0))

    with pytest.raises(SiteTypeError, match=r"site 'x': fn does not take these arguments"):
        pyro.sample("x", fn, 1.0, 2.0)


def test_distribution_object_with_extra_arguments_is_explained():
    with pytest.raises(SiteTypeError, match=r"site 'x': got a distribution object"):
        pyro.sample("x", dist.Normal(0.0, 1.0), 5.0)


def test_a_name_that_is_not_a_string_is_explained():
    with pytest.raises(SiteTypeError, match="the name must be a string"):
        pyro.sample(dist.normal, 0.0, 1.0)


def test_recursion_that_never_ends_names_the_model_and_the_depth():
    with pytest.raises(RunawayModelError) as info:
        poutine.trace(geometric).get_trace(torch.ones(1))  # p = 1: every flip continues
    msg = str(info.value)
    assert "model 'geometric' did not finish" in msg
    depth = int(re.search(r"'geometric' recursed (\d+) calls deep", msg).group(1))
    assert depth > 100
    assert "sys.setrecursionlimit" in msg


def test_any_handler_reports_a_runaway_recursion():
    with pytest.raises(RunawayModelError, match="model 'geometric' did not finish"):
        poutine.seed(geometric, rng_seed=0)(torch.ones(1))


def test_too_many_sites_stops_at_the_configured_limit():
    def forever():
        t = 0
        while True:
            pyro.sample(f"x_{t}", dist.Normal(0.0, 1.0))
            t += 1

    pyro.set_max_sites(500)
    try:
        with pytest.raises(RunawayModelError, match=r"model 'forever' made more than 500 sites .*'x_500'.*set_max_sites"):
            poutine.trace(forever).get_trace()
    finally:
        pyro.set_max_sites(100_000)


def test_obs_of_the_wrong_type_is_explained():
    with pytest.raises(ObservationError, match=r"site 'y': obs must be a real tensor, a real number or a list"):
        pyro.sample("y", dist.Normal(0.0, 1.0), obs="70")


def test_obs_of_the_wrong_shape_is_explained():
    with pytest.raises(ObservationError, match=r"site 'y': obs has shape \(3,\), which does not broadcast with .* \(2,\)"):
        pyro.sample("y", dist.Normal(torch.zeros(2), 1.0), obs=torch.zeros(3))


def test_numbers_and_lists_are_accepted_as_obs():
    assert pyro.sample("y", dist.Normal(0.0, 1.0), obs=70).item() == 70.0
    assert pyro.sample("y", dist.Normal(torch.zeros(2), 1.0), obs=[1.0, 2.0]).tolist() == [1.0, 2.0]


def test_validation_can_be_switched_off():
    model = lambda: pyro.sample("coin", dist.Bernoulli(torch.tensor(0.5)), obs=torch.tensor(2.0))
    pyro.enable_validation(False)
    try:
        # No support check: torch scores the impossible observation instead of raising.
        assert torch.isfinite(poutine.trace(model).get_trace().log_prob_sum())
    finally:
        pyro.enable_validation(True)
    with pytest.raises(InvalidParameterError):
        poutine.trace(model).get_trace().log_prob_sum()


def test_a_handler_given_something_not_callable_says_so():
    with pytest.raises(TypeError, match="fn must be a callable model"):
        poutine.trace(geometric(torch.zeros(1)))


def test_suspending_validation_in_one_thread_keeps_it_in_others():
    import threading

    from ppl_kernel.settings import validation_suspended

    seen = {}

    def other_thread():
        try:
            pyro.sample("x", dist.Normal(0.0, -1.0))
        except InvalidParameterError as e:
            seen["error"] = e

    with validation_suspended():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(10)
        # and in this thread the deferred constructor runs unchecked
        assert dist.Normal(torch.zeros(1), -torch.ones(1)).scale.item() == -1.0
    assert "site 'x'" in str(seen["error"])
    with pytest.raises(ValueError):
        dist.Normal(torch.zeros(1), -torch.ones(1)).scale  # noqa: B018  checked again once the block ends


# ---- bad parameters and inputs: errors that name the site -----------------------------------------------------

@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_an_observed_site_with_an_invalid_scale_names_site_and_parameter_when_sampled(scale):
    # An observed site draws nothing; without handlers (as in %%model's live sampling) nothing scores it either.
    with pytest.raises(InvalidParameterError, match=r"site 'y': parameter 'scale' of Normal must satisfy GreaterThan"):
        pyro.sample("y", dist.Normal(0.0, scale), obs=torch.tensor(1.0))


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_a_conditioned_site_with_an_invalid_scale_names_site_and_parameter_when_scored(scale):
    model = lambda: pyro.sample("y", dist.Normal(0.0, scale))  # noqa: E731
    tr = poutine.trace(poutine.condition(model, data={"y": 1.0})).get_trace()
    with pytest.raises(InvalidParameterError, match=r"site 'y': parameter 'scale' of Normal must satisfy GreaterThan"):
        tr.log_prob_sum()


NAN = float("nan")


@pytest.mark.parametrize("loc, scale, value", [
    (NAN, 1.0, 0.5), (0.0, NAN, 0.5), (0.0, 1.0, NAN), (0.0, 0.0, 0.5), (0.0, -2.0, 0.5), (0.0, 1.0, 0.5),
])
def test_the_scalar_fast_path_raises_exactly_where_torchs_validation_does(loc, scale, value):
    def torch_rejects():
        try:
            torch.distributions.Normal(loc, scale, validate_args=True).log_prob(torch.tensor(value))
        except ValueError:
            return True
        return False

    model = lambda: pyro.sample("y", dist.Normal(loc, scale))  # noqa: E731
    conditioned = poutine.condition(model, data={"y": value})
    try:
        lp = poutine.trace(conditioned).get_trace().log_prob_sum()
    except InvalidParameterError as e:
        assert torch_rejects(), f"torch accepts loc={loc}, scale={scale}, value={value}, but ours raised {e}"
        assert "site 'y'" in str(e)
    else:
        assert not torch_rejects(), f"torch rejects loc={loc}, scale={scale}, value={value}; ours gave {lp}"


def test_a_nan_location_of_a_latent_site_names_the_parameter():
    with pytest.raises(InvalidParameterError, match=r"site 'x': parameter 'loc' of Normal must satisfy Real\(\)"):
        poutine.trace(lambda: pyro.sample("x", dist.Normal(NAN, 1.0))).get_trace()


def test_a_nan_observation_names_the_site_and_its_support():
    with pytest.raises(InvalidParameterError, match=r"site 'y': value tensor\(nan\) is outside the support Real\(\)"):
        poutine.trace(lambda: pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(NAN))).get_trace().log_prob_sum()


def test_a_parameter_of_the_wrong_type_is_named():
    with pytest.raises(SiteTypeError, match=r"site 'temp': parameter 'loc' of Normal must be a real number or a "
                                            r"tensor, got str '55'"):
        poutine.trace(lambda: pyro.sample("temp", dist.Normal("55", 10.0))).get_trace()


@pytest.mark.parametrize("obs", [torch.tensor(1 + 2j), 1 + 2j], ids=["tensor", "python"])
def test_a_complex_observation_is_an_error_naming_the_site(obs):
    with pytest.raises(ObservationError, match=r"site 'y': obs.*complex"):
        pyro.sample("y", dist.Normal(0.0, 1.0), obs=obs)


class _FloatLogProb(torch.distributions.Distribution):
    arg_constraints = {}
    support = torch.distributions.constraints.real

    def __init__(self):
        super().__init__(validate_args=False)

    def sample(self, sample_shape=torch.Size()):
        return torch.zeros(sample_shape)

    def log_prob(self, value):
        return -0.5


class _WrongShapeDraw(torch.distributions.Distribution):
    arg_constraints = {}
    support = torch.distributions.constraints.real

    def __init__(self):
        super().__init__(batch_shape=torch.Size([3]), validate_args=False)

    def sample(self, sample_shape=torch.Size()):
        return torch.zeros(2)

    def log_prob(self, value):
        return torch.zeros(3)


def test_a_user_distribution_whose_log_prob_returns_a_float_is_named_with_its_site():
    tr = poutine.trace(lambda: pyro.sample("z", _FloatLogProb())).get_trace()
    with pytest.raises(UserDistributionError, match=r"site 'z': _FloatLogProb.log_prob returned float -0.5, not a tensor"):
        tr.log_prob_sum()


def test_a_user_distribution_drawing_the_wrong_shape_is_named_with_its_site():
    with pytest.raises(UserDistributionError, match=r"site 'z': _WrongShapeDraw.sample returned a value of shape \(2,\), "
                                                    r"but the distribution declares batch_shape \(3,\)"):
        poutine.trace(lambda: pyro.sample("z", _WrongShapeDraw())).get_trace()


def test_a_generator_function_as_a_model_is_refused():
    def steps():
        yield pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ArgumentTypeError, match=r"model 'steps' is a generator function.*plain function"):
        poutine.trace(steps).get_trace()


def test_an_async_function_as_a_model_is_refused():
    async def fetch():
        return pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ArgumentTypeError, match=r"model 'fetch' is an async function"):
        poutine.trace(fetch)


def test_condition_data_that_is_not_a_mapping_is_explained():
    model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0))  # noqa: E731
    with pytest.raises(ArgumentTypeError, match=r"condition\(model, data=...\): data must map site names to values.*"
                                                 r"got list \[1.0, 2.0\]"):
        poutine.condition(model, data=[1.0, 2.0])


@pytest.mark.parametrize("seed", [1.5, "7"])
def test_a_seed_that_is_not_an_integer_is_explained(seed):
    with pytest.raises(ArgumentTypeError, match=r"set_rng_seed\(seed\): the seed must be an integer"):
        pyro.set_rng_seed(seed)
    with pytest.raises(ArgumentTypeError, match=r"the seed must be an integer"):
        poutine.seed(lambda: None, rng_seed=seed)


def test_a_replayed_value_outside_the_new_support_does_not_blame_an_observation():
    guide_trace = poutine.trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0))).get_trace()
    model = lambda: pyro.sample("x", dist.Uniform(5.0, 6.0))  # noqa: E731
    tr = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace()
    with pytest.raises(InvalidParameterError, match=r"site 'x': value .* outside the support") as info:
        tr.log_prob_sum()
    assert "obs=" not in str(info.value)
    assert "latent site's value was given, not drawn" in str(info.value)


def test_a_site_named_like_the_return_node_is_an_error():
    def model():
        pyro.sample("_RETURN", dist.Normal(0.0, 1.0))
        return 3

    with pytest.raises(ReservedNameError, match=r"model 'model' has a sample site named '_RETURN'.*Rename the site"):
        poutine.trace(model).get_trace()
