"""Pyro's model rendering tutorial: ``pyro.render_model`` on its models, with ``pyro`` aliased to ppl_kernel.

The graphs' structure (edges, plates, which sites are observed) is compared with pyro-ppl's own
``render_model`` computation on the same models, run in a separate interpreter without the alias."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def pyro_ppl_graphs():
    done = subprocess.run([sys.executable, "rendering_models.py"], cwd=HERE, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rendered(case, **options):
    import pyro

    from tests.pyro_tutorials import rendering_models

    model, args, kwargs, params, deterministic = rendering_models.CASES[case]
    options = {"render_params": params, "render_deterministic": deterministic, **options}
    return pyro.render_model(model, model_args=args, model_kwargs=kwargs, **options)


def structure(graph):
    return {
        "edges": sorted([parent, child] for parent, child in graph.edges),
        "plates": {name: sorted(plate for plate, _ in node.plates) for name, node in graph.nodes.items()},
        "observed": {name: node.observed for name, node in graph.nodes.items()},
    }


@pytest.mark.parametrize("case", ["normal_lognormal", "mace", "with_params", "crossed_plates", "semisupervised",
                                  "with_deterministic"])
def test_graph_has_pyro_ppls_edges_plates_and_observed_sites(case, pyro_ppl_graphs):
    graph = rendered(case)
    expected = pyro_ppl_graphs[case]
    # pyro-ppl makes a deterministic site an observed sample internally and so shades it; ours is a computed
    # value (a rectangle), not data
    for name, node in graph.nodes.items():
        if node.kind == "deterministic":
            assert expected["observed"].pop(name) is True
            expected["observed"][name] = False
    assert structure(graph) == expected


def test_graph_is_pyros_render_model_reached_through_the_alias():
    import pyro
    import pyro.infer.inspect

    import ppl_kernel

    assert pyro.render_model is ppl_kernel.render_model
    assert pyro.infer.inspect.render_model is ppl_kernel.render_model


def test_params_are_left_out_unless_render_params():
    with_params = rendered("with_params")
    without = rendered("with_params", render_params=False)
    assert {"mu", "sigma"} <= set(with_params.nodes)
    assert not {"mu", "sigma"} & set(without.nodes)


def test_render_distributions_labels_each_site_with_its_distribution():
    graph = rendered("with_params", render_distributions=True)
    assert graph.label(graph.nodes["y"]) == "y ~ LogNormal"
    assert "y ~ LogNormal" in graph.svg and "y ~ LogNormal" in graph.source


def test_render_distributions_labels_each_param_with_its_constraint():
    graph = rendered("with_params", render_distributions=True)
    assert graph.label(graph.nodes["sigma"]) == "sigma : GreaterThan(lower_bound=0.0)"  # Pyro's label
    assert graph.label(graph.nodes["mu"]) == "mu"  # no constraint given


def test_site_observed_in_some_calls_only_is_half_shaded():
    graph = rendered("semisupervised")
    assert graph.nodes["y"].observed is None and graph.nodes["x"].observed is True
    assert 'fill="url(#half-shade)"' in graph.svg
    assert '"y" [label="y", shape=ellipse, fillcolor="gray:white", style="filled"]' in graph.source


def test_model_args_list_and_model_kwargs_list_of_different_lengths_is_an_error_naming_the_model():
    import pyro

    from tests.pyro_tutorials import rendering_models

    with pytest.raises(ValueError, match=r"render_model\(semisupervised.*2 model_args but 3 model_kwargs"):
        pyro.render_model(rendering_models.semisupervised, model_args=[(), ()], model_kwargs=[{}, {}, {}])


def test_filename_with_svg_suffix_saves_the_picture(tmp_path):
    rendered("normal_lognormal", filename=tmp_path / "model.svg")
    assert (tmp_path / "model.svg").read_text().startswith("<svg")


def test_pdf_without_graphviz_says_to_save_svg_or_install_graphviz(tmp_path, monkeypatch):
    from ppl_kernel.errors import GraphvizError

    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on this PATH, wherever Graphviz is installed
    with pytest.raises(GraphvizError, match=r"model 'normal_lognormal'.*model\.pdf.*\.svg.*install Graphviz"):
        rendered("normal_lognormal", filename=tmp_path / "model.pdf")


def test_pdf_is_written_by_graphviz_dot_from_the_dot_source(tmp_path, monkeypatch):
    # A stand-in for Graphviz's dot (not installed on CI): it writes its -T option and the DOT text it read,
    # which shows what ppl_kernel hands to the real program
    dot = tmp_path / "dot"
    dot.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write(sys.argv[1] + '\\n' + sys.stdin.read())\n")
    dot.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    graph = rendered("normal_lognormal", filename=tmp_path / "model.pdf")
    assert (tmp_path / "model.pdf").read_text() == "-Tpdf\n" + graph.source


def test_graphviz_dot_failing_says_which_format_it_could_not_write(tmp_path, monkeypatch):
    from ppl_kernel.errors import GraphvizError

    dot = tmp_path / "dot"
    dot.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('Format: xyz not recognized.')\n")
    dot.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizError, match=r"model 'normal_lognormal' as 'xyz': Format.*not recognized"):
        rendered("normal_lognormal", filename=tmp_path / "model.xyz")


def test_graph_format_and_render_write_as_graphviz_digraph_does(tmp_path):
    graph = rendered("normal_lognormal")
    graph.format = "dot"
    path = graph.render(tmp_path / "model")
    assert path == f"{tmp_path / 'model'}.dot"
    assert Path(path).read_text() == graph.source


def fan():
    import pyro
    import pyro.distributions as dist

    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    for i in range(4):
        pyro.sample(f"y{i}", dist.Normal(x, 1.0))


def test_unflatten_puts_sibling_leaves_on_alternating_layers():
    import pyro

    flat = pyro.render_model(fan)
    tall = flat.unflatten(stagger=2)
    assert tall.leaf_stagger == {"y0": 0, "y1": 1, "y2": 0, "y3": 1}
    assert _height(tall.svg) > _height(flat.svg) and _width(tall.svg) < _width(flat.svg)


def test_unflatten_returns_a_copy_with_the_same_nodes_and_edges():
    import pyro

    flat = pyro.render_model(fan)
    tall = flat.unflatten(stagger=2)
    assert tall is not flat and flat.leaf_stagger == {}
    assert tall.nodes == flat.nodes and tall.edges == flat.edges


def test_unflatten_of_the_mace_graph_draws_as_the_tutorial_calls_it():
    assert rendered("mace").unflatten(stagger=2)._repr_svg_().startswith("<svg")


def _height(svg):
    return float(svg.split('height="', 1)[1].split('"', 1)[0])


def _width(svg):
    return float(svg.split('width="', 1)[1].split('"', 1)[0])


def test_unflatten_with_a_stagger_below_one_is_an_error_naming_the_model():
    with pytest.raises(ValueError, match=r"unflatten\(stagger=0\) of model 'mace'.*at least 1"):
        rendered("mace").unflatten(stagger=0)
