"""Many runs of a model as one batched run: ``vectorize(model, n)``.

A scalar model written for one run (``weather``) is run n times at the cost of about one run of
tensor operations, on CPU or GPU, when its Python code does not branch on sampled values:
``torch.func.vmap(..., randomness="different")`` runs the code once with every tensor carrying an
invisible run dimension. When the model does branch (the seed's ``weather`` tests
``cloudy.data[0] == 1.0``), vmap refuses, and we run the n runs one by one, with a
:class:`SequentialFallbackWarning` that says which line stopped the batch. The result is a
:class:`~ppl_kernel.infer.TracePosterior` either way; it never silently gives every run the first
run's branch, as broadcasting a leading dimension would.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
>>> from ppl_kernel import vectorize
>>> def weather():
...     cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
...     mean = torch.where(cloudy == 1, 55.0, 75.0)
...     scale = torch.where(cloudy == 1, 10.0, 15.0)
...     return pyro.sample("temp", dist.Normal(mean, scale))
>>> post = vectorize(weather, 100_000)()
>>> post.vectorized, post.batched_trace["temp"].value.shape
(True, torch.Size([100000]))
>>> round(post.marginal("cloudy").mean.item(), 1)
0.3

What a batched run looks like is documented in :mod:`ppl_kernel.vectorize.batched_trace`:
site values carry a leading dimension of size n; ``trace.run(i)`` is one run as an ordinary Trace.

The notebook layer samples through :func:`sample_batched`, which gives ``None`` instead of falling back.
(``ppl_kernel.vectorize`` is the function once ``ppl_kernel`` is imported; import the rest with
``from ppl_kernel.vectorize import sample_batched``.)
"""

from .batched_run import run_batched
from .batched_trace import BatchedTrace
from .fallback import NotBatchable, SequentialFallbackWarning
from .runs import BatchedMarginal, BatchedPosterior, SequentialRuns, Vectorized

__all__ = [
    "vectorize", "sample_batched", "run_batched", "BatchedTrace", "BatchedPosterior", "BatchedMarginal",
    "SequentialRuns", "NotBatchable", "SequentialFallbackWarning",
]


def vectorize(model, num_samples, progress=None):
    """``vectorize(model, n)(*args, **kwargs)``: n runs of ``model(*args, **kwargs)`` as a TracePosterior.

    Batched (one vmapped execution, ``posterior.vectorized is True``, ``posterior.batched_trace``) when
    the model allows it; otherwise n runs one by one (``posterior.vectorized is False``,
    ``posterior.fallback_reason``), announced by a :class:`SequentialFallbackWarning` such as::

        model 'weather' reads .data of a sampled value (`cloudy = 'cloudy' if cloudy.data[0] == 1.0 else
        'sunny'` at seed_models.py:13): running 1000 runs one by one

    Each run is weighted by the likelihood of its observed sites (``condition``, ``obs=``, ``factor``), so
    ``vectorize(condition(model, data), n)()`` is importance sampling with the prior as proposal.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> coin = lambda: pyro.sample("heads", dist.Bernoulli(0.5))
    >>> post = vectorize(coin, 1000)()
    >>> len(post), post.vectorized
    (1000, True)
    """
    return Vectorized(model, num_samples, progress)


def sample_batched(model, num_samples, *args, **kwargs):
    """n runs as one batched run (a :class:`BatchedPosterior`), or ``None`` when the model cannot batch.

    For callers with their own one-by-one path (the notebook's live histograms): no warning, no fallback.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def branching():
    ...     return 1.0 if pyro.sample("c", dist.Bernoulli(0.5)).item() else 0.0
    >>> sample_batched(branching, 100) is None
    True
    """
    try:
        return BatchedPosterior(model, num_samples).run(*args, **kwargs)
    except NotBatchable:
        return None
