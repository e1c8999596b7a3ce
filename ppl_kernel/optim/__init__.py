"""Optimizers for SVI, spelled as in Pyro: ``Adam({"lr": 0.01})``.

Each wraps a ``torch.optim`` class in :class:`PyroOptim` (one optimizer per parameter, made when
the parameter first appears). Every ``torch.optim`` optimizer is here under its own name
(``Adam``, ``SGD``, ``RMSprop``, ...), plus Pyro's ``ClippedAdam``; every
``torch.optim.lr_scheduler`` schedule is here too (``ExponentialLR``, ``StepLR``, ...), taking
``{"optimizer": ..., "optim_args": ..., <schedule arguments>}``.

>>> from ppl_kernel.optim import Adam, ClippedAdam, ExponentialLR
>>> Adam({"lr": 0.01})
PyroOptim(Adam, {'lr': 0.01})
"""

import torch

from .clipped_adam import ClippedAdam as _ClippedAdam
from .optimizer import PyroOptim
from .schedulers import PyroLRScheduler

__all__ = ["PyroOptim", "PyroLRScheduler", "ClippedAdam"]


def _optimizer_factory(constructor):
    def factory(optim_args, clip_args=None):
        return PyroOptim(constructor, optim_args, clip_args)

    factory.__name__ = factory.__qualname__ = constructor.__name__
    factory.__doc__ = (f"``{constructor.__name__}`` per parameter: ``{constructor.__name__}(optim_args, clip_args=None)``"
                       f" with ``optim_args`` the keyword arguments of ``{constructor.__module__}.{constructor.__name__}``"
                       " (a dict, or a function of the parameter name returning one).")
    return factory


def _scheduler_factory(constructor):
    def factory(optim_args, clip_args=None):
        return PyroLRScheduler(constructor, optim_args, clip_args)

    factory.__name__ = factory.__qualname__ = constructor.__name__
    factory.__doc__ = (f"``{constructor.__module__}.{constructor.__name__}`` per parameter: ``optim_args`` holds "
                       "'optimizer', 'optim_args' and the schedule's own arguments.")
    return factory


# LBFGS needs a closure that re-evaluates the loss, which a per-parameter step cannot give it.
for _name in dir(torch.optim):
    _cls = getattr(torch.optim, _name)
    if (isinstance(_cls, type) and issubclass(_cls, torch.optim.Optimizer) and _cls is not torch.optim.Optimizer
            and _name != "LBFGS"):
        globals()[_name] = _optimizer_factory(_cls)
        __all__.append(_name)

# These combine schedulers already built on one optimizer; per parameter there is nothing to hand them.
_TAKE_SCHEDULERS = ("ChainedScheduler", "SequentialLR")
_scheduler_bases = tuple(c for c in (getattr(torch.optim.lr_scheduler, "LRScheduler", None),
                                     torch.optim.lr_scheduler.ReduceLROnPlateau) if c is not None)
for _name in dir(torch.optim.lr_scheduler):
    _cls = getattr(torch.optim.lr_scheduler, _name)
    if (isinstance(_cls, type) and issubclass(_cls, _scheduler_bases) and _cls not in _scheduler_bases
            and not _name.startswith("_") and _name not in _TAKE_SCHEDULERS):
        globals()[_name] = _scheduler_factory(_cls)
        __all__.append(_name)

ClippedAdam = _optimizer_factory(_ClippedAdam)
ClippedAdam.__doc__ = ("Pyro's ClippedAdam per parameter: ``ClippedAdam({'lr': 0.01, 'clip_norm': 10.0, 'lrd': 0.999})``"
                       " clips each gradient element-wise and decays ``lr`` by ``lrd`` every step.")
