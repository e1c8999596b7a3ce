"""Pyro's ``pyro.distributions.util`` tensor helpers that user code imports: shapes, reductions and the
scale-and-mask of a log-density.

>>> import torch
>>> from ppl_kernel.distributions.util import broadcast_shape, logsumexp, sum_rightmost
>>> broadcast_shape((3, 1), (4,))
(3, 4)
>>> sum_rightmost(torch.ones(2, 3, 4), 2).tolist()
[12.0, 12.0]
>>> round(logsumexp(torch.tensor([0.0, 0.0]), dim=-1).item(), 4)
0.6931
"""

import numbers

import torch


def broadcast_shape(*shapes, strict=False):
    """The shape that ``shapes`` broadcast to, as a tuple; ``strict=True`` allows no size-1 stretching.

    >>> broadcast_shape((2, 1), (1, 3))
    (2, 3)
    """
    reversed_shape = []
    for shape in shapes:
        for i, size in enumerate(reversed(shape)):
            if i >= len(reversed_shape):
                reversed_shape.append(size)
            elif reversed_shape[i] == 1 and not strict:
                reversed_shape[i] = size
            elif reversed_shape[i] != size and (size != 1 or strict):
                raise ValueError(f"shape mismatch: objects cannot be broadcast to a single shape: "
                                 f"{' vs '.join(map(str, map(tuple, shapes)))}")
    return tuple(reversed(reversed_shape))


def sum_rightmost(value, dim):
    """Sum out the ``dim`` rightmost dimensions of ``value`` (``dim`` negative: keep ``-dim`` leftmost ones).

    >>> sum_rightmost(torch.ones(2, 3), -1).shape
    torch.Size([2])
    """
    if isinstance(value, numbers.Number):
        return value
    if dim < 0:
        dim += value.dim()
    if dim == 0:
        return value
    if dim > 0:
        return value.reshape(value.shape[:-dim] + (-1,)).sum(-1)
    raise ValueError(f"sum_rightmost: cannot sum {dim} dims of a tensor of {value.dim()} dims")


def sum_leftmost(value, dim):
    """Sum out the ``dim`` leftmost dimensions of ``value`` (``dim`` negative: keep ``-dim`` rightmost ones).

    >>> sum_leftmost(torch.ones(2, 3), 1).tolist()
    [2.0, 2.0, 2.0]
    """
    if isinstance(value, numbers.Number):
        return value
    if dim < 0:
        dim += value.dim()
    if dim == 0:
        return value
    return value.reshape((-1,) + value.shape[dim:]).sum(0)


def logsumexp(tensor, dim=-1, keepdim=False):
    """``log(sum(exp(tensor)))`` along ``dim``, stable, and -inf (not NaN) where every entry is -inf.

    >>> logsumexp(torch.tensor([-float("inf"), -float("inf")])).item()
    -inf
    """
    if not isinstance(dim, int):
        raise TypeError("logsumexp: dim must be one int")
    top = tensor.detach().max(dim=dim, keepdim=True).values
    top = top.masked_fill(torch.isinf(top), 0.0)  # all -inf (or an inf): subtract nothing
    result = top + (tensor - top).exp().sum(dim=dim, keepdim=True).log()
    return result if keepdim else result.squeeze(dim)


def is_identically_zero(x):
    """True for the number 0 (a tensor is never assumed zero: checking would cost a device sync)."""
    return isinstance(x, numbers.Number) and x == 0


def is_identically_one(x):
    """True for the number 1 (see :func:`is_identically_zero`)."""
    return isinstance(x, numbers.Number) and x == 1


def scale_and_mask(tensor, scale=1.0, mask=None):
    """``tensor * scale``, with entries where ``mask`` is False set to zero (not multiplied: -inf stays out).

    >>> scale_and_mask(torch.tensor([1.0, -float("inf")]), 2.0, torch.tensor([True, False])).tolist()
    [2.0, 0.0]
    """
    if is_identically_zero(tensor) or (mask is None and is_identically_one(scale)):
        return tensor
    if mask is None:
        return tensor * scale
    if mask is False:
        return torch.zeros_like(torch.as_tensor(tensor))
    if mask is True:
        return tensor * scale
    return torch.where(mask, tensor * scale, tensor.new_zeros(()))


def eye_like(value, m, n=None):
    """An ``m`` x ``n`` identity with ``value``'s dtype and device."""
    n = m if n is None else n
    return torch.eye(m, n, dtype=value.dtype, device=value.device)


def copy_docs_from(source_class, full_text=False):
    """Decorator: take the docstring of ``source_class``'s same-named attribute when one has none (Pyro's helper)."""

    def decorator(destin):
        if destin.__doc__ is None:
            source = getattr(source_class, destin.__name__, None)
            destin.__doc__ = getattr(source, "__doc__", None)
        return destin

    return decorator
