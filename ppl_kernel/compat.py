"""Run code written for Pyro unchanged: after ``as_pyro()``, ``import pyro`` is ppl_kernel.

``pyro.X.Y`` resolves to ``ppl_kernel.X.Y``: the very same module objects (one handler stack, one
parameter store), never a second copy. In a notebook, ``%load_ext ppl_kernel.compat`` does the same
and loads the notebook layer.

>>> from ppl_kernel import compat
>>> compat.as_pyro()
>>> import pyro, pyro.distributions as dist
>>> from pyro.infer import MCMC
>>> import ppl_kernel
>>> pyro is ppl_kernel and MCMC is ppl_kernel.infer.MCMC and dist is ppl_kernel.distributions
True
>>> compat.undo_as_pyro()
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types

_ALIAS = "pyro"
_TARGET = "ppl_kernel"


class _AliasLoader(importlib.abc.Loader):
    """Hands back the already-imported ppl_kernel module instead of creating a new one."""

    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass  # already executed under its own name


class _PyroAlias(importlib.abc.MetaPathFinder):
    """Finds ``pyro`` and ``pyro.*`` as the matching ppl_kernel modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        real_name = _TARGET + fullname[len(_ALIAS):]
        module = _resolve(real_name)
        if module is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: `pyro` is ppl_kernel here (ppl_kernel.compat.as_pyro()), which has "
                f"no {real_name}. Undo the alias (ppl_kernel.compat.undo_as_pyro()) to use pyro-ppl itself.",
                name=fullname,
            )
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module))


def _resolve(real_name):
    try:
        return importlib.import_module(real_name)
    except ModuleNotFoundError as e:
        if e.name != real_name:
            raise
    # A module re-exported as an attribute (ppl_kernel.distributions.constraints is torch's module).
    parent_name, _, leaf = real_name.rpartition(".")
    parent = _resolve(parent_name) if parent_name.startswith(_TARGET) and parent_name != real_name else None
    value = getattr(parent, leaf, None) if parent is not None else None
    return value if isinstance(value, types.ModuleType) else None


_finder = _PyroAlias()
_displaced = {}  # pyro-ppl's own modules, if they were imported before as_pyro()


def as_pyro():
    """Make ``import pyro`` (and every ``pyro.X`` submodule) resolve to ppl_kernel in this process."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        module = sys.modules[name]
        if not getattr(module, "__name__", "").startswith(_TARGET):
            _displaced[name] = sys.modules.pop(name)
    sys.modules[_ALIAS] = importlib.import_module(_TARGET)


def undo_as_pyro():
    """Remove the alias: ``import pyro`` finds pyro-ppl again (if installed)."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        if getattr(sys.modules[name], "__name__", "").startswith(_TARGET) or sys.modules[name].__name__ != name:
            del sys.modules[name]
    sys.modules.update(_displaced)
    _displaced.clear()


def load_ipython_extension(ipython):
    """``%load_ext ppl_kernel.compat``: the notebook layer, with ``import pyro`` meaning ppl_kernel."""
    as_pyro()
    import ppl_kernel

    ppl_kernel.load_ipython_extension(ipython)
