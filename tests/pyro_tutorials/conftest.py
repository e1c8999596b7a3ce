"""Pyro's tutorials run here with ``pyro`` aliased to ppl_kernel (``ppl_kernel.compat.as_pyro()``), as a
notebook written for Pyro would with one added line; step counts are reduced."""

import pytest

from ppl_kernel import compat

# rsa_search.py imports ``pyro`` at module level, as the tutorials' search_inference.py does, so it must first be
# imported under the alias (from inside a test). --doctest-modules would import it at collection time, before any
# alias, binding it to pyro-ppl's poutine: its Search then ran pyro-ppl's handlers around ppl_kernel's sample
# statements and silently found a single execution.
collect_ignore = ["rsa_search.py", "rendering_models.py"]  # rendering_models.py: the same, for pyro-ppl


@pytest.fixture(autouse=True)
def pyro_is_ppl_kernel():
    compat.as_pyro()
    yield
    compat.undo_as_pyro()
