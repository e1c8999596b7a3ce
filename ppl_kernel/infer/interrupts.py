"""Kernel interrupts that always land.

Ctrl-C (a notebook's interrupt button) raises ``KeyboardInterrupt`` in the main thread wherever it
happens to be. When that is inside a weakref callback or a ``__del__`` (garbage collection runs them
between any two bytecodes), Python cannot raise it: it prints "Exception ignored" and carries on, and
an inference run would go on sampling. While a run is going, :func:`watching_interrupts` catches such
interrupts through ``sys.unraisablehook``; the run loop calls :func:`raise_caught_interrupt` at each
step, which raises it there, where it stops the run cleanly.

>>> import weakref
>>> class Thing:
...     pass
>>> def interrupt(_):
...     raise KeyboardInterrupt  # what a Ctrl-C arriving inside this callback does
>>> with watching_interrupts():
...     thing = Thing()
...     ref = weakref.ref(thing, interrupt)
...     del thing  # the callback runs: Python can only report its exception as unraisable
...     try:
...         raise_caught_interrupt()
...     except KeyboardInterrupt:
...         print("landed")
landed
"""

import contextlib
import sys
import threading

_state = threading.local()  # per thread: KeyboardInterrupt is raised in the main thread, never elsewhere


def _caught():
    return getattr(_state, "caught", False)


def _hook(unraisable):
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and getattr(_state, "watching", 0):
        _state.caught = True
        return
    _previous_hook(unraisable)


_previous_hook = sys.unraisablehook


@contextlib.contextmanager
def watching_interrupts():
    """Catch, in this thread, a KeyboardInterrupt that Python could only report as unraisable."""
    global _previous_hook
    if sys.unraisablehook is not _hook:  # installed once; it passes everything else to the hook it found
        _previous_hook = sys.unraisablehook
        sys.unraisablehook = _hook
    _state.watching = getattr(_state, "watching", 0) + 1
    try:
        yield
    finally:
        _state.watching -= 1
        if not _state.watching:
            _state.caught = False


def raise_caught_interrupt():
    """Raise the KeyboardInterrupt that landed in a callback since the last call, if one did."""
    if _caught():
        _state.caught = False
        raise KeyboardInterrupt
