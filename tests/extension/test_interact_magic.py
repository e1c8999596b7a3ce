"""%%model NAME(ARGS) --interact "p=(0, 1, 0.05)": the cell's model with sliders for its arguments."""

import ipywidgets

from .conftest import cell

COIN = """%%model coin(p=0.5) --interact "p=(0, 1, 0.05)" --samples 200
return pyro.sample("heads", dist.Bernoulli(p))
"""


def sliders_of(shell):
    return shell.magics_manager.registry["ModelMagics"].sliders[-1]


def test_interact_gives_a_slider_per_named_argument_starting_at_its_default(shell):
    cell(shell, COIN)
    sliders = sliders_of(shell).wait()
    assert isinstance(sliders.sliders["p"], ipywidgets.FloatSlider)
    assert sliders.values == {"p": 0.5} and sliders.title == "coin(p=0.5)" and len(sliders.posterior) == 200


def test_moving_the_slider_samples_the_cell_model_again(shell):
    cell(shell, COIN)
    sliders = sliders_of(shell).wait()
    sliders.set(p=0.25).wait()
    assert sliders.run.kwargs == {"p": 0.25} and len(sliders.posterior) == 200


def test_an_argument_neither_given_nor_slid_is_named_with_the_fix(shell):
    result = shell.run_cell('%%model pair(p, n) --interact "p=(0, 1, 0.05)"\nreturn pyro.sample("k", dist.Binomial(n, p))\n')
    assert "'pair' also needs n: give them with --args" in str(result.error_in_exec)


def test_a_slider_spec_that_does_not_evaluate_says_how_to_write_it(shell):
    result = shell.run_cell('%%model coin(p=0.5) --interact "p=(0, 1"\nreturn pyro.sample("h", dist.Bernoulli(p))\n')
    assert "write the sliders as keyword arguments" in str(result.error_in_exec)
