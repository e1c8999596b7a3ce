"""The random state a run depends on: torch's, Python's ``random`` and (if loaded) NumPy's, seeded and saved together.

Models may draw from any of the three (``random.random()`` in a stopping rule, ``np.random`` in data
generation), so seeding one of them alone does not make runs repeat.

Inference's own Python-level draws (MH's site and acceptance, Rejection's keep-or-not) come from
:data:`inference_random`, a ``random.Random`` of their own, seeded and saved with the others: other code in
the process that uses the ``random`` module between two steps of a chain (a Dask worker's event loop does,
while a chunk runs in its thread) then cannot shift a seeded run.
"""

import operator
import random
import sys
import threading

import torch

from .errors import ArgumentTypeError

inference_random = random.Random()

# Held while torch's default generator draws, is reseeded or restored, or stands in for a thread's own
# generator (settings.drawing_from: a background run's draw that only the default generator can make), so
# that none of these undoes another. Re-entrant: a distribution may run a model to draw (Marginal).
default_generator_lock = threading.RLock()


def check_seed(seed, where):
    """``seed`` as a Python int, or an error naming ``where`` it was given."""
    try:
        return operator.index(seed)
    except TypeError:
        raise ArgumentTypeError(
            f"{where}: the seed must be an integer, got {type(seed).__name__} {seed!r}. "
            f"Pass a whole number, e.g. {where.split('(')[0]}({_suggest(seed)})."
        ) from None


def _suggest(seed):
    try:
        return int(seed)
    except (TypeError, ValueError, OverflowError):
        return 0


def seed_all(seed):
    """Seed torch, ``random`` and NumPy (if it is loaded) with one integer."""
    with default_generator_lock:
        torch.manual_seed(seed)
    random.seed(seed)
    inference_random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)


def get_state():
    """The state of all the generators, for :func:`set_state`."""
    np = sys.modules.get("numpy")
    with default_generator_lock:
        torch_state = torch.get_rng_state()
    return (torch_state, random.getstate(), inference_random.getstate(),
            np.random.get_state() if np is not None else None)


def set_state(state):
    torch_state, random_state, inference_state, numpy_state = state
    with default_generator_lock:
        torch.set_rng_state(torch_state)
    random.setstate(random_state)
    inference_random.setstate(inference_state)
    if numpy_state is not None:
        sys.modules["numpy"].random.set_state(numpy_state)
