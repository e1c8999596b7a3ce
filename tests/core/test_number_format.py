"""One rule for how a number reads: ppl_kernel.number_format.format_number, used by trace text and the notebook layer."""

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.number_format import format_number


def test_whole_numbers_read_without_decimals():
    assert [format_number(x) for x in (3.0, -2.0, 0.0, 7, 999_999_999.0)] == ["3", "-2", "0", "7", "999999999"]


def test_a_decimal_point_tells_a_whole_float_from_an_int():
    assert [format_number(x, decimal_point=True) for x in (3.0, -0.0, 7)] == ["3.0", "-0.0", "7"]


def test_other_numbers_read_to_four_significant_digits():
    assert [format_number(x) for x in (2 / 3, 1234.5678, 1e-7, 1.5e12)] == ["0.6667", "1235", "1e-07", "1.5e+12"]


def test_infinities_nan_and_strings_read_as_python_writes_them():
    assert [format_number(x) for x in (float("inf"), float("-inf"), float("nan"), "sunny", True)] == \
        ["inf", "-inf", "nan", "sunny", "True"]


def test_tensor_elements_and_numpy_numbers_read_as_numbers():
    import numpy as np

    assert format_number(torch.tensor(2.5)) == "2.5"
    assert format_number(np.float32(4.0)) == "4"


def test_trace_text_shows_whole_float_values_with_a_decimal_point():
    def model():
        pyro.sample("n", dist.Normal(0.0, 1.0), obs=torch.tensor(55.0))

    assert "= 55.0  log p" in str(poutine.trace(model).get_trace())


def test_the_notebook_layer_reads_numbers_by_the_cores_rule():
    from ppl_kernel_jupyter import histogram_data

    assert histogram_data.format_number is format_number
