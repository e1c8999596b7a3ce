"""The notebook layer's docstring examples, run under its installed name.

``--doctest-modules`` would import the folder ``extension/`` as a second package named ``extension``;
the examples must run against ``ppl_kernel_jupyter``, the one a user imports.
"""

import doctest
import importlib
import pkgutil

import pytest

import ppl_kernel_jupyter

MODULES = ["ppl_kernel_jupyter"] + [
    f"ppl_kernel_jupyter.{m.name}" for m in pkgutil.iter_modules(ppl_kernel_jupyter.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
