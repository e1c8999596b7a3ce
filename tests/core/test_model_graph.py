"""render_model: the graph of a model's random variables, found by running it, checked edge by edge."""

import xml.etree.ElementTree as ET

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist

from .seed_models import geometric, geometric_modern, ice_cream_sales, weather

SVG = "{http://www.w3.org/2000/svg}"


def hierarchical(data):
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    sigma = pyro.sample("sigma", dist.LogNormal(0.0, 1.0))
    with pyro.plate("groups", 2):
        g = pyro.sample("g", dist.Normal(mu, sigma))
        pyro.deterministic("g2", g * 2)
        with pyro.plate("data", 3):
            pyro.sample("obs", dist.Normal(g, 1.0), obs=data)


def test_seed_weather_temp_depends_on_cloudy_through_the_branch():
    graph = pyro.render_model(weather)
    assert list(graph.nodes) == ["cloudy", "temp", "return"]
    assert graph.edges == {
        ("cloudy", "temp"): "control",  # cloudy.data[0] == 1.0 decided temp's mean
        ("temp", "return"): "data",  # temp.data[0] is returned
        ("cloudy", "return"): "control",  # the returned string was chosen by cloudy
    }


def test_seed_ice_cream_sales_depends_on_cloudy_and_temp():
    pyro.set_rng_seed(0)
    graph = pyro.render_model(ice_cream_sales)
    assert list(graph.nodes) == ["cloudy", "temp", "ice_cream", "return"]
    assert graph.edges == {
        ("cloudy", "temp"): "control",
        ("cloudy", "ice_cream"): "control",
        ("temp", "ice_cream"): "control",  # temp > 80.0 chose the expected sales
        ("ice_cream", "return"): "data",
        ("cloudy", "return"): "control",
        ("temp", "return"): "control",
    }
    assert graph.nodes["ice_cream"].kind == "latent" and graph.nodes["ice_cream"].runs == 10


def test_seed_geometric_is_the_union_of_runs_with_later_flips_present_only_sometimes():
    pyro.set_rng_seed(1)
    graph = pyro.render_model(geometric, model_args=(torch.tensor([0.5]),), runs=20)
    flips = [name for name in graph.nodes if name != "return"]
    assert flips == [f"x_{i}" for i in range(len(flips))] and len(flips) >= 3
    assert not graph.sometimes("x_0") and all(graph.sometimes(name) for name in flips[1:])
    expected = {(f"x_{j}", f"x_{k}"): "control" for k in range(len(flips)) for j in range(k)}
    expected.update({(name, "return"): "data" for name in flips})  # x + geometric(p, t + 1)
    assert graph.edges == expected


def test_the_modern_geometric_reads_each_flip_with_item():
    pyro.set_rng_seed(1)
    graph = pyro.render_model(geometric_modern, model_args=(0.5,), runs=20)
    assert graph.parents("x_1") == ["x_0"] and graph.edges[("x_0", "x_1")] == "control"


def test_plate_model_edges_follow_the_data_flow():
    graph = pyro.render_model(hierarchical, model_args=(torch.zeros(3, 2),), render_deterministic=True)
    assert graph.edges == {
        ("mu", "g"): "data",
        ("sigma", "g"): "data",
        ("g", "g2"): "data",
        ("g", "obs"): "data",
    }
    assert graph.nodes["obs"].kind == "observed" and graph.nodes["g2"].kind == "deterministic"
    assert graph.nodes["obs"].plates == (("groups", 2), ("data", 3))
    assert graph.plates == {"groups": 2, "data": 3}


def test_arithmetic_on_several_sites_gives_an_edge_from_each():
    def model():
        a = pyro.sample("a", dist.Normal(0.0, 1.0))
        b = pyro.sample("b", dist.Normal(0.0, 1.0))
        c = pyro.sample("c", dist.Normal(a * 2 + torch.exp(b), 1.0))
        pyro.sample("d", dist.Normal(0.0, 1.0))
        return c

    graph = pyro.render_model(model, runs=1)
    assert graph.edges == {("a", "c"): "data", ("b", "c"): "data", ("c", "return"): "data"}


def test_distribution_argument_checks_inside_torch_are_not_control_dependencies():
    def model():
        scale = pyro.sample("scale", dist.Exponential(1.0))
        return pyro.sample("x", dist.Normal(0.0, scale))  # Normal validates scale > 0 by reading it

    graph = pyro.render_model(model, runs=3)
    assert graph.edges == {("scale", "x"): "data", ("x", "return"): "data"}


def test_without_deterministic_sites_their_parents_join_their_children():
    def model():
        a = pyro.sample("a", dist.Normal(0.0, 1.0))
        twice = pyro.deterministic("twice", 2 * a)
        pyro.sample("y", dist.Normal(twice, 1.0), obs=torch.tensor(0.0))

    graph = pyro.render_model(model, render_deterministic=False)
    assert list(graph.nodes) == ["a", "y"] and graph.edges == {("a", "y"): "data"}


def test_params_are_nodes_when_asked():
    def model():
        loc = pyro.param("loc", torch.tensor(0.0))
        return pyro.sample("x", dist.Normal(loc, 1.0))

    pyro.clear_param_store()
    assert "loc" not in pyro.render_model(model).nodes
    graph = pyro.render_model(model, render_params=True)
    assert graph.nodes["loc"].kind == "param" and graph.edges[("loc", "x")] == "data"


def test_rendering_leaves_the_random_state_as_it_was():
    pyro.set_rng_seed(5)
    expected = torch.randn(3)
    pyro.set_rng_seed(5)
    pyro.render_model(weather)
    assert torch.equal(torch.randn(3), expected)


def test_svg_shades_observed_sites_boxes_plates_and_dashes_sometimes_sites():
    svg = ET.fromstring(pyro.render_model(hierarchical, model_args=(torch.zeros(3, 2),), render_deterministic=True).svg)
    nodes = {g.get("data-name"): g for g in svg.iter(f"{SVG}g")}
    observed_fill = nodes["obs"].find(f"{SVG}ellipse").get("fill")
    latent_fill = nodes["mu"].find(f"{SVG}ellipse").get("fill")
    assert observed_fill != latent_fill
    plate_labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "plate-label"]
    assert sorted(plate_labels) == ["data (3)", "groups (2)"]
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("class") == "plate"]) == 2
    assert len([p for p in svg.iter(f"{SVG}path") if "edge" in (p.get("class") or "")]) == 4

    pyro.set_rng_seed(1)
    geometric_svg = ET.fromstring(pyro.render_model(geometric_modern, model_args=(0.5,), runs=20).svg)
    outlines = {g.get("data-name"): g.find(f"{SVG}ellipse") for g in geometric_svg.iter(f"{SVG}g")}
    assert outlines["x_0"].get("stroke-dasharray") is None
    assert outlines["x_1"].get("stroke-dasharray") is not None


def test_displays_as_svg_in_jupyter_and_names_distributions_when_asked():
    graph = pyro.render_model(weather, render_distributions=True)
    assert graph._repr_svg_() == graph.svg
    labels = [t.text for t in ET.fromstring(graph.svg).iter(f"{SVG}text")]
    assert "cloudy ~ Bernoulli" in labels and "temp ~ Normal" in labels


def test_source_is_graphviz_dot_with_plates_as_clusters():
    source = pyro.render_model(hierarchical, model_args=(torch.zeros(3, 2),)).source
    assert source.startswith('digraph "hierarchical" {')
    assert 'subgraph "cluster_groups"' in source and 'subgraph "cluster_data"' in source
    assert source.index("cluster_groups") < source.index("cluster_data") < source.index('"obs" [')
    assert '"mu" -> "g";' in source
    assert source.count("{") == source.count("}")


def test_filename_saves_the_svg_or_the_dot_source(tmp_path):
    pyro.render_model(weather, filename=tmp_path / "weather.svg")
    pyro.render_model(weather, filename=tmp_path / "weather.dot")
    assert (tmp_path / "weather.svg").read_text().startswith("<svg")
    assert (tmp_path / "weather.dot").read_text().startswith("digraph")


def test_a_model_without_sites_draws_a_sentence_saying_so():
    graph = pyro.render_model(lambda: None)
    assert graph.nodes == {} and "has no sample sites" in graph.svg


def test_a_model_that_is_not_callable_is_named_in_the_error():
    with pytest.raises(TypeError, match="model must be a callable model, got int 3"):
        pyro.render_model(3)


def test_runs_must_be_a_positive_whole_number():
    with pytest.raises(ValueError, match="runs=0"):
        pyro.render_model(weather, runs=0)


def test_html_is_the_svg_as_an_image_for_notebooks_that_are_not_trusted():
    import base64

    graph = pyro.render_model(weather)
    html = graph._repr_html_()
    data = html.split("base64,", 1)[1].split('"', 1)[0]
    assert html.startswith('<img src="data:image/svg+xml;base64,') and base64.b64decode(data).decode() == graph.svg
