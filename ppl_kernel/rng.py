"""The random state a run depends on: torch's, Python's ``random`` and (if loaded) NumPy's, seeded and saved together.

Models may draw from any of the three (``random.random()`` in a stopping rule, ``np.random`` in data
generation), so seeding one of them alone does not make runs repeat.

Inference's own Python-level draws (MH's site and acceptance, Rejection's keep-or-not) come from
:data:`inference_random`, a ``random.Random`` of their own, seeded and saved with the others: other code in
the process that uses the ``random`` module between two steps of a chain (a Dask worker's event loop does,
while a chunk runs in its thread) then cannot shift a seeded run.
"""

import contextlib
import operator
import random
import sys
import threading
import time

import torch

from .errors import ArgumentTypeError

inference_random = random.Random()

# Held while torch's default generator is reseeded or restored, stands in for a thread's own generator
# (a *borrow*, see borrowed_default), or makes a draw that is more than one torch call (torch's own samplers,
# which may run a whole model: Marginal), so that none of these undoes another. Re-entrant for that reason.
default_generator_lock = threading.RLock()

# A fast family's draw (distributions/scoring.py) is one torch call, which torch makes atomic on the
# generator; only a borrow, which swaps the default generator's state out and back, must not overlap it.
# So such a draw takes no lock while nobody borrows; it announces itself in ``drawing`` instead, and a
# borrower, once listed in ``borrowers``, waits until ``drawing`` is empty before it swaps:
#
#   drawer:   drawing += (None,); if not borrowers: draw; del drawing[-1]   (else: del, then draw holding the lock)
#   borrower: (holding the lock) borrowers.append(None); wait until not drawing; swap, draw, swap back; pop
#
# Each of these additions, removals and emptiness tests is one C-level list operation. With the GIL they run one at a time
# in a single order that every thread sees (taking or dropping the GIL is a full memory barrier), so either
# the drawer's test came first (then its announcement precedes the borrower's wait, which sees it) or the
# borrower's append did (then the drawer sees it and takes the lock). A free-threaded build (3.13t) has no
# such single order: lists lock themselves one by one, and nothing orders a store to one list before a load
# from the other. There ``borrowers`` is never empty, and every draw takes the lock.
drawing = []
borrowers = [] if getattr(sys, "_is_gil_enabled", lambda: True)() else [None]


@contextlib.contextmanager
def borrowed_default(generator):
    """Let torch's default generator stand in for ``generator`` (CPU) for the body: torch's samplers take no
    generator. No draw from the default generator overlaps the body, locked or lock-free (see above)."""
    with default_generator_lock:
        borrowers.append(None)
        try:
            while drawing:  # lock-free draws under way: each is one torch call, over in microseconds
                time.sleep(0)
            saved = torch.get_rng_state()
            torch.set_rng_state(generator.get_state())
            try:
                yield
            finally:
                generator.set_state(torch.get_rng_state())
                torch.set_rng_state(saved)
        finally:
            borrowers.pop()


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
