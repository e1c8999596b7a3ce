"""ops.indexing.Vindex: index tensors broadcast with each other and with the batch dims."""

import pytest
import torch

from ppl_kernel.ops.indexing import Vindex, vindex


def test_each_result_element_is_the_element_its_indices_name():
    p = torch.randn(5, 4, 3, 2)
    x = torch.arange(4).reshape(4, 1)
    y = torch.arange(3).reshape(3, 1, 1)
    out = Vindex(p)[..., x, y, :]
    assert out.shape == (3, 4, 5, 2)
    for j, i, b, k in [(0, 0, 0, 0), (2, 3, 4, 1), (1, 2, 3, 0)]:
        assert out[j, i, b, k] == p[b, i, j, k]


def test_without_ellipsis_indices_address_the_leading_dims():
    p = torch.randn(5, 4, 3)
    rows = torch.arange(5).reshape(5, 1)
    c = torch.tensor([3, 0, 1, 2, 2, 1])
    out = Vindex(p)[rows, c, :]
    assert out.shape == (5, 6, 3)
    assert torch.equal(out[2, 0], p[2, 3]) and torch.equal(out[4, 5], p[4, 1])


def test_scalar_indices_keep_only_the_batch_and_slice_dims():
    p = torch.randn(5, 4, 3, 2)
    assert torch.equal(vindex(p, (Ellipsis, torch.tensor(1), torch.tensor(2), slice(None))), p[:, 1, 2, :])


def test_a_partial_slice_is_an_error_saying_what_is_supported():
    with pytest.raises(IndexError, match="only full slices"):
        Vindex(torch.zeros(3, 3))[1:, 0]
