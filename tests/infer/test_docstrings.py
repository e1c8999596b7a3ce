"""The runnable examples in the inference modules' docstrings run and say what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "ppl_kernel.infer.posterior", "ppl_kernel.infer.importance", "ppl_kernel.infer.enumeration",
    "ppl_kernel.infer.mh", "ppl_kernel.infer.rejection", "ppl_kernel.infer.marginal",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
