"""The models of Pyro's model rendering tutorial, written as Pyro code: imported under the alias they are
ppl_kernel models; run as a script (plain ``python``, no alias) this prints pyro-ppl's graph of each as JSON,
which test_model_rendering.py compares with ours. Not collected by --doctest-modules (see conftest.py)."""

import json

import pyro
import pyro.distributions as dist
import pyro.distributions.constraints as constraints
import torch
import torch.nn.functional as F


def normal_lognormal(data):
    m = pyro.sample("m", dist.Normal(0, 1))
    sd = pyro.sample("sd", dist.LogNormal(m, 1))
    with pyro.plate("N", len(data)):
        pyro.sample("obs", dist.Normal(m, sd), obs=data)


def mace(positions, annotations):
    """Annotators with spammer probability θ and spam distributions ε label items of true class c."""
    num_annotators = int(torch.max(positions)) + 1
    num_classes = int(torch.max(annotations)) + 1
    num_items, num_positions = annotations.shape
    with pyro.plate("annotator", num_annotators):
        epsilon = pyro.sample("ε", dist.Dirichlet(torch.full((num_classes,), 10.0)))
        theta = pyro.sample("θ", dist.Beta(0.5, 0.5))
    with pyro.plate("item", num_items, dim=-2):
        c = pyro.sample("c", dist.Categorical(logits=torch.zeros(num_classes)))
        with pyro.plate("position", num_positions):
            s = pyro.sample("s", dist.Bernoulli(1 - theta[positions]))
            probs = torch.where(s[..., None] == 0, F.one_hot(c, num_classes).float(), epsilon[positions])
            pyro.sample("y", dist.Categorical(probs), obs=annotations)


MACE_POSITIONS = torch.tensor([0, 0, 0, 1, 2, 3, 4])
MACE_ANNOTATIONS = torch.tensor([[0, 2, 0, 1, 1, 1], [0, 2, 0, 1, 1, 2], [0, 2, 1, 1, 1, 1], [0, 3, 1, 2, 2, 2],
                                 [0, 2, 0, 0, 1, 2], [0, 2, 1, 1, 1, 1], [0, 3, 1, 0, 1, 1]]).T


def with_params(data):
    sigma = pyro.param("sigma", torch.tensor([1.0]), constraint=constraints.positive)
    mu = pyro.param("mu", torch.tensor([0.0]))
    x = pyro.sample("x", dist.Normal(mu, sigma))
    y = pyro.sample("y", dist.LogNormal(x, 1))
    with pyro.plate("N", len(data)):
        pyro.sample("z", dist.Normal(x, y), obs=data)


def crossed_plates():
    plate1 = pyro.plate("plate1", 2, dim=-2)
    plate2 = pyro.plate("plate2", 3, dim=-1)
    with plate1:
        x = pyro.sample("x", dist.Normal(0, 1))
    with plate1, plate2:
        y = pyro.sample("y", dist.Normal(x, 1))
    with plate2:
        pyro.sample("z", dist.Normal(y.sum(-2, True), 1), obs=torch.zeros(3))


def semisupervised(x, y=None):
    with pyro.plate("N", 2):
        z = pyro.sample("z", dist.Normal(0, 1))
        y = pyro.sample("y", dist.Normal(0, 1), obs=y)
        pyro.sample("x", dist.Normal(y + z, 1), obs=x)


SEMISUPERVISED_KWARGS = [{"x": torch.zeros(2)}, {"x": torch.zeros(2), "y": torch.zeros(2)}]


def with_deterministic(data):
    sigma = pyro.param("sigma", torch.tensor([1.0]), constraint=constraints.positive)
    mu = pyro.param("mu", torch.tensor([0.0]))
    x = pyro.sample("x", dist.Normal(mu, sigma))
    log_y = pyro.sample("y", dist.Normal(x, 1))
    y = pyro.deterministic("y_deterministic", log_y.exp())
    with pyro.plate("N", len(data)):
        eps_z_loc = pyro.sample("eps_z_loc", dist.Normal(0, 1))
        z_loc = pyro.deterministic("z_loc", eps_z_loc + x, event_dim=0)
        pyro.sample("z", dist.Normal(z_loc, y), obs=data)


# name -> (model, model_args, model_kwargs, render_params, render_deterministic), as the tutorial draws each
CASES = {
    "normal_lognormal": (normal_lognormal, (torch.ones(10),), None, False, False),
    "mace": (mace, (MACE_POSITIONS, MACE_ANNOTATIONS), None, False, False),
    "with_params": (with_params, (torch.ones(10),), None, True, False),
    "crossed_plates": (crossed_plates, None, None, False, False),
    "semisupervised": (semisupervised, None, SEMISUPERVISED_KWARGS, False, False),
    "with_deterministic": (with_deterministic, (torch.ones(10),), None, True, True),
}


def pyro_ppl_graphs():
    """Each case's edges, plates (site -> plate names) and observed vote as pyro-ppl's render_model computes them."""
    from pyro.infer.inspect import _deep_merge, generate_graph_specification, get_model_relations

    graphs = {}
    for name, (model, args, kwargs, params, deterministic) in CASES.items():
        calls = [(args, k) for k in kwargs] if isinstance(kwargs, list) else [(args, kwargs)]
        specs = [generate_graph_specification(get_model_relations(model, a, k, include_deterministic=deterministic),
                                              render_params=params) for a, k in calls]
        spec = _deep_merge(specs)
        graphs[name] = {
            "edges": sorted(map(list, spec["edge_list"])),
            # pyro-ppl draws a plate crossing another as a second box, "<name>__CLONE", labelled <name>
            "plates": {site: sorted(plate.split("__CLONE")[0] for plate, sites in spec["plate_groups"].items()
                                    if plate and site in sites)
                       for site in spec["node_data"]},
            "observed": {site: data["is_observed"] for site, data in spec["node_data"].items()},
        }
    return graphs


if __name__ == "__main__":
    print(json.dumps(pyro_ppl_graphs()))
