"""The core's modules import one way: no cycle inside ppl_kernel, lazy (function-level) imports included,
and nothing of the notebook layer (IPython, ipywidgets, matplotlib) in the core."""

import ast
import pathlib

import ppl_kernel

ROOT = pathlib.Path(ppl_kernel.__file__).parent


def _module_name(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """Every ppl_kernel module this file imports, at any depth of the code (lazy imports too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ppl_kernel"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("ppl_kernel"):
                continue
            found.add(target)
            for alias in node.names:  # `from . import poutine` imports a module
                found.add(f"{target}.{alias.name}")
    return found


def _graph(root=ROOT):
    modules = {_module_name(p): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for target in _imports(path):
            # a submodule import also runs its packages' __init__ (ppl_kernel itself aside: every module has it)
            while target and target not in modules:
                target = target.rsplit(".", 1)[0] if "." in target else ""
            while target and target != "ppl_kernel":
                if target != name and not name.startswith(target + "."):
                    deps.add(target)
                target = target.rsplit(".", 1)[0]
        graph[name] = deps
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep.startswith(node + "."):  # a package importing its own submodules is not a cycle
                continue
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_inside_ppl_kernel():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_core_imports_nothing_of_the_notebook_layer():
    banned = ("IPython", "ipywidgets", "anywidget", "matplotlib", "ppl_kernel_jupyter")
    offenders = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in banned]
    # ppl_kernel/__init__.py loads the notebook layer lazily for %load_ext ppl_kernel: that one is by design
    assert offenders == ["__init__.py: ppl_kernel_jupyter", "__init__.py: ppl_kernel_jupyter"], offenders


def test_ppl_kernel_vectorize_is_the_module():
    import types

    import ppl_kernel.vectorize

    assert isinstance(ppl_kernel.vectorize, types.ModuleType) and ppl_kernel.vectorize.run_batched
