"""Effect handlers, spelled as in Pyro: ``from ppl_kernel import poutine``.

Each is usable as ``with poutine.X(...):`` and as ``poutine.X(model, ...)``.
"""

from ..runtime import Messenger, apply_stack, get_stack  # noqa: F401
from ..trace import CallNode, Trace  # noqa: F401
from . import messenger, runtime, util  # noqa: F401  (Pyro's module paths: poutine.messenger.Messenger)
from .block_messenger import BlockMessenger, block  # noqa: F401
from .condition_messenger import (  # noqa: F401
    ConditionMessenger, DoMessenger, SubstituteMessenger, UnconditionMessenger, condition, do, substitute,
    uncondition,
)
from .escape_messenger import EscapeMessenger, NonlocalExit, escape  # noqa: F401
from .lift_messenger import LiftMessenger, lift  # noqa: F401
from .queue_handler import queue  # noqa: F401
from .replay_messenger import ReplayMessenger, replay  # noqa: F401
from .reparam_messenger import ReparamMessenger, reparam  # noqa: F401
from .scale_messenger import MaskMessenger, ScaleMessenger, mask, scale  # noqa: F401
from .seed_messenger import SeedMessenger, seed  # noqa: F401
from .trace_messenger import TraceMessenger, trace  # noqa: F401
from .enum_messenger import EnumMessenger, enum  # noqa: F401
from .markov_messenger import MarkovMessenger, markov  # noqa: F401
