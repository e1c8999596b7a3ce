"""``queue``: sequential enumeration of a model's discrete choices, one complete run per call (Pyro's).

Each call takes a partial trace from ``queue``, replays it, and escapes at the first discrete site it
does not fix; the partial trace extended with each value of that site goes back into the queue. A
call returns when a run completes, so that ``poutine.trace(poutine.queue(model, q))`` gives one
complete trace per call until the queue is empty: that is Pyro's RSA tutorials' ``Search``.
"""

import functools

from .escape_messenger import NonlocalExit, escape
from .replay_messenger import replay
from .trace_messenger import trace
from . import util


def queue(fn=None, queue=None, max_tries=None, extend_fn=None, escape_fn=None, num_samples=None):
    """Run ``fn`` on the partial traces of ``queue`` until one run completes (see the module docstring).

    >>> import queue as queues, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def two_coins():
    ...     return pyro.sample("a", dist.Bernoulli(0.5)) + pyro.sample("b", dist.Bernoulli(0.5))
    >>> q = queues.Queue()
    >>> q.put(poutine.Trace())
    >>> runs = []
    >>> while not q.empty():
    ...     runs.append(float(poutine.queue(two_coins, queue=q)()))
    >>> sorted(runs)
    [0.0, 1.0, 1.0, 2.0]
    """
    if queue is None:
        raise ValueError("poutine.queue needs queue=...: a queue.Queue holding at least one partial trace, "
                         "e.g. q = queue.Queue(); q.put(poutine.Trace())")
    max_tries = int(1e6) if max_tries is None else max_tries
    extend_fn = util.enum_extend if extend_fn is None else extend_fn
    escape_fn = util.discrete_escape if escape_fn is None else escape_fn
    num_samples = -1 if num_samples is None else num_samples

    def wrapper(wrapped):
        @functools.wraps(wrapped)
        def run_one(*args, **kwargs):
            for _ in range(max_tries):
                if queue.empty():
                    raise ValueError(f"poutine.queue: the queue of partial traces of '{getattr(wrapped, '__name__', wrapped)}' "
                                     "is empty; check queue.empty() before each call (every run was already made).")
                next_trace = queue.get()
                tracer = trace(escape(replay(wrapped, trace=next_trace),
                                      escape_fn=functools.partial(escape_fn, next_trace)), calls=False)
                try:
                    return tracer(*args, **kwargs)
                except NonlocalExit as exit_:
                    exit_.reset_stack()
                    for extended in extend_fn(tracer.trace.copy(), exit_.site, num_samples=num_samples):
                        queue.put(extended)
            raise ValueError(f"poutine.queue: no run of '{getattr(wrapped, '__name__', wrapped)}' completed in "
                             f"max_tries={max_tries} tries; raise max_tries.")

        return run_one

    return wrapper(fn) if fn is not None else wrapper
