"""Pyro's "Inference with Discrete Latent Variables" tutorial (enumeration.ipynb), section by section, with
``import pyro`` aliased to ppl_kernel: what each enumerated site's value looks like, and the losses."""

import itertools

import pytest
import torch
from torch.distributions import constraints


@pytest.fixture(autouse=True)
def seeded():
    import pyro

    pyro.set_rng_seed(0)
    pyro.clear_param_store()


def uniform_model_and_guide(seen):
    import pyro
    import pyro.distributions as dist

    def model():
        seen.append(("model", pyro.sample("z", dist.Categorical(torch.ones(5)))))

    def guide():
        seen.append(("guide", pyro.sample("z", dist.Categorical(torch.ones(5)))))

    return model, guide


def test_trace_elbo_samples_one_value_and_the_model_reuses_it():
    from pyro.infer import Trace_ELBO

    seen = []
    model, guide = uniform_model_and_guide(seen)
    Trace_ELBO().loss(model, guide)
    (who_first, z_guide), (who_then, z_model) = seen
    assert (who_first, who_then) == ("guide", "model")
    assert z_guide.shape == () and z_model == z_guide


def test_parallel_enumeration_in_the_guide_gives_all_values_at_once():
    from pyro.infer import TraceEnum_ELBO, config_enumerate

    seen = []
    model, guide = uniform_model_and_guide(seen)
    loss = TraceEnum_ELBO(max_plate_nesting=0).loss(model, config_enumerate(guide, "parallel"))
    assert [who for who, _ in seen] == ["guide", "model"]
    for _, z in seen:
        assert z.tolist() == [0, 1, 2, 3, 4]
    assert abs(loss) < 1e-6  # guide equals prior: the exact KL is 0


def test_sequential_enumeration_runs_guide_and_model_once_per_value():
    from pyro.infer import TraceEnum_ELBO, config_enumerate

    seen = []
    model, guide = uniform_model_and_guide(seen)
    loss = TraceEnum_ELBO(max_plate_nesting=0).loss(model, config_enumerate(guide, "sequential"))
    assert [who for who, _ in seen] == ["guide", "model"] * 5
    assert [int(z) for who, z in seen if who == "guide"] == [4, 3, 2, 1, 0]  # Pyro's order
    assert abs(loss) < 1e-6


def chain_model(shapes):
    import pyro
    import pyro.distributions as dist
    from pyro.infer import config_enumerate

    @config_enumerate
    def model():
        p = pyro.param("p", torch.randn(3, 3).exp(), constraint=constraints.simplex)
        x = pyro.sample("x", dist.Categorical(p[0]))
        y = pyro.sample("y", dist.Categorical(p[x]))
        z = pyro.sample("z", dist.Categorical(p[y]))
        shapes.append((x.shape, y.shape, z.shape))
        return x, y, z

    return model


def test_each_enumerated_site_gets_its_own_dimension_left_of_the_last():
    from pyro.infer import TraceEnum_ELBO

    shapes = []
    model = chain_model(shapes)
    model()
    loss = TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None)
    assert shapes == [((), (), ()), ((3,), (3, 1), (3, 1, 1))]
    assert abs(loss) < 1e-6  # nothing observed: the marginal likelihood is 1


def test_infer_discrete_serves_one_value_per_site_and_its_map_is_the_joint_mode():
    import pyro
    from pyro.infer import infer_discrete

    shapes = []
    model = chain_model(shapes)
    x, y, z = infer_discrete(model, first_available_dim=-1)()
    assert shapes == [((3,), (3, 1), (3, 1, 1)), ((), (), ())]  # forward (enumerated), then one plain run
    assert {int(x), int(y), int(z)} <= {0, 1, 2}
    p = pyro.param("p").detach()
    joint = {(a, b, c): p[0, a] * p[a, b] * p[b, c] for a, b, c in itertools.product(range(3), repeat=3)}
    mode = max(joint, key=joint.get)
    x, y, z = infer_discrete(model, first_available_dim=-1, temperature=0)()
    assert (int(x), int(y), int(z)) == mode


def test_vindex_broadcasts_enumerated_indices_with_the_plate():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import TraceEnum_ELBO, config_enumerate
    from pyro.ops.indexing import Vindex

    shapes = []

    @config_enumerate
    def model():
        p = pyro.param("p", torch.randn(5, 4, 3, 2).exp(), constraint=constraints.simplex)
        x = pyro.sample("x", dist.Categorical(torch.ones(4)))
        y = pyro.sample("y", dist.Categorical(torch.ones(3)))
        with pyro.plate("z_plate", 5):
            p_xy = Vindex(p)[..., x, y, :]
            z = pyro.sample("z", dist.Categorical(p_xy))
        shapes.append((x.shape, y.shape, p_xy.shape, z.shape))

    model()
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)
    assert shapes == [((), (), (5, 2), (5,)), ((4, 1), (3, 1, 1), (3, 4, 5, 2), (2, 1, 1, 1))]
    assert abs(loss) < 1e-5


def test_a_plate_index_reshaped_into_vindex_selects_per_feature_rows():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import TraceEnum_ELBO, config_enumerate
    from pyro.ops.indexing import Vindex

    shapes = []

    @config_enumerate
    def model():
        data_plate = pyro.plate("data_plate", 6, dim=-1)
        feature_plate = pyro.plate("feature_plate", 5, dim=-2)
        component_plate = pyro.plate("component_plate", 4, dim=-1)
        with feature_plate:
            with component_plate:
                p = pyro.sample("p", dist.Dirichlet(torch.ones(3)))
        with data_plate:
            c = pyro.sample("c", dist.Categorical(torch.ones(4)))
            with feature_plate as vdx:
                pc = Vindex(p)[vdx[..., None], c, :]
                x = pyro.sample("x", dist.Categorical(pc), obs=torch.zeros(5, 6, dtype=torch.long))
        shapes.append((p.shape, c.shape, vdx.shape, pc.shape, x.shape))

    def guide():
        feature_plate = pyro.plate("feature_plate", 5, dim=-2)
        component_plate = pyro.plate("component_plate", 4, dim=-1)
        with feature_plate, component_plate:
            pyro.sample("p", dist.Dirichlet(torch.ones(3)))

    model()
    loss = TraceEnum_ELBO(max_plate_nesting=2).loss(model, guide)
    assert shapes == [((5, 4, 3), (6,), (5,), (5, 6, 3), (5, 6)),
                      ((5, 4, 3), (4, 1, 1), (5,), (4, 5, 1, 3), (5, 6))]
    # guide = prior, so the ELBO is the marginal log-likelihood: each datum's c is summed over 4 components,
    # each feature's p of value 0 at that component drawn by the guide (the same draw in both runs)
    assert torch.isfinite(torch.tensor(loss)) and loss > 0


def mixture_model(shapes):
    import pyro
    import pyro.distributions as dist
    from pyro.infer import config_enumerate

    @config_enumerate
    def model(data, num_components=3):
        p = pyro.sample("p", dist.Dirichlet(0.5 * torch.ones(num_components)))
        scale = pyro.sample("scale", dist.LogNormal(0, num_components))
        with pyro.plate("components", num_components):
            loc = pyro.sample("loc", dist.Normal(0, 10))
        with pyro.plate("data", len(data)):
            x = pyro.sample("x", dist.Categorical(p))
            pyro.sample("obs", dist.Normal(loc[x], scale), obs=data)
            shapes.append((x.shape, dist.Normal(loc[x], scale).batch_shape))

    return model


def test_enumeration_in_a_plate_uses_one_dimension_for_all_data():
    from pyro import poutine
    from pyro.infer import TraceEnum_ELBO
    from pyro.infer.autoguide import AutoNormal

    shapes = []
    model = mixture_model(shapes)
    guide = AutoNormal(poutine.block(model, hide=["x", "data"]))
    data = torch.randn(10)
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide, data)
    assert shapes[-1] == ((3, 1), (3, 1))  # the enumerated run: 3 values broadcast against 10 data
    assert all(shape == ((10,), (10,)) for shape in shapes[:-1])  # the guide's prototype runs draw x per datum
    assert torch.isfinite(torch.tensor(loss))


def hmm(shapes, use_markov):
    import pyro
    import pyro.distributions as dist

    def hmm_model(data, data_dim, hidden_dim=10):
        with pyro.plate("hidden_state", hidden_dim):
            transition = pyro.sample("transition", dist.Dirichlet(0.5 * torch.ones(hidden_dim)))
            emission = pyro.sample("emission", dist.Dirichlet(0.5 * torch.ones(data_dim)))
        x = 0
        steps = pyro.markov(enumerate(data)) if use_markov else enumerate(data)
        for t, y in steps:
            x = pyro.sample(f"x_{t}", dist.Categorical(transition[x]), infer={"enumerate": "parallel"})
            pyro.sample(f"y_{t}", dist.Categorical(emission[x]), obs=y)
            shapes.append(tuple(x.shape))

    return hmm_model


def hmm_loss(use_markov, data):
    import pyro
    from pyro import poutine
    from pyro.infer import TraceEnum_ELBO
    from pyro.infer.autoguide import AutoNormal

    shapes = []
    model = hmm(shapes, use_markov)
    pyro.clear_param_store()
    guide = AutoNormal(poutine.block(model, expose=["transition", "emission"]))
    guide(data, data_dim=4)  # makes the guide's parameters
    pyro.set_rng_seed(1)
    shapes.clear()
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide, data, data_dim=4)
    return shapes, loss


def test_a_chain_without_markov_takes_one_more_dimension_per_step():
    import pyro.distributions as dist

    data = dist.Categorical(torch.ones(10, 4)).sample()
    shapes, loss = hmm_loss(False, data)
    assert shapes == [(10,) + (1,) * (t + 1) for t in range(10)]
    assert torch.isfinite(torch.tensor(loss))


def test_markov_recycles_two_dimensions_along_the_chain_without_changing_the_loss():
    import pyro.distributions as dist

    data = dist.Categorical(torch.ones(10, 4)).sample()
    shapes, loss = hmm_loss(True, data)
    assert shapes == [(10, 1), (10, 1, 1)] * 5
    _, loss_without_markov = hmm_loss(False, data)
    assert abs(loss - loss_without_markov) < 1e-3 * abs(loss)  # same guide draw (seed 1), same exact marginal
