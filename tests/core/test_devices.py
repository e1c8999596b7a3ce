"""Values follow the device of the parameters; CUDA tests run only where a GPU is present."""

import pytest
import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine


def model(mu):
    a = pyro.sample("a", dist.Normal(mu, torch.ones_like(mu)))
    b = pyro.sample("b", dist.bernoulli, torch.full_like(mu, 0.5))
    with pyro.plate("data", 3):
        c = pyro.sample("c", dist.Normal(a, 1.0), obs=torch.zeros(3, device=mu.device))
    return a + b + c.sum()


def _check_device(device):
    mu = torch.zeros(1, device=device)
    tr = poutine.trace(model).get_trace(mu)
    for site in tr:
        assert site.value.device.type == device, site.name
        assert site.log_prob.device.type == device, site.name
    assert tr.log_prob_sum().device.type == device


def test_cpu_values_stay_on_cpu():
    _check_device("cpu")


@pytest.mark.cuda
def test_cuda_model_runs_on_cuda():
    _check_device("cuda")


@pytest.mark.cuda
def test_scalar_parameters_follow_the_default_device_on_cuda():
    torch.set_default_device("cuda")
    try:
        tr = poutine.trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0))).get_trace()
        assert tr["x"].value.device.type == "cuda" and tr["x"].log_prob.device.type == "cuda"
    finally:
        torch.set_default_device("cpu")
