"""%trace of a deep recursion or of a run with very many sites: bounded messages, lazy expansion, no recursion limit."""

import json

from ppl_kernel_jupyter.trace_tree import MAX_CHILDREN, MAX_DEPTH, MAX_NODES

from .conftest import cell

CHAIN = """\
def chain(n):
    pyro.sample(f"x_{n}", dist.Normal(0.0, 1.0))
    return 0 if n == 0 else chain(n - 1)
"""

WIDE = """\
def wide(n):
    for i in range(n):
        pyro.sample(f"y_{i}", dist.Normal(0.0, 1.0))
    return n
"""


def _last_tree(shell):
    return shell.magics_manager.registry["ModelMagics"].trees[-1]


def _deepest_call(node):
    while True:
        calls = [c for c in node["children"] if c["kind"] == "call"]
        if not calls:
            return node
        node = calls[-1]


def _count(node):
    stack, n = [node], 0
    while stack:
        x = stack.pop()
        n += 1
        stack.extend(x.get("children", ()))
    return n


def test_trace_of_a_recursion_500_deep_sends_the_top_levels_and_expands_on_request(shell):
    cell(shell, CHAIN)
    cell(shell, "%trace --live chain(500)")
    widget = _last_tree(shell)
    bottom = _deepest_call(widget.tree)
    assert bottom["depth"] == MAX_DEPTH and bottom["pending"] == 2  # its site and the next call
    json.dumps(widget.tree)  # the state serialises (nesting bounded by MAX_DEPTH)
    widget._on_message(widget, {"type": "expand", "path": bottom["path"]}, [])  # what "show more" sends
    assert _deepest_call(widget.tree)["depth"] == 2 * MAX_DEPTH


def test_trace_of_a_run_with_100000_sites_sends_a_page_of_them(shell):
    cell(shell, WIDE)
    cell(shell, "%trace --live wide(100000)")
    widget = _last_tree(shell)
    assert len(widget.tree["children"]) == MAX_CHILDREN and widget.tree["pending"] == 100000 - MAX_CHILDREN
    widget._on_message(widget, {"type": "expand", "path": "0"}, [])
    assert len(widget.tree["children"]) == 2 * MAX_CHILDREN
    assert _count(widget.tree) <= 2 * MAX_NODES
    data, _ = widget._repr_mimebundle_()
    assert data["text/plain"].count("\n") <= MAX_NODES  # the saved-notebook fallback is bounded too
    assert len(data["text/html"]) < 200 * MAX_NODES


def test_static_trace_of_a_run_with_100000_sites_shows_a_page_and_says_how_many_are_left(shell):
    from IPython.utils.capture import capture_output

    cell(shell, WIDE)
    with capture_output() as shown:
        cell(shell, "%trace wide(100000)")
    [output] = shown.outputs
    html = output.data["text/html"]
    assert html.count('class="ppl-site"') == MAX_CHILDREN
    assert f"{100000 - MAX_CHILDREN} more not shown here" in html
    assert len(html) < 200 * MAX_NODES and output.data["text/plain"].count("\n") <= MAX_NODES
