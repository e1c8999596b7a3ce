"""Parameters read as Python numbers: what the fast scalar paths (scoring.py, scalar_families.py) share."""

import math

import torch

from ..errors import InvalidParameterError

NUM = (float, int)


def bad_param(dist_name, param, constraint, value):
    """The error for a parameter outside its constraint, worded as torch's validation (the site is added by
    the caller that knows it)."""
    return InvalidParameterError(
        f"parameter '{param}' of {dist_name} must satisfy {constraint}, got {value!r}"
    )


def number(x):
    """``x`` as a Python number when it is one: a number, or a one-element tensor without gradient
    (a parameter computed from an earlier site's value, ``Normal(mu, 1.0)``); else None."""
    if type(x) in NUM:
        return x
    if type(x) is torch.Tensor and x.dim() == 0 and not x.requires_grad:
        return x.item()
    return None


def draw_params(*params):
    """The parameters as Python numbers, and the dtype of the draw, where a draw from them may be made as from
    numbers: each a number or a one-element CPU tensor without gradient, the tensors of one dtype (the draw's,
    as torch's would be; numbers alone draw in the default dtype). None where this does not apply (a CUDA
    parameter keeps its draw on the device, without reading the parameter back).

    >>> import torch
    >>> draw_params(1.5, torch.tensor(2.0, dtype=torch.float64))
    ([1.5, 2.0], torch.float64)
    """
    numbers, dtype = [], None
    for x in params:
        if type(x) in NUM:
            numbers.append(x)
        elif (type(x) is torch.Tensor and x.dim() == 0 and not x.requires_grad and x.device.type == "cpu"
              and x.is_floating_point() and (dtype is None or x.dtype == dtype)):
            numbers.append(x.item())
            dtype = x.dtype
        else:
            return None
    return numbers, dtype


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def normal_log_density(v, loc, scale):
    """log N(v; loc, scale) in floats (torch's Normal.log_prob), for a scale > 0."""
    z = (v - loc) / scale
    return -0.5 * z * z - math.log(scale) - _LOG_SQRT_2PI
