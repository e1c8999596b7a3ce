"""Errors in %%model cells point at the user's own lines; a bad magic line says how to write it."""

import pytest
from IPython.core.error import UsageError

from ppl_kernel.errors import InvalidParameterError

from ppl_kernel_jupyter.user_traceback import ModelSyntaxError

from .conftest import GEOMETRIC, WEATHER, cell


def run_failing(shell, capsys, text):
    capsys.readouterr()
    result = shell.run_cell(text)
    shown = capsys.readouterr().out
    return result.error_before_exec or result.error_in_exec, shown


def test_syntax_error_points_at_the_cells_own_line(shell, capsys):
    error, shown = run_failing(shell, capsys, """%%model broken
x = pyro.sample("x", dist.Normal(0.0, 1.0))
y = (x +
return x
""")
    assert isinstance(error, ModelSyntaxError)
    assert error.lineno == 3  # line 3 of the cell: "y = (x +"
    assert "Cell In[" in shown and "line 3" in shown
    assert "y = (x +" in shown
    assert "magics.py" not in shown and "cell_function.py" not in shown


def test_return_outside_a_loop_is_fine_but_yield_style_errors_point_at_the_line(shell, capsys):
    error, shown = run_failing(shell, capsys, """%%model outer --no-show
x = 1
nonlocal x
return x
""")
    assert isinstance(error, ModelSyntaxError) and error.lineno == 3
    assert "nonlocal x" in shown


def test_exception_in_the_model_shows_the_cells_lines_not_the_extensions(shell, capsys):
    error, shown = run_failing(shell, capsys, """%%model faulty --samples 10
x = pyro.sample("x", dist.Normal(0.0, 1.0))
y = 1 / 0
return x
""")
    assert isinstance(error, ZeroDivisionError)
    assert "Cell In[" in shown and "line 3" in shown and "----> 3     y = 1 / 0" in shown
    for internal in ("extension/", "ppl_kernel/", "torch/", "interactiveshell.py"):
        assert internal not in shown, internal


def test_exception_deep_in_a_recursion_shows_every_user_frame(shell, capsys):
    error, shown = run_failing(shell, capsys, """%%model countdown(n) --args "3" --samples 5
pyro.sample(f"x_{n}", dist.Normal(0.0, 1.0))
if n == 0:
    raise ValueError("reached the bottom")
return countdown(n - 1)
""")
    assert isinstance(error, ValueError)
    assert shown.count("in countdown(") == 4  # n = 3, 2, 1, 0
    assert "ppl_kernel/" not in shown and "extension/" not in shown


def test_an_invalid_parameter_error_names_the_site_and_shows_the_users_line(shell, capsys):
    error, shown = run_failing(shell, capsys, """%%model bad_scale --samples 3
return pyro.sample("x", dist.Normal(0.0, -1.0))
""")
    assert "site" in str(error) or "scale" in str(error)
    assert "----> 2     return pyro.sample" in shown


@pytest.mark.parametrize("scale", ["0.0", "-1.0"])
def test_an_observed_site_with_an_invalid_scale_is_an_error_in_a_model_cell(shell, capsys, scale):
    # The observed site's parameters are checked when it is sampled, before the run is weighted by its score.
    error, shown = run_failing(shell, capsys, f"""%%model observed_bad_scale --samples 3
return pyro.sample("y", dist.Normal(0.0, {scale}), obs=1.0)
""")
    assert isinstance(error, InvalidParameterError)
    assert "site 'y': parameter 'scale' of Normal must satisfy GreaterThan" in str(error)
    assert "----> 2     return pyro.sample" in shown  # the cell's line 2, shown in the def form


@pytest.mark.parametrize("line, message", [
    ("%%model", "does not start with a function name"),
    ("%%model 3d", "does not start with a function name"),
    ("%%model for", "is a Python keyword"),
    ("%%model f(p, ", "unbalanced parentheses"),
    ("%%model f(p,,q)", "not a valid Python signature"),
    ("%%model f [p]", "expected its arguments in parentheses"),
    ("%%model f --samples many", "argument -n/--samples: the number of runs must be an integer, got 'many'"),
    ("%%model f --samples 1e6", "must be an integer, got '1e6'; write 1000000"),
    ("%%model f --colour red", "unrecognized arguments: --colour red"),
])
def test_bad_magic_line_raises_usage_error_with_the_usage(shell, line, message):
    magics = shell.magics_manager.registry["ModelMagics"]
    name, _, rest = line[2:].partition(" ")
    with pytest.raises(UsageError) as info:
        magics.model(rest, "return 1\n")
    assert message in str(info.value)
    assert "usage" in str(info.value).lower() or "%model [-n SAMPLES]" in str(info.value)


def test_sampling_a_model_with_arguments_needs_args(shell):
    magics = shell.magics_manager.registry["ModelMagics"]
    body = GEOMETRIC.split("\n", 1)[1].replace("{{}}", "{}")
    with pytest.raises(UsageError, match=r"takes arguments \(p\).*--args"):
        magics.model("geometric(p, t=None) --samples 10", body)


def test_args_that_do_not_evaluate_say_so(shell):
    magics = shell.magics_manager.registry["ModelMagics"]
    with pytest.raises(UsageError, match=r"--args 'undefined_thing' could not be evaluated \(NameError"):
        magics.model('f(p) --args "undefined_thing"', "return p\n")


def test_sample_magic_explains_a_model_that_needs_arguments(shell):
    cell(shell, GEOMETRIC.format(opts="--no-show"))
    with pytest.raises(UsageError, match=r"model 'geometric' needs arguments \(p\); call it"):
        shell.run_line_magic("sample", "geometric 10")


def test_sample_magic_rejects_what_is_not_a_model(shell):
    cell(shell, "answer = 42")
    with pytest.raises(UsageError, match="'answer' is a int, not a model"):
        shell.run_line_magic("sample", "answer")
    with pytest.raises(UsageError, match="could not evaluate 'no_such_model'"):
        shell.run_line_magic("sample", "no_such_model 5")
    with pytest.raises(UsageError, match="which model"):
        shell.run_line_magic("sample", "")


def test_help_prints_the_options(shell, capsys):
    magics = shell.magics_manager.registry["ModelMagics"]
    magics.model("--help", "return 1\n")
    out = capsys.readouterr().out
    assert "--samples" in out and "--background" in out and "--args" in out


def test_weather_cell_runs_without_error(shell):
    cell(shell, WEATHER.format(opts="--samples 5"))
