"""Pyro's "Boosting Black Box Variational Inference" tutorial (boosting_bbvi.ipynb) with ``import pyro`` aliased
to ppl_kernel: a bimodal posterior (z² observed with little noise) approximated by a mixture of Normal guides, each
new component fitted by SVI with a custom loss, the RELBO, that discounts where the mixture so far already puts
mass. Fewer and larger SVI steps than the tutorial (lr 0.05, 1500 steps instead of lr 0.01, 12000 steps)."""

from functools import partial

import pytest
import torch
from torch.distributions import constraints

STEPS = 1500
LR = 0.05


def model(data):
    import pyro
    import pyro.distributions as dist

    z = pyro.sample("z", dist.Normal(torch.tensor([0.0]), torch.tensor([5.0])))
    with pyro.plate("data", len(data)):
        pyro.sample("x", dist.Normal(z * z, torch.tensor([0.1])), obs=data)


def component(data, index):
    """The guide of component ``index``: a Normal with its own parameters."""
    import pyro
    import pyro.distributions as dist

    loc = pyro.param(f"loc_{index}", torch.tensor([0.0]))
    scale = pyro.param(f"scale_{index}", torch.tensor([1.0]), constraints.positive)
    pyro.sample("z", dist.Normal(loc, scale))


def mixture(data, components, weights):
    """The approximation so far: a component drawn by its weight, then its z."""
    import pyro
    import pyro.distributions as dist

    which = pyro.sample("assignment", dist.Categorical(weights))
    return components[which](data)


def approximation_trace(approximation, guide_trace, data):
    """The approximation's trace at the guide's z, its own parameters and choice of component hidden from SVI."""
    from pyro.poutine import block, replay, trace

    return trace(replay(block(approximation, expose=["z"]), guide_trace)).get_trace(data)


def relbo(model, guide, data, approximation):
    """Negative RELBO: the ELBO's loss plus the approximation's log density at the guide's draw of z."""
    import pyro
    from pyro.poutine import trace

    traced_guide = trace(guide)
    loss = pyro.infer.Trace_ELBO(max_plate_nesting=1).differentiable_loss(model, traced_guide, data)
    return loss + approximation_trace(approximation, traced_guide.trace, data).log_prob_sum()


def data_of(seed):
    import pyro

    pyro.set_rng_seed(seed)
    return torch.distributions.Normal(torch.tensor([4.0]), torch.tensor([0.1])).sample((100,))


@pytest.fixture(scope="module")
def boosted():
    """Two boosting iterations as in the tutorial (the second component's weight set to 1/2); returns each
    component's fitted (loc, scale), the first component's parameters before and after, and the data."""
    from ppl_kernel import compat

    compat.as_pyro()
    try:
        import pyro
        from pyro.infer import SVI
        from pyro.optim import Adam

        pyro.clear_param_store()
        data = data_of(0)
        components = [partial(component, index=0)]
        weights = torch.tensor([1.0])
        fitted = {}
        component_0 = None
        for t in (1, 2):
            new = partial(component, index=t)
            svi = SVI(model, new, Adam({"lr": LR, "betas": (0.90, 0.999)}), loss=relbo)
            for _ in range(STEPS):
                svi.step(data, approximation=partial(mixture, components=components, weights=weights))
            if component_0 is None:
                component_0 = (pyro.param("loc_0").item(), pyro.param("scale_0").item())
            fitted[t] = (pyro.param(f"loc_{t}").item(), pyro.param(f"scale_{t}").item())
            components.append(new)
            new_weight = 0.5 if t == 2 else 2 / (t + 1)
            weights = torch.cat([weights * (1 - new_weight), torch.tensor([new_weight])])
        yield fitted, component_0, (pyro.param("loc_0").item(), pyro.param("scale_0").item()), weights, data
    finally:
        pyro.clear_param_store()
        compat.undo_as_pyro()


def test_replayed_approximation_scores_the_guides_z_under_the_approximation_alone():
    import pyro
    from pyro.poutine import trace

    pyro.clear_param_store()
    data = data_of(1)
    guide = trace(partial(component, index=1))
    guide.get_trace(data)
    only_component = partial(mixture, components=[partial(component, index=0)], weights=torch.tensor([1.0]))
    replayed = approximation_trace(only_component, guide.trace, data)
    z = guide.trace.nodes["z"]["value"]
    sites = [name for name, site in replayed.nodes.items() if site["type"] == "sample"]
    assert sites == ["z"]  # the choice of component and the parameters are blocked
    assert torch.equal(replayed.nodes["z"]["value"], z)
    # component 0 is Normal(0, 1) at its initial parameters
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum()
    assert replayed.log_prob_sum().item() == pytest.approx(expected.item(), rel=1e-6)


def test_svi_takes_the_relbo_as_its_loss_and_passes_it_the_approximation():
    import pyro
    from pyro.infer import SVI
    from pyro.optim import Adam

    pyro.clear_param_store()
    data = data_of(2)
    approximation = partial(mixture, components=[partial(component, index=0)], weights=torch.tensor([1.0]))
    svi = SVI(model, partial(component, index=1), Adam({"lr": LR}), loss=relbo)
    loss = svi.step(data, approximation=approximation)
    assert isinstance(loss, float) and loss == loss
    assert pyro.param("loc_1").item() != 0.0  # the new component moved


def test_fitting_a_new_component_leaves_the_earlier_ones_parameters_alone(boosted):
    _, component_0_after_first, component_0_at_end, _, _ = boosted
    assert component_0_after_first == (0.0, pytest.approx(1.0))
    assert component_0_at_end == component_0_after_first


def test_first_component_sits_at_one_mode_of_the_posterior(boosted):
    fitted, _, _, _, data = boosted
    mode = data.mean().sqrt().item()  # z² ≈ mean of the data; the posterior sd of z is 0.1 / (2·2·√100) = 0.0025
    # The fit is not a sample: its error is the optimiser's, Adam moving loc by at most about lr = 0.05 a step
    # around the optimum; 3 steps' worth (0.15) leaves room for that jitter and nothing else.
    assert abs(abs(fitted[1][0]) - mode) < 3 * LR
    assert fitted[1][1] < 0.5  # narrowed from the initial scale 1 towards the mode's width


def test_second_component_moves_to_the_other_mode_the_mixture_lacked(boosted):
    fitted, _, _, weights, data = boosted
    mode = data.mean().sqrt().item()
    assert fitted[2][0] * fitted[1][0] < 0  # opposite signs: the RELBO pushed it away from component 1
    assert abs(abs(fitted[2][0]) - mode) < 3 * LR  # as for component 1
    assert weights.tolist() == pytest.approx([0.0, 0.5, 0.5])
