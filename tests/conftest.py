import pytest
import torch

import ppl_kernel as pyro


@pytest.fixture(autouse=True)
def fresh_state():
    """Each test starts from a known seed, an empty parameter store and validation on."""
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    pyro.enable_validation(True)
    yield
    pyro.clear_param_store()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Models run many tiny tensor ops; on a loaded 2-core machine torch's intra-op thread pool turns a
    30 us op into milliseconds of waiting for a busy core. The previous setting is restored after each test."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
