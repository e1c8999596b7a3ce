"""The call tree of a trace: each site under the call that made it, calls nested as they ran."""

import torch
from torch.autograd import Variable

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.trace import CallNode

from .seed_models import geometric, ice_cream_sales, make_normal_normal


def fixed(model, **values):
    """The model with its sites' values fixed (so that a tree's text is known exactly)."""
    return poutine.condition(model, data={k: torch.tensor(v) for k, v in values.items()})


def test_geometric_gives_one_nested_call_per_level_each_holding_its_site():
    p = Variable(torch.Tensor([0.5]))
    tr = poutine.trace(fixed(geometric, x_0=[1.0], x_1=[1.0], x_2=[0.0])).get_trace(p)
    node = tr.root
    assert [name for name, _ in node.args] == ["p"]  # as called: t was not given (the body sets it to 0)
    for t in range(3):
        assert node.name == "geometric"
        assert dict(node.args).get("t", 0) == t
        assert [s.name for s in node.sites] == [f"x_{t}"]
        assert tr[f"x_{t}"].call is node
        calls = node.calls
        if t < 2:
            assert len(calls) == 1
            node = calls[0]
        else:
            assert calls == []
    # return values travel back up the recursion: 0, 1, 2
    assert [n.ret.item() for n in tr.root.walk()] == [2.0, 1.0, 0.0]


def test_make_normal_normal_then_its_lambda_holds_normal_product():
    def model():
        fn = make_normal_normal()
        return fn(Variable(torch.ones(1)))

    tr = poutine.trace(model).get_trace()
    root = tr.root
    assert root.name == "model" and root.sites == []
    maker, lam = root.calls
    assert maker.name == "make_normal_normal"
    assert [s.name for s in maker.sites] == ["mu_latent"]
    assert callable(maker.ret)
    assert lam.name == "make_normal_normal.<lambda>"
    assert [n for n, _ in lam.args] == ["sigma"]
    (product,) = lam.calls
    assert product.name == "normal_product"
    assert [s.name for s in product.sites] == ["z1", "z2"]
    assert torch.equal(product.ret, tr.return_value)
    assert dict(product.args)["mu"] is tr["mu_latent"].value


def test_a_site_knows_its_whole_call_path():
    tr = poutine.trace(ice_cream_sales).get_trace()
    assert [n.name for n in tr["temp"].call.path()] == ["ice_cream_sales", "weather"]
    assert [n.name for n in tr["ice_cream"].call.path()] == ["ice_cream_sales"]


def test_the_text_form_draws_the_tree_with_box_characters():
    p = Variable(torch.Tensor([0.5]))
    tr = poutine.trace(fixed(geometric, x_0=[1.0], x_1=[0.0])).get_trace(p)
    assert str(tr).splitlines() == [
        "geometric(p=0.5) → 1.0",
        "├── x_0 ~ Bernoulli(0.5) = 1.0  log p = -0.6931  (observed)",
        "└── geometric(p=0.5, t=1) → 0.0",
        "    └── x_1 ~ Bernoulli(0.5) = 0.0  log p = -0.6931  (observed)",
    ]


def test_the_text_form_shows_each_site_with_distribution_value_and_log_prob():
    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        temp = pyro.sample("temp", dist.Normal(55.0 if cloudy.item() else 75.0, 10.0))
        return temp

    tr = poutine.trace(fixed(weather, cloudy=1.0, temp=60.0)).get_trace()
    lines = str(tr).splitlines()
    assert lines[0] == "weather() → 60.0"
    assert lines[1] == "├── cloudy ~ Bernoulli(0.3) = 1.0  log p = -1.204  (observed)"
    assert lines[2] == "└── temp ~ Normal(55.0, 10.0) = 60.0  log p = -3.347  (observed)"


def test_html_form_is_collapsible_and_holds_every_call_and_site():
    tr = poutine.trace(ice_cream_sales).get_trace()
    html = tr._repr_html_()
    assert html.count("<details") == 2  # ice_cream_sales and weather
    for name in ("cloudy", "temp", "ice_cream", "weather()"):
        assert name in html


def test_with_form_records_top_level_calls_under_a_run_node():
    with poutine.trace() as tracer:
        geometric(Variable(torch.Tensor([0.0])))
    root = tracer.trace.root
    assert root.name == "run"
    assert [c.name for c in root.calls] == ["geometric"]


def test_calls_without_sites_do_not_appear():
    def helper(x):
        return x + 1

    def model():
        y = helper(1.0)
        return pyro.sample("a", dist.Normal(y, 1.0))

    tr = poutine.trace(model).get_trace()
    assert tr.root.calls == [] and [s.name for s in tr.root.sites] == ["a"]


def test_the_call_tree_can_be_switched_off_for_speed():
    tr = poutine.trace(geometric, calls=False).get_trace(Variable(torch.Tensor([0.5])))
    assert tr.root.children == [] and tr["x_0"].call is None
    assert isinstance(tr.root, CallNode)
    assert "x_0" in str(tr)


def test_comprehensions_are_not_calls():
    def child(i):
        return pyro.sample(f"c_{i}", dist.Normal(0.0, 1.0))

    def model():
        return [child(i) for i in range(2)] + list(child(i) for i in range(2, 3))

    tr = poutine.trace(model).get_trace()
    assert [c.name for c in tr.root.calls] == ["child", "child", "child"]


def _two_nested_calls():
    def inner(i):
        return pyro.sample(f"x_{i}", dist.Normal(0.0, 1.0))

    def model():
        return inner(0) + inner(1)

    return model


def test_tracing_nested_calls_under_cprofile_works_and_leaves_the_profiler_running():
    import cProfile
    import pstats
    import sys

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        tr = poutine.trace(_two_nested_calls()).get_trace()
        still_profiling = sys.getprofile()  # cProfile on 3.11; None where it uses sys.monitoring (3.12+)
    finally:
        profiler.disable()
    assert [c.signature() for c in tr.root.calls] == ["inner(i=0)", "inner(i=1)"]
    assert [s.name for c in tr.root.calls for s in c.sites] == ["x_0", "x_1"]
    assert still_profiling is None or isinstance(still_profiling, cProfile.Profile)
    profiled = {func[2] for func in pstats.Stats(profiler).stats}
    assert "inner" in profiled  # the profiler saw the model's calls


def test_a_python_level_profiler_keeps_its_events_and_the_tree_keeps_return_values():
    import sys

    seen = []

    def user_hook(frame, event, arg):
        if event == "return" and frame.f_code.co_name == "inner":
            seen.append(arg.item())

    sys.setprofile(user_hook)
    try:
        tr = poutine.trace(_two_nested_calls()).get_trace()
        after = sys.getprofile()
    finally:
        sys.setprofile(None)
    assert after is user_hook  # put back when the trace ends
    assert seen == [tr["x_0"].value.item(), tr["x_1"].value.item()]
    assert [c.ret.item() for c in tr.root.calls] == seen


class _CountingTrace(poutine.trace_messenger.TraceMessenger):
    """A user's handler built on trace: its own postprocess_message frame sits between apply_stack and ours."""

    seen = 0

    def postprocess_message(self, msg):
        _CountingTrace.seen += 1
        super().postprocess_message(msg)


def test_a_trace_subclass_records_the_same_call_tree_as_trace():
    p = torch.tensor([0.5])
    model = fixed(geometric, x_0=[1.0], x_1=[0.0])
    expected = poutine.trace(model).get_trace(p)
    tr = _CountingTrace(model).get_trace(p)
    assert _CountingTrace.seen == 2
    assert tr.format() == expected.format()
    assert [node.name for node in tr.root.walk()] == ["geometric", "geometric"]
