"""``ppl_kernel.compat.as_pyro()``: ``import pyro`` and its submodules are ppl_kernel's own module objects."""

import importlib
import sys

import pytest

import ppl_kernel
from ppl_kernel import compat


@pytest.fixture
def aliased():
    compat.as_pyro()
    yield
    compat.undo_as_pyro()


def test_import_pyro_is_ppl_kernel(aliased):
    import pyro

    assert pyro is ppl_kernel


def test_submodules_are_the_same_objects(aliased):
    import pyro.distributions
    import pyro.infer.autoguide
    import pyro.infer.mcmc.util
    import pyro.poutine.runtime

    assert pyro.distributions is ppl_kernel.distributions
    assert pyro.infer.autoguide is importlib.import_module("ppl_kernel.infer.autoguide")
    assert pyro.infer.mcmc.util is importlib.import_module("ppl_kernel.infer.mcmc.util")
    assert pyro.poutine.runtime is importlib.import_module("ppl_kernel.poutine.runtime")


def test_from_imports_share_one_param_store(aliased):
    import torch
    from pyro.infer import MCMC, NUTS  # noqa: F401

    import pyro

    pyro.clear_param_store()
    pyro.param("w", torch.tensor(2.0))
    assert ppl_kernel.get_param_store()["w"].item() == 2.0


def test_a_reexported_module_imports_by_its_pyro_path(aliased):
    import pyro.distributions.constraints as constraints

    assert constraints is ppl_kernel.distributions.constraints


def test_a_missing_module_says_what_pyro_is_here(aliased):
    with pytest.raises(ModuleNotFoundError, match=r"pyro\.nonexistent.*ppl_kernel.*undo_as_pyro"):
        importlib.import_module("pyro.nonexistent")


def test_undo_removes_the_alias():
    compat.as_pyro()
    compat.undo_as_pyro()
    assert sys.modules.get("pyro") is not ppl_kernel
