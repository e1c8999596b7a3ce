"""Pyro's tutorials run here with ``pyro`` aliased to ppl_kernel (``ppl_kernel.compat.as_pyro()``), as a
notebook written for Pyro would with one added line; step counts are reduced."""

import pytest

from ppl_kernel import compat


@pytest.fixture(autouse=True)
def pyro_is_ppl_kernel():
    compat.as_pyro()
    yield
    compat.undo_as_pyro()
