"""TraceEnum_ELBO: the loss and gradients are those of the exact marginal likelihood, equal to pyro-ppl's on
the same model, guide and parameters (the computation is deterministic: no site is sampled), and its
errors name the site and the fix."""

import pytest
import torch
from torch.distributions import constraints

import ppl_kernel
import ppl_kernel.distributions
import ppl_kernel.infer
import ppl_kernel.ops.indexing
from ppl_kernel.errors import EnumerationError


def pyro_ppl():
    """pyro-ppl itself (not the ppl_kernel alias), or skip."""
    real = pytest.importorskip("pyro")
    if real.__name__ != "pyro":
        pytest.skip("`pyro` is aliased to ppl_kernel in this process")
    import pyro.distributions
    import pyro.infer
    import pyro.ops.indexing

    return real, pyro.distributions, pyro.infer, pyro.ops.indexing


def ours():
    return ppl_kernel, ppl_kernel.distributions, ppl_kernel.infer, ppl_kernel.ops.indexing


DATA = torch.tensor([0.0, 1.0, 10.0, 11.0, 12.0])
OBS = torch.tensor([0, 1, 3, 2, 1, 0, 0, 3])


def case(name, lib):
    """(model, guide, args, max_plate_nesting) of case ``name`` written against ``lib`` = (pyro, dist, infer, ops)."""
    pyro, dist, infer, indexing = lib

    @infer.config_enumerate
    def gmm(data):
        w = pyro.param("w", torch.tensor([0.4, 0.6]), constraint=constraints.simplex)
        locs = pyro.param("locs", torch.tensor([1.0, 9.0]))
        scale = pyro.param("scale", torch.tensor(2.0), constraint=constraints.positive)
        with pyro.plate("data", len(data)):
            a = pyro.sample("a", dist.Categorical(w))
            pyro.sample("obs", dist.Normal(locs[a], scale), obs=data)

    def assignment_guide(data):
        with pyro.plate("data", len(data)):
            p = pyro.param("assignment_probs", torch.tensor([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1], [0.2, 0.8],
                                                             [0.6, 0.4]]), constraint=constraints.simplex)
            pyro.sample("a", dist.Categorical(p))

    def hmm(obs, use_markov):
        T = pyro.param("T", torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]]),
                       constraint=constraints.simplex)
        E = pyro.param("E", torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.2, 0.1], [0.1, 0.1, 0.3, 0.5]]),
                       constraint=constraints.simplex)
        x = 0
        for t, y in (pyro.markov(enumerate(obs)) if use_markov else enumerate(obs)):
            x = pyro.sample(f"x_{t}", dist.Categorical(T[x]), infer={"enumerate": "parallel"})
            pyro.sample(f"y_{t}", dist.Categorical(E[x]), obs=y)

    @infer.config_enumerate
    def vindexed():
        p = pyro.param("p", torch.linspace(0.1, 2.0, 48).reshape(2, 4, 3, 2), constraint=constraints.simplex)
        x = pyro.sample("x", dist.Categorical(torch.ones(4)))
        y = pyro.sample("y", dist.Categorical(torch.ones(3)))
        with pyro.plate("z_plate", 2):
            z = pyro.sample("z", dist.Categorical(indexing.Vindex(p)[..., x, y, :]))
            pyro.sample("o", dist.Normal(z.float(), 0.5), obs=torch.tensor([0.0, 1.0]))

    @infer.config_enumerate
    def nested(data):
        g = pyro.sample("g", dist.Categorical(pyro.param("pg", torch.tensor([0.3, 0.7]), constraint=constraints.simplex)))
        pl = pyro.param("pl", torch.tensor([[0.9, 0.1], [0.2, 0.8]]), constraint=constraints.simplex)
        with pyro.plate("outer", 3, dim=-2):
            h = pyro.sample("h", dist.Categorical(pl[g]))
            with pyro.plate("inner", 4, dim=-1):
                pyro.sample("o", dist.Normal(h.float() * 2.0 + g.float(), 1.0), obs=data)

    def nothing(*args):
        pass

    return {
        "mixture in a plate": (gmm, nothing, (DATA,), 1),
        "assignments enumerated in the guide": (gmm, infer.config_enumerate(assignment_guide), (DATA,), 1),
        "hmm": (hmm, nothing, (OBS, False), 0),
        "hmm under markov": (hmm, nothing, (OBS, True), 0),
        "Vindex": (vindexed, nothing, (), 1),
        "global and local sites in nested plates": (nested, nothing, (torch.arange(12.0).reshape(3, 4) / 4,), 2),
    }[name]


def loss_and_grads(lib, name):
    pyro, _, infer, _ = lib
    pyro.clear_param_store()
    model, guide, args, nesting = case(name, lib)
    loss = infer.TraceEnum_ELBO(max_plate_nesting=nesting).differentiable_loss(model, guide, *args)
    params = dict(pyro.get_param_store().named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()))
    return loss.item(), dict(zip(params, grads, strict=True))


CASES = ["mixture in a plate", "assignments enumerated in the guide", "hmm", "hmm under markov", "Vindex",
         "global and local sites in nested plates"]


@pytest.mark.parametrize("name", CASES)
def test_loss_and_gradients_equal_pyro_ppl(name):
    theirs = loss_and_grads(pyro_ppl(), name)
    mine = loss_and_grads(ours(), name)
    assert mine[0] == pytest.approx(theirs[0], rel=1e-6, abs=1e-5)  # float32 sums in another order
    assert sorted(mine[1]) == sorted(theirs[1])
    for param, grad in theirs[1].items():
        assert torch.allclose(mine[1][param], grad, rtol=1e-5, atol=1e-5), param


def test_the_loss_of_a_mixture_is_minus_its_exact_log_likelihood():
    import ppl_kernel.distributions as dist

    loss, _ = loss_and_grads(ours(), "mixture in a plate")
    mixture = dist.MixtureSameFamily(dist.Categorical(torch.tensor([0.4, 0.6])),
                                     dist.Normal(torch.tensor([1.0, 9.0]), 2.0))
    assert loss == pytest.approx(-mixture.log_prob(DATA).sum().item(), rel=1e-6)


def test_an_hmm_loss_is_minus_the_forward_algorithm_log_likelihood():
    loss, _ = loss_and_grads(ours(), "hmm under markov")
    T = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    E = torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.2, 0.1], [0.1, 0.1, 0.3, 0.5]])
    alpha = T[0] * E[:, OBS[0]]
    for y in OBS[1:]:
        alpha = (alpha @ T) * E[:, y]
    assert loss == pytest.approx(-alpha.sum().log().item(), rel=1e-5)


def test_enumerating_a_continuous_site_is_an_error_naming_it():
    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist
    from ppl_kernel.infer import TraceEnum_ELBO

    def model():
        pyro.sample("height", dist.Normal(0.0, 1.0), infer={"enumerate": "parallel"})

    with pytest.raises(EnumerationError, match="site 'height'.*no finite support"):
        TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None)


def test_too_small_a_max_plate_nesting_is_an_error_saying_to_raise_it():
    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist
    from ppl_kernel.infer import TraceEnum_ELBO, config_enumerate

    @config_enumerate
    def model():
        with pyro.plate("outer", 3, dim=-2), pyro.plate("inner", 4, dim=-1):
            z = pyro.sample("z", dist.Bernoulli(0.5))
            pyro.sample("o", dist.Normal(z, 1.0), obs=torch.zeros(3, 4))

    with pytest.raises(EnumerationError, match="site 'z'.*uses dim -2.*Raise max_plate_nesting"):
        TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)


def test_a_batch_dim_without_a_plate_is_an_error_saying_to_add_one():
    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist
    from ppl_kernel.infer import TraceEnum_ELBO, config_enumerate

    @config_enumerate
    def model():
        z = pyro.sample("z", dist.Bernoulli(0.5))
        pyro.sample("obs", dist.Normal(z + torch.zeros(3), 1.0), obs=torch.zeros(3))

    with pytest.raises(EnumerationError, match="site 'obs'.*batch dim -1 of size 3.*plate"):
        TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)


def test_a_model_with_nothing_to_enumerate_warns_to_use_trace_elbo():
    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist
    from ppl_kernel.infer import TraceEnum_ELBO

    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))

    with pytest.warns(UserWarning, match="no sample sites configured for enumeration"):
        TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None)


def test_max_plate_nesting_is_guessed_when_not_given():
    model, guide, args, _ = case("global and local sites in nested plates", ours())
    elbo = ppl_kernel.infer.TraceEnum_ELBO()
    mine = elbo.loss(model, guide, *args)
    assert elbo.max_plate_nesting == 2
    assert mine == pytest.approx(loss_and_grads(ours(), "global and local sites in nested plates")[0], rel=1e-6)


def test_a_plate_left_of_max_plate_nesting_is_an_error_naming_the_plate():
    import ppl_kernel as pyro
    import ppl_kernel.distributions as dist
    from ppl_kernel.infer import TraceEnum_ELBO

    def model():
        with pyro.plate("outer", 3, dim=-2), pyro.plate("inner", 4, dim=-1):
            pyro.sample("o", dist.Normal(0.0, 1.0), obs=torch.zeros(3, 4))

    with pytest.raises(EnumerationError, match="site 'o'.*plate 'outer' at dim -2.*max_plate_nesting=2"):
        TraceEnum_ELBO(max_plate_nesting=1, strict_enumeration_warning=False).loss(model, lambda: None)


@pytest.mark.parametrize("name", ["mixture in a plate", "hmm under markov"])
def test_compute_marginals_equal_pyro_ppl(name):
    def marginals(lib):
        pyro, _, infer, _ = lib
        pyro.clear_param_store()
        model, guide, args, nesting = case(name, lib)
        found = infer.TraceEnum_ELBO(max_plate_nesting=nesting).compute_marginals(model, guide, *args)
        return {site: d.probs.detach() for site, d in found.items()}

    theirs, mine = marginals(pyro_ppl()), marginals(ours())
    assert sorted(mine) == sorted(theirs)
    for site, probs in theirs.items():
        assert mine[site].shape == probs.shape, site
        assert torch.allclose(mine[site], probs, atol=1e-5), site


def test_compute_marginals_of_a_mixture_are_the_posterior_responsibilities():
    pyro, dist, infer, _ = ours()
    model, guide, args, nesting = case("mixture in a plate", ours())
    probs = infer.TraceEnum_ELBO(max_plate_nesting=nesting).compute_marginals(model, guide, *args)["a"].probs
    joint = torch.distributions.Normal(torch.tensor([1.0, 9.0]), 2.0).log_prob(DATA.unsqueeze(-1)) + \
        torch.tensor([0.4, 0.6]).log()
    assert torch.allclose(probs, (joint - joint.logsumexp(-1, keepdim=True)).exp(), atol=1e-6)


def test_compute_marginals_of_a_site_coupled_through_an_outer_site_is_an_error_naming_both():
    _, _, infer, _ = ours()
    model, guide, args, nesting = case("global and local sites in nested plates", ours())
    with pytest.raises(EnumerationError, match="compute_marginals.*site 'h' shares a factor with enumerated sites 'g'"):
        infer.TraceEnum_ELBO(max_plate_nesting=nesting).compute_marginals(model, guide, *args)
