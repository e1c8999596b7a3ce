"""Pyro's "Gaussian Mixture Model" tutorial (gmm.ipynb) with ``import pyro`` aliased to ppl_kernel: a MAP fit
with the assignments summed out by TraceEnum_ELBO, serving the assignments with infer_discrete, enumerating
them in the guide instead, and NUTS on the collapsed model (fewer NUTS steps than the tutorial)."""

import math
from collections import defaultdict

import pytest
import torch
from torch.distributions import constraints

K = 2
DATA = torch.tensor([0.0, 1.0, 10.0, 11.0, 12.0])


def make_model():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import config_enumerate

    @config_enumerate
    def model(data):
        weights = pyro.sample("weights", dist.Dirichlet(0.5 * torch.ones(K)))
        scale = pyro.sample("scale", dist.LogNormal(0.0, 2.0))
        with pyro.plate("components", K):
            locs = pyro.sample("locs", dist.Normal(0.0, 10.0))
        with pyro.plate("data", len(data)):
            assignment = pyro.sample("assignment", dist.Categorical(weights))
            pyro.sample("obs", dist.Normal(locs[assignment], scale), obs=data)

    return model


def init_loc_fn(site):
    if site["name"] == "weights":
        return torch.ones(K) / K
    if site["name"] == "scale":
        return (DATA.var() / 2).sqrt()
    if site["name"] == "locs":
        return DATA[torch.multinomial(torch.ones(len(DATA)) / len(DATA), K)]
    raise ValueError(site["name"])


@pytest.fixture(scope="module")
def fitted():
    """The tutorial's MAP fit: best of 100 initialisations, 200 SVI steps; returns what later sections use."""
    from ppl_kernel import compat

    compat.as_pyro()
    try:
        import pyro
        from pyro import poutine
        from pyro.infer import SVI, TraceEnum_ELBO
        from pyro.infer.autoguide import AutoDelta

        model = make_model()
        optim = pyro.optim.Adam({"lr": 0.1, "betas": [0.8, 0.99]})
        elbo = TraceEnum_ELBO(max_plate_nesting=1)

        def initialize(seed):
            pyro.set_rng_seed(seed)
            pyro.clear_param_store()
            guide = AutoDelta(poutine.block(model, expose=["weights", "locs", "scale"]), init_loc_fn=init_loc_fn)
            svi = SVI(model, guide, optim, loss=elbo)
            return svi.loss(model, guide, DATA), guide, svi

        _, seed = min((initialize(seed)[0], seed) for seed in range(100))
        _, global_guide, svi = initialize(seed)
        gradient_norms = defaultdict(list)
        for name, value in pyro.get_param_store().named_parameters():
            value.register_hook(lambda g, name=name: gradient_norms[name].append(g.norm().item()))
        losses = [svi.step(DATA) for _ in range(200)]
        map_estimates = {k: v.detach() for k, v in global_guide(DATA).items()}
        yield model, global_guide, losses, gradient_norms, map_estimates, pyro.get_param_store().get_state()
    finally:
        compat.undo_as_pyro()


@pytest.fixture
def fit(fitted):
    """The fit, with the parameter store as the fit left it (each test starts with an empty store)."""
    import pyro

    pyro.get_param_store().set_state(fitted[-1])
    return fitted[:-1]


def test_map_weights_are_the_dirichlet_posterior_mode_of_the_cluster_counts(fit):
    *_, map_estimates = fit
    # Clusters of 2 and 3 points, Dirichlet(0.5, 0.5): the MAP weights are (n_k - 0.5) / (5 - 1).
    assert sorted(map_estimates["weights"].tolist()) == pytest.approx([0.375, 0.625], abs=0.01)
    assert sorted(map_estimates["locs"].tolist()) == pytest.approx([0.5, 11.0], abs=0.05)  # the cluster means
    assert 0.4 < map_estimates["scale"].item() < 1.0  # within-cluster spread (about 0.65 in the tutorial)


def test_svi_converges_and_every_global_parameter_gets_gradients(fit):
    _, _, losses, gradient_norms, _ = fit
    assert losses[-1] < losses[0] - 5
    assert sorted(gradient_norms) == ["AutoDelta.locs", "AutoDelta.scale", "AutoDelta.weights"]
    assert all(len(norms) == 200 for norms in gradient_norms.values())


def classifier_of(model, global_guide):
    from pyro import poutine
    from pyro.infer import infer_discrete

    guide_trace = poutine.trace(global_guide).get_trace(DATA)
    trained_model = poutine.replay(model, trace=guide_trace)

    def classifier(data, temperature=0):
        inferred_model = infer_discrete(trained_model, temperature=temperature, first_available_dim=-2)
        trace = poutine.trace(inferred_model).get_trace(data)
        return trace.nodes["assignment"]["value"]

    return classifier


def posterior_of_component(x, weights, locs, scale, k):
    log = torch.distributions.Normal(locs, scale).log_prob(x.unsqueeze(-1)) + weights.log()
    return (log[..., k] - log.logsumexp(-1)).exp()


def test_map_assignment_puts_each_point_in_its_nearest_cluster(fit):
    model, global_guide, *_, est = fit
    assignment = classifier_of(model, global_guide)(DATA)
    low = int(est["locs"].argmin())
    assert assignment.tolist() == [low, low, 1 - low, 1 - low, 1 - low]


def test_map_assignment_of_a_sweep_switches_once_at_the_decision_boundary(fit):
    model, global_guide, *_, est = fit
    sweep = torch.arange(-3, 15, 0.1)
    assignment = classifier_of(model, global_guide)(sweep)
    switches = (assignment[1:] != assignment[:-1]).nonzero().flatten()
    assert len(switches) == 1
    # where w_a N(x | l_a, s) = w_b N(x | l_b, s): x = (l_a + l_b) / 2 + s^2 log(w_a / w_b) / (l_b - l_a)
    (l_a, l_b), order = est["locs"].sort()
    w_a, w_b = est["weights"][order]
    boundary = (l_a + l_b) / 2 + est["scale"] ** 2 * math.log(w_a / w_b) / (l_b - l_a)
    assert abs(sweep[switches[0]].item() - boundary.item()) < 0.1 + 1e-4  # the sweep's step


def test_sampled_assignments_near_the_boundary_follow_their_posterior(fit):
    import pyro

    model, global_guide, *_, est = fit
    near = torch.arange(5.5, 6.0, 0.005)
    pyro.set_rng_seed(0)
    draws = torch.stack([classifier_of(model, global_guide)(near, temperature=1) for _ in range(20)])
    p1 = posterior_of_component(near, est["weights"], est["locs"], est["scale"], 1)
    expected = 20 * p1.sum()
    sd = (20 * (p1 * (1 - p1)).sum()).sqrt()
    # The count of class-1 draws is a sum of independent Bernoulli(p1_i): within 5 standard deviations.
    assert abs(draws.sum() - expected) < 5 * sd


def test_enumerating_the_assignments_in_the_guide_learns_their_posterior(fit):
    import pyro
    import pyro.distributions as dist
    from pyro import poutine
    from pyro.infer import SVI, TraceEnum_ELBO, config_enumerate

    model, global_guide, *_, est = fit

    @config_enumerate
    def full_guide(data):
        with poutine.block(hide_types=["param"]):  # keep the learned globals
            global_guide(data)
        with pyro.plate("data", len(data)):
            assignment_probs = pyro.param("assignment_probs", torch.ones(len(data), K) / K,
                                          constraint=constraints.simplex)
            pyro.sample("assignment", dist.Categorical(assignment_probs))

    optim = pyro.optim.Adam({"lr": 0.2, "betas": [0.8, 0.99]})
    svi = SVI(model, full_guide, optim, loss=TraceEnum_ELBO(max_plate_nesting=1))
    svi.loss(model, full_guide, DATA)
    for _ in range(200):
        svi.step(DATA)
    probs = pyro.param("assignment_probs").detach()
    exact = posterior_of_component(DATA, est["weights"], est["locs"], est["scale"], 1)
    assert probs[:, 1] == pytest.approx(exact, abs=0.01)


def test_nuts_samples_the_globals_with_the_assignments_summed_out(fit):
    import pyro
    from pyro.infer.mcmc import NUTS
    from pyro.infer.mcmc.api import MCMC

    model = fit[0]
    pyro.set_rng_seed(2)
    mcmc = MCMC(NUTS(model), num_samples=40, warmup_steps=40)
    mcmc.run(DATA)
    samples = mcmc.get_samples()
    assert sorted(samples) == ["locs", "scale", "weights"]  # no draws of the summed-out assignment
    assert samples["locs"].shape == (40, K)
    assert all(bool(torch.isfinite(v).all()) for v in samples.values())
    # (That NUTS's energy is the exact log-density with the assignments summed out is tested in
    # tests/infer/test_mcmc_enumeration.py; 40 draws of this bimodal, label-switching posterior are too few
    # for moments.)
