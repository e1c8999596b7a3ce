"""``Vindex``: indexing in which tensor indices broadcast with each other and with the batch dims.

Under parallel enumeration a site's value is a tensor of all its values laid out in its own dimension
to the left of the plates (shape ``(K, 1, 1)``, say). Plain ``p[..., x, y, :]`` indexing puts the
index tensors' dimensions in the middle of the result; ``Vindex(p)[..., x, y, :]`` instead treats every
index as a batch of indices: the result's shape is the broadcast of the batch dims (those under
``...``) and of all index tensors, followed by the dims the ``:`` slices keep, in their order. This
is Pyro's ``pyro.ops.indexing.Vindex``.

>>> import torch
>>> p = torch.arange(5 * 4 * 3 * 2.0).reshape(5, 4, 3, 2)
>>> x, y = torch.tensor(1), torch.tensor(2)
>>> Vindex(p)[..., x, y, :].shape                      # a drawn x and y: a batch of 5, then the slice
torch.Size([5, 2])
>>> x, y = torch.arange(4).reshape(4, 1), torch.arange(3).reshape(3, 1, 1)  # enumerated x and y
>>> Vindex(p)[..., x, y, :].shape
torch.Size([3, 4, 5, 2])
>>> bool(Vindex(p)[..., x, y, :][2, 1, 4, 0] == p[4, 1, 2, 0])
True
"""

import torch


def vindex(tensor, args):
    """``Vindex(tensor)[args]`` as a function: ``args`` is one index or a tuple of them (tensors, ints,
    ``slice(None)``, at most one ``Ellipsis``); only full slices ``:`` are supported.

    >>> vindex(torch.arange(6).reshape(2, 3), (Ellipsis, torch.tensor([2, 0]))).tolist()  # one per batch row
    [2, 3]
    """
    if not isinstance(args, tuple):
        args = (args,)
    if args.count(Ellipsis) > 1:
        raise IndexError("Vindex: at most one ... in an index")
    if Ellipsis in args:
        if args.index(Ellipsis) != 0:
            raise IndexError("Vindex: ... must come first (the batch dims are the leftmost ones), e.g. "
                             "Vindex(x)[..., i, :]")
        args = args[1:]
        batch_dims = tensor.dim() - len(args)
    else:
        args = args + (slice(None),) * (tensor.dim() - len(args))
        batch_dims = 0
    if batch_dims < 0:
        raise IndexError(f"Vindex: {len(args)} indices for a tensor of shape {tuple(tensor.shape)}")
    for arg in args:
        if isinstance(arg, slice) and arg != slice(None):
            raise IndexError(f"Vindex: only full slices ':' are supported, got {arg}; index a narrowed tensor instead")
    num_slices = sum(isinstance(a, slice) for a in args)
    device = tensor.device
    indices = []
    for i in range(batch_dims):  # the batch dims index themselves, so that they broadcast with the indices
        size = tensor.shape[i]
        indices.append(torch.arange(size, device=device).reshape((size,) + (1,) * (batch_dims - 1 - i + num_slices)))
    slices_seen = 0
    for arg, size in zip(args, tensor.shape[batch_dims:], strict=True):
        if isinstance(arg, slice):
            slices_seen += 1
            indices.append(torch.arange(size, device=device).reshape((size,) + (1,) * (num_slices - slices_seen)))
        else:
            index = torch.as_tensor(arg, device=device)
            if index.dtype == torch.bool:
                raise IndexError("Vindex: boolean masks are not supported; use integer indices")
            indices.append(index.long().reshape(index.shape + (1,) * num_slices))
    return tensor[tuple(indices)]


class Vindex:
    """Wrap a tensor so that ``Vindex(t)[...]`` indexes it with :func:`vindex`'s broadcasting rule.

    >>> Vindex(torch.eye(3))[torch.tensor([0, 2]), torch.tensor([[0], [2]])].tolist()  # rows x cols broadcast
    [[1.0, 0.0], [0.0, 1.0]]
    """

    __slots__ = ("_tensor",)

    def __init__(self, tensor):
        self._tensor = tensor

    def __getitem__(self, args):
        return vindex(self._tensor, args)
