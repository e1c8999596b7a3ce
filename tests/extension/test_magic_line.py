"""Magic lines are parsed by the magics' own magic_arguments parsers; the code in them stays the user's code."""

import pytest
from IPython.core.error import UsageError

from .conftest import WEATHER, cell

LABELLED = """\
def labelled(label):
    pyro.sample("x", dist.Normal(0.0, 1.0))
    return label
"""


def _values(posterior, site):
    return [tr.nodes[site].value.item() for tr in posterior.traces]


def test_trace_keeps_a_dollar_in_the_call_as_written(shell):
    cell(shell, LABELLED + "i = 5")
    cell(shell, '%trace labelled("$i dollars")')
    tree = shell.magics_manager.registry["ModelMagics"].trees[-1]
    assert tree.trace.nodes["_RETURN"].value == "$i dollars"


def test_sample_keeps_braces_in_the_call_as_written(shell):
    cell(shell, LABELLED + "i = 5")
    cell(shell, '%sample labelled("{i}") 3 -o braced')
    assert shell.user_ns["braced"].traces[0].nodes["_RETURN"].value == "{i}"


def test_a_string_with_spaces_and_dashes_stays_one_argument(shell):
    cell(shell, LABELLED)
    cell(shell, '%trace labelled("a  --seed 2") --seed 1')
    tree = shell.magics_manager.registry["ModelMagics"].trees[-1]
    assert tree.trace.nodes["_RETURN"].value == "a  --seed 2"


def test_sample_takes_options_after_the_model(shell):
    cell(shell, WEATHER.format(opts="--no-show"))
    cell(shell, "%sample weather --seed 1 -o after 40")
    cell(shell, "%sample --seed 1 -o before weather 40")
    after, before = shell.user_ns["after"], shell.user_ns["before"]
    assert len(after) == 40
    assert _values(after, "temp") == _values(before, "temp")


def test_model_takes_options_before_or_after_the_name(shell):
    cell(shell, "%%model -n 30 --seed 2 -o first coin\nreturn pyro.sample('c', dist.Normal(0.0, 1.0))\n")
    cell(shell, "%%model coin -n 30 --seed 2 -o second\nreturn pyro.sample('c', dist.Normal(0.0, 1.0))\n")
    first, second = shell.user_ns["first"], shell.user_ns["second"]
    assert len(first) == 30
    assert _values(first, "c") == _values(second, "c")


def test_sample_count_given_as_an_option_or_after_the_model(shell):
    cell(shell, WEATHER.format(opts="--no-show"))
    cell(shell, "%sample weather -n 25 -o by_option")
    assert len(shell.user_ns["by_option"]) == 25


@pytest.mark.parametrize("count", ["1e6", "2.5", "1_000.0"])
def test_sample_count_that_is_not_an_integer_says_it_must_be_one(shell, count):
    cell(shell, WEATHER.format(opts="--no-show"))
    with pytest.raises(UsageError, match=f"the number of runs must be an integer, got '{count}'"):
        shell.run_line_magic("sample", f"weather {count}")


def test_sample_count_1e6_says_how_to_write_it(shell):
    cell(shell, WEATHER.format(opts="--no-show"))
    with pytest.raises(UsageError, match="write 1000000"):
        shell.run_line_magic("sample", "weather 1e6")


def test_an_unknown_option_after_the_model_is_named(shell):
    cell(shell, WEATHER.format(opts="--no-show"))
    with pytest.raises(UsageError, match="unrecognized arguments: --colour red"):
        shell.run_line_magic("sample", "weather 10 --colour red")


@pytest.mark.parametrize("magic", ["sample", "trace"])
def test_help_of_a_line_magic_describes_the_positional_part(shell, capsys, magic):
    shell.run_line_magic(magic, "--help")
    out = capsys.readouterr().out
    assert "--seed" in out and "the options may stand before or after" in out
