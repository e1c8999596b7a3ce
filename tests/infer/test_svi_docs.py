"""The runnable examples in the docstrings of the learning modules (SVI, ELBO, optimizers, guides, params)."""

import doctest
import importlib

import pytest

MODULES = [
    "ppl_kernel.params",
    "ppl_kernel.optim",
    "ppl_kernel.optim.optimizer",
    "ppl_kernel.optim.clipped_adam",
    "ppl_kernel.optim.schedulers",
    "ppl_kernel.infer.elbo",
    "ppl_kernel.infer.svi",
    "ppl_kernel.infer.predictive",
    "ppl_kernel.infer.autoguide",
    "ppl_kernel.infer.autoguide.guides",
    "ppl_kernel.infer.autoguide.initialization",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no runnable example"
    assert result.failed == 0
