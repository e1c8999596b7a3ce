"""One-call inference and expectations, so that a probmods model reads as briefly as in WebPPL.

``infer(model, method="enumerate")`` is WebPPL's ``Infer({method: 'enumerate'}, model)``: it runs the
algorithm and returns the marginal distribution of the model's return value, which can be sampled
inside another model (nested inference), drawn, or summarised with :func:`expectation`.
"""

import math

import torch

from .posterior import EmpiricalMarginal


def _methods():
    from .enumeration import Enumerate
    from .importance import Importance
    from .mh import MH
    from .rejection import Rejection
    from .smc import SMC

    return {"enumerate": Enumerate, "importance": Importance, "mh": MH, "rejection": Rejection, "smc": SMC}


METHODS = ("enumerate", "importance", "mh", "rejection", "smc")


def infer(model, *args, method="enumerate", sites=None, **options):
    """Run ``method`` on ``model(*args)`` and return the :class:`EmpiricalMarginal` of its return value.

    ``method`` is ``"enumerate"`` (exact), ``"importance"``, ``"mh"``, ``"rejection"`` or ``"smc"``;
    ``options`` go to the algorithm (``num_samples=``, ``max_paths=``, ``num_particles=``, ...);
    ``sites`` takes the marginal of named sites instead of the return value. Inside a model the
    inference is invisible to the outer one; ``pyro.sample("x", infer(...))`` is one site.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import infer, expectation
    >>> def dice():
    ...     a = pyro.sample("a", dist.Choice([1, 2, 3, 4, 5, 6]))
    ...     b = pyro.sample("b", dist.Choice([1, 2, 3, 4, 5, 6]))
    ...     pyro.require(a + b == 8)
    ...     return a
    >>> m = infer(dice)
    >>> m.support, round(expectation(m), 4)
    ([2, 3, 4, 5, 6], 4.0)
    """
    methods = _methods()
    algorithm = methods.get(method)
    if algorithm is None:
        raise ValueError(f"infer: method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    try:
        runner = algorithm(model, **options)
    except TypeError as e:
        raise TypeError(f"infer(method={method!r}): {e}. See help({algorithm.__name__}) for its options.") from None
    return EmpiricalMarginal(runner.run(*args), sites)


def expectation(marginal, fn=None):
    """E[fn(X)] under ``marginal`` (E[X] without ``fn``): an EmpiricalMarginal or a finite distribution.

    Sums exactly over the distinct values with their probabilities, so the answer of an exact
    (enumerated) marginal is exact. Returns a float for scalar results, else a tensor.

    >>> import ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import expectation
    >>> expectation(dist.Choice(["a", "bb", "ccc"]), len)
    2.0
    """
    values, probs = _values_and_probs(marginal)
    results = [v if fn is None else fn(v) for v in values]
    if all(isinstance(r, (bool, int, float)) for r in results):
        return math.fsum(p * float(r) for p, r in zip(probs, results, strict=True))
    if all(isinstance(r, torch.Tensor) for r in results):
        stacked = torch.stack([r.to(torch.float64) for r in results])
        weights = torch.tensor(probs, dtype=torch.float64, device=stacked.device)
        out = (weights.reshape((-1,) + (1,) * (stacked.dim() - 1)) * stacked).sum(0)
        return out.item() if out.dim() == 0 else out
    example = next((r for r in results if not isinstance(r, (bool, int, float, torch.Tensor))), results[0])
    raise TypeError(
        f"expectation: fn must return numbers or tensors, got {type(example).__name__} {example!r}. Map the value "
        "to a number, e.g. expectation(m, lambda v: v == 'cloudy') for a probability."
    )


def _values_and_probs(marginal):
    if isinstance(marginal, EmpiricalMarginal):
        return marginal.support, marginal.probs.tolist()
    if getattr(marginal, "has_enumerate_support", False):
        support = marginal.enumerate_support(expand=False)
        values = support if isinstance(support, list) else list(support)
        probs = [math.exp(float(marginal.log_prob(v))) for v in values]
        return values, probs
    raise TypeError(
        f"expectation: {type(marginal).__name__} has no finite set of values to sum over. Pass the marginal of an "
        "inference (infer(model, method=...)), or a finite distribution (Choice, Categorical, Bernoulli)."
    )
