import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Inference runs many tiny tensor ops; on a loaded 2-core machine torch's intra-op thread pool
    turns a 30 us op into milliseconds of waiting for a busy core. One thread is also what a user's
    small model gets the best speed from; the previous setting is restored after each test."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
