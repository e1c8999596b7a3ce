"""Capturing a batched function once as a graph of torch operations and replaying it (vectorize/captured.py)."""

import torch

from ppl_kernel.vectorize.captured import capture


def _operations(replay):
    return [node.target for node in replay.graph.nodes if node.op == "call_function"]


def test_a_replay_gives_what_the_function_gives_on_new_inputs():
    def f(x, y):
        scale = torch.tensor([2.0, 3.0]).log()  # depends on no input
        return (torch.where(x > 0, x * scale, y), (x > 0).sum())

    replay = capture(f, torch.tensor([1.0, -1.0]), torch.zeros(2))
    x, y = torch.tensor([-2.0, 5.0]), torch.tensor([7.0, 8.0])
    for got, expected in zip(replay(x, y), f(x, y), strict=True):
        assert torch.equal(got, expected)


def test_what_depends_on_no_input_is_computed_once_at_capture():
    replay = capture(lambda x: (x * torch.tensor(2.0).exp().log(),), torch.ones(3))
    assert _operations(replay) == [torch.ops.aten.mul.Tensor]


def test_an_operation_repeated_on_the_same_inputs_is_made_once():
    replay = capture(lambda x: (torch.where(x == 1, 1.0, 2.0) + torch.where(x == 1, 3.0, 4.0),), torch.ones(3))
    assert _operations(replay).count(torch.ops.aten.eq.Scalar) == 1


def test_random_draws_from_constant_parameters_are_drawn_anew_on_every_replay():
    # bernoulli(p) with a constant p depends on no input, but it draws: folding it would freeze the draws
    replay = capture(lambda x: (x + torch.bernoulli(torch.full((1000,), 0.5)),), torch.zeros(1000))
    first, second = replay(torch.zeros(1000))[0], replay(torch.zeros(1000))[0]
    assert not torch.equal(first, second)
    # two fair coins per position: they differ with probability 1/2; of 1000, 500 +- 5 * sqrt(1000 / 4) = 79
    assert abs(int((first != second).sum()) - 500) < 5 * (1000 / 4) ** 0.5


def test_a_vmapped_function_draws_per_run_in_every_replay():
    def runs(x):
        return (torch.func.vmap(lambda v: v + torch.randn(()), randomness="different")(x),)

    replay = capture(runs, torch.zeros(1000))
    first, second = replay(torch.zeros(1000))[0], replay(torch.zeros(1000))[0]
    assert len(set(first.tolist())) == 1000 and not torch.equal(first, second)
    # 1000 standard normal draws: their mean is 0 +- 5 / sqrt(1000) = 0.16
    assert abs(float(second.mean())) < 5 / 1000 ** 0.5


def test_a_choice_between_two_values_on_a_constant_condition_is_made_once_at_capture():
    def f(x, y):
        always = torch.ones(3, dtype=torch.bool)
        return (torch.where(always, x, y) * 2,)

    replay = capture(f, torch.ones(3), torch.zeros(3))
    assert torch.ops.aten.where.self not in _operations(replay)
    assert torch.equal(replay(torch.arange(3.0), torch.zeros(3))[0], torch.tensor([0.0, 2.0, 4.0]))


def test_each_operation_is_called_through_torchs_binding_where_that_dispatches_the_very_same_operation():
    replay = capture(lambda x: (torch.where(x > 0, x + 1, x * 2).to(torch.float64),), torch.ones(3))
    calls = {node.target: entry for node, entry in replay.entry_points.items()}
    assert calls[torch.ops.aten.add.Tensor] is torch.add and calls[torch.ops.aten.where.self] is torch.where
    assert calls[torch.ops.aten._to_copy.default] is torch.Tensor.to  # a binding of another name
    assert torch.equal(replay(torch.tensor([-1.0, 2.0]))[0], torch.tensor([-2.0, 3.0], dtype=torch.float64))


def test_an_operation_whose_binding_would_dispatch_another_keeps_its_own_entry_point():
    # torch.add(x, 1) dispatches add.Tensor (the 1 as a tensor), not the graph's add.Scalar
    replay = capture(lambda x: (torch.ops.aten.add.Scalar(x, 1),), torch.ones(3))
    [(node, entry)] = replay.entry_points.items()
    assert node.target is torch.ops.aten.add.Scalar and entry is torch.ops.aten.add.Scalar._op
    assert torch.equal(replay(torch.arange(3.0))[0], torch.tensor([1.0, 2.0, 3.0]))


def test_a_copy_into_a_fresh_tensor_is_a_conversion_or_nothing():
    def converted(x):
        y = torch.empty(3)
        y.copy_(x > 0)  # booleans into floats: a conversion
        return (y * 2,)

    def copied(x):
        y = torch.empty(3)
        y.copy_(x)  # the same type: the graph uses x itself (it updates nothing in place)
        return (y + 1,)

    replay = capture(converted, torch.ones(3))
    assert _operations(replay) == [torch.ops.aten.gt.Scalar, torch.ops.aten._to_copy.default, torch.ops.aten.mul.Tensor]
    assert torch.equal(replay(torch.tensor([-1.0, 0.0, 5.0]))[0], torch.tensor([0.0, 0.0, 2.0]))
    replay = capture(copied, torch.ones(3))
    assert _operations(replay) == [torch.ops.aten.add.Tensor]
    assert torch.equal(replay(torch.tensor([-1.0, 0.0, 5.0]))[0], torch.tensor([0.0, 1.0, 6.0]))


def test_the_row_of_a_tensor_given_one_row_is_the_tensor():
    replay = capture(lambda x: (x.unsqueeze(0)[0] * 2,), torch.ones(3))
    assert _operations(replay) == [torch.ops.aten.mul.Tensor]
