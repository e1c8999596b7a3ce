"""Many runs of a model as one batched run: the execution machinery, which knows nothing of inference.

A scalar model written for one run (``weather``) runs n times at the cost of about one run of tensor
operations when its Python code does not branch on sampled values: ``torch.func.vmap(...,
randomness="different")`` runs the code once with every tensor carrying an invisible run dimension
(:func:`run_batched`, giving a :class:`BatchedTrace`). When the model does branch (the seed's ``weather``
tests ``cloudy.data[0] == 1.0``), vmap refuses and :class:`NotBatchable` says which line stopped it.

Inference asks for this explicitly: ``Importance(model, num_samples=n, vectorize=True)`` weights the
runs of one batched execution, and runs them one by one, with a :class:`SequentialFallbackWarning`
naming the line, when the model cannot batch.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
>>> from ppl_kernel.vectorize import run_batched
>>> def weather():
...     cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
...     mean = torch.where(cloudy == 1, 55.0, 75.0)
...     return pyro.sample("temp", dist.Normal(mean, 10.0))
>>> run_batched(weather, 100_000)["temp"].value.shape
torch.Size([100000])

What a batched run looks like is documented in :mod:`ppl_kernel.vectorize.batched_trace`.
"""

import sys
import types

from .batched_run import run_batched
from .batched_trace import BatchedTrace
from .fallback import NotBatchable, SequentialFallbackWarning

__all__ = ["run_batched", "BatchedTrace", "NotBatchable", "SequentialFallbackWarning"]


class _Module(types.ModuleType):
    def __call__(self, *args, **kwargs):
        # ``pyro.vectorize(model, n)()`` was a function before this became a module: say what replaced it.
        raise TypeError(
            "ppl_kernel.vectorize is the module of batched execution, not a function. For n runs of a model "
            "as one batched run, weighted by its observations, use "
            "ppl_kernel.infer.Importance(model, num_samples=n, vectorize=True).run(*args)."
        )


sys.modules[__name__].__class__ = _Module
