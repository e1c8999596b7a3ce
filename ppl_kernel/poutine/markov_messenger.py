"""``markov``: declare that each step of a loop depends only on the last ``history`` steps.

Parallel enumeration gives every enumerated site a tensor dimension of its own; a chain of 100
enumerated states would need 100 dimensions (torch allows 64, CUDA 25). Inside
``for t in pyro.markov(range(T))`` a site may depend on sites of its own step, of the previous
``history`` steps, and of code outside the loop; so the enumeration of a later step may reuse the
dimensions of steps that have left that window. ``markov`` only marks sites (``site.infer["_markov"]``);
the enumeration handler (:class:`~ppl_kernel.poutine.enum_messenger.EnumMessenger`) reads the marks.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
>>> from ppl_kernel import poutine
>>> def chain():
...     x = 0
...     for t in pyro.markov(range(4)):
...         x = pyro.sample(f"x_{t}", dist.Categorical(torch.tensor([[0.9, 0.1], [0.2, 0.8]])[x]),
...                         infer={"enumerate": "parallel"})
...     return x
>>> tr = poutine.trace(poutine.enum(chain, first_available_dim=-1)).get_trace()
>>> [tuple(tr[f"x_{t}"].value.shape) for t in range(4)]  # two dimensions, taken in turn
[(2,), (2, 1), (2,), (2, 1)]
"""

import itertools

from ..runtime import Messenger

_ids = itertools.count()  # one id per markov context ever made: contexts of different runs never match


class MarkovMessenger(Messenger):
    """Marks each site with ``(context id, step, history)`` for every markov context around it.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> step = MarkovMessenger()
    >>> def model():
    ...     for t in range(2):
    ...         with step:
    ...             pyro.sample(f"x_{t}", dist.Bernoulli(0.5))
    >>> tr = poutine.trace(model).get_trace()
    >>> [tr[f"x_{t}"].infer["_markov"][0][1] for t in range(2)]  # the step each site was drawn in
    [0, 1]
    """

    def __init__(self, fn=None, history=1, keep=False):
        super().__init__(fn)
        if int(history) != history or history < 0:
            raise ValueError(f"markov: history must be a non-negative integer (steps a site may look back), "
                             f"got {history!r}")
        if keep:
            raise NotImplementedError("markov(keep=True) is not supported: omit keep (dims of steps outside the "
                                      "history window are reused)")
        self.history = int(history)
        self.id = next(_ids)
        self.step = -1

    def __enter__(self):
        self.step += 1
        return super().__enter__()

    def process_message(self, msg):
        if msg.type == "sample":
            marks = msg.infer.get("_markov", ())
            msg.infer = dict(msg.infer)  # the infer dict may be shared (config_enumerate's, a replayed guide's)
            msg.infer["_markov"] = marks + ((self.id, self.step, self.history),)


def markov(fn=None, history=1, keep=False, dim=None, name=None):
    """``for t in markov(iterable)``: each item is one step; ``with markov():`` around a step's code, or a
    handler of a model (``markov(fn)``), one step per call. ``history`` steps back a site may depend on.

    >>> [t for t in markov(range(3))]  # the items themselves; sites drawn in step t are marked with t
    [0, 1, 2]
    """
    if dim is not None:
        raise NotImplementedError("markov(dim=...) (vectorized markov) is not supported: iterate over the steps "
                                  "with for t in pyro.markov(range(T))")
    if fn is None or callable(fn):
        return MarkovMessenger(fn, history=history, keep=keep)
    return _markov_steps(fn, history, keep)


def _markov_steps(iterable, history, keep):
    context = MarkovMessenger(history=history, keep=keep)
    for item in iterable:
        with context:
            yield item

