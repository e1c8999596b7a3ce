"""The parameter store: creation, lookup, iteration, constraints, save/load, and its errors."""

import math

import pytest
import torch
from torch.distributions import constraints

import ppl_kernel as pyro
from ppl_kernel.errors import InvalidParameterError, UnsafeCheckpointError
from ppl_kernel.params import ParamStore


def test_param_is_created_once_and_later_inits_are_ignored():
    first = pyro.param("a", torch.tensor(1.5))
    again = pyro.param("a", torch.tensor(99.0))
    assert first.item() == again.item() == 1.5


def test_param_without_init_reads_the_store():
    pyro.param("a", torch.tensor(2.0))
    assert pyro.param("a").item() == 2.0
    assert pyro.get_param_store()["a"].item() == 2.0


def test_unknown_param_without_init_says_how_to_create_it():
    with pytest.raises(KeyError, match=r"param 'nope' does not exist yet; give an initial value"):
        pyro.param("nope")


def test_lazy_initializer_is_called_once():
    calls = []

    def init():
        calls.append(1)
        return torch.zeros(3)

    pyro.param("w", init)
    pyro.param("w", init)
    assert len(calls) == 1 and pyro.param("w").shape == (3,)


def test_python_number_init_becomes_a_tensor_of_the_default_dtype():
    assert pyro.param("c", 0.25).dtype == torch.get_default_dtype()


def test_clear_empties_the_store():
    pyro.param("a", torch.tensor(1.0))
    pyro.clear_param_store()
    assert "a" not in pyro.get_param_store() and len(pyro.get_param_store()) == 0


def test_iteration_keys_items_and_named_parameters():
    pyro.param("a", torch.tensor(1.0))
    pyro.param("b", torch.tensor(2.0), constraint=constraints.positive)
    store = pyro.get_param_store()
    assert list(store) == ["a", "b"] == store.keys() == store.get_all_param_names()
    assert {k: round(v.item(), 5) for k, v in store.items()} == {"a": 1.0, "b": 2.0}
    unconstrained = dict(store.named_parameters())
    # b is kept as log(2): the optimizer moves an unconstrained leaf.
    assert unconstrained["b"].item() == pytest.approx(math.log(2.0))
    assert all(p.is_leaf and p.requires_grad for p in unconstrained.values())


def test_delete_removes_one_parameter_and_names_the_missing_one():
    pyro.param("a", torch.tensor(1.0))
    pyro.param("b", torch.tensor(1.0))
    store = pyro.get_param_store()
    del store["a"]
    assert list(store) == ["b"]
    with pytest.raises(KeyError, match=r"param 'a' is not in the store"):
        del store["a"]


@pytest.mark.parametrize("constraint, value", [
    (constraints.positive, torch.tensor([0.5, 3.0])),
    (constraints.unit_interval, torch.tensor([0.1, 0.9])),
    (constraints.interval(-2.0, 5.0), torch.tensor([-1.0, 4.0])),
    (constraints.simplex, torch.tensor([0.2, 0.3, 0.5])),
    (constraints.greater_than(1.0), torch.tensor([1.5, 10.0])),
])
def test_constrained_param_round_trips_and_stays_inside_its_constraint(constraint, value):
    p = pyro.param("p", value, constraint=constraint)
    assert torch.allclose(p, value, atol=1e-5)
    # A large move of the unconstrained value still lands inside the constraint.
    u = pyro.get_param_store().get_unconstrained("p")
    with torch.no_grad():
        u.add_(torch.linspace(-5.0, 5.0, u.numel()).reshape(u.shape))
    assert bool(constraint.check(pyro.param("p")).all())


def test_gradient_reaches_the_unconstrained_value_through_the_transform():
    b = pyro.param("b", torch.tensor(2.0), constraint=constraints.positive)
    b.backward()
    # d exp(u) / du = exp(u) = 2 at u = log 2.
    assert pyro.get_param_store().get_unconstrained("b").grad.item() == pytest.approx(2.0)


def test_initial_value_that_breaks_its_constraint_is_an_error_naming_param_and_fix():
    with pytest.raises(InvalidParameterError) as err:
        pyro.param("sigma", torch.tensor(-1.0), constraint=constraints.positive)
    text = str(err.value)
    assert "param 'sigma'" in text and "-1" in text and "GreaterThan(lower_bound=0.0)" in text
    assert "Give an initial value inside the constraint" in text
    assert "sigma" not in pyro.get_param_store()


def test_initial_value_on_the_boundary_is_an_error():
    # 0 satisfies nonnegative, but its log is -inf: the optimizer could never move it.
    with pytest.raises(InvalidParameterError, match=r"param 'q'.*boundary of its constraint.*Start strictly inside"):
        pyro.param("q", torch.tensor(0.0), constraint=constraints.nonnegative)


def test_save_and_load_keep_values_and_constraints(tmp_path):
    pyro.param("a", torch.tensor([1.0, 2.0]))
    pyro.param("s", torch.tensor(0.3), constraint=constraints.unit_interval)
    path = tmp_path / "params.pt"
    pyro.get_param_store().save(path)
    pyro.clear_param_store()
    pyro.get_param_store().load(path)
    store = pyro.get_param_store()
    assert store["a"].tolist() == [1.0, 2.0]
    assert store["s"].item() == pytest.approx(0.3)
    assert type(store.get_constraint("s")) is type(constraints.unit_interval)
    assert store.get_unconstrained("s").requires_grad


def test_load_adds_to_the_store_and_replaces_same_names(tmp_path):
    pyro.param("a", torch.tensor(1.0))
    path = tmp_path / "params.pt"
    pyro.get_param_store().save(path)
    pyro.get_param_store()["a"] = torch.tensor(5.0)
    pyro.param("other", torch.tensor(7.0))
    pyro.get_param_store().load(path)
    store = pyro.get_param_store()
    assert store["a"].item() == 1.0 and store["other"].item() == 7.0


def test_setitem_keeps_the_constraint():
    pyro.param("s", torch.tensor(1.0), constraint=constraints.positive)
    store = pyro.get_param_store()
    store["s"] = torch.tensor(4.0)
    assert store["s"].item() == pytest.approx(4.0)
    with pytest.raises(InvalidParameterError, match="param 's'"):
        store["s"] = torch.tensor(-4.0)


def test_param_name_finds_the_name_of_an_unconstrained_tensor():
    store = ParamStore()
    store.get("w", torch.ones(2))
    assert store.param_name(store.get_unconstrained("w")) == "w"
    assert store.param_name(torch.ones(2)) is None


def test_param_sites_appear_in_a_trace():
    def model():
        return pyro.param("a", torch.tensor(1.0)) * 2

    tr = pyro.poutine.trace(model).get_trace()
    assert tr.nodes["a"].type == "param" and tr.nodes["a"].value.item() == 1.0


def test_a_saved_store_loads_with_torch_weights_only(tmp_path):
    pyro.param("s", torch.tensor(0.3), constraint=constraints.unit_interval)
    pyro.param("v", torch.ones(2, 2), constraint=constraints.independent(constraints.positive, 1))
    path = tmp_path / "params.pt"
    pyro.get_param_store().save(path)
    torch.load(path, weights_only=True)  # tensors and plain data only: no constraint objects pickled
    pyro.clear_param_store()
    pyro.get_param_store().load(path)
    restored = pyro.get_param_store().get_constraint("v")
    assert type(restored.base_constraint) is type(constraints.positive) and restored.reinterpreted_batch_ndims == 1
    assert pyro.param("v").tolist() == [[1.0, 1.0], [1.0, 1.0]]


_UNPICKLED = []


def _record_unpickling(tag):
    _UNPICKLED.append(tag)
    return {"params": {}, "constraints": {}}


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (_record_unpickling, ("code ran",))


def test_loading_a_file_with_arbitrary_objects_refuses_without_running_them(tmp_path):
    path = tmp_path / "params.pt"
    torch.save(_RunsCodeWhenUnpickled(), path)
    _UNPICKLED.clear()
    with pytest.raises(UnsafeCheckpointError, match=r"ParamStore.load: .*params.pt holds objects other than tensors "
                                                     r"and plain data .*_record_unpickling.*weights_only=False"):
        pyro.get_param_store().load(path)
    assert _UNPICKLED == []


def test_weights_only_false_is_the_explicit_opt_in_for_a_trusted_pickle(tmp_path):
    path = tmp_path / "params.pt"
    torch.save(_RunsCodeWhenUnpickled(), path)
    _UNPICKLED.clear()
    pyro.get_param_store().load(path, weights_only=False)
    assert _UNPICKLED == ["code ran"]


def test_a_simplex_param_may_start_from_positive_weights_as_in_pyro():
    # Pyro's enumeration tutorial starts a simplex param at torch.randn(3, 3).exp(): rows are normalised.
    value = pyro.param("p", torch.tensor([[1.0, 3.0], [2.0, 2.0]]), constraint=constraints.simplex)
    assert torch.allclose(value, torch.tensor([[0.25, 0.75], [0.5, 0.5]]))
