"""How inference reads a traced run: the score of a site, and the weight of a run.

What a site *is* (a random choice, evidence, deterministic) is decided by :class:`ppl_kernel.runtime.Site`
(``site.kind``, ``site.is_choice``); this module only scores. A run's *evidence* is every sample site
that is not a random choice: observations, factors, and values a handler fixed inside the model. Its
summed score, :func:`evidence_log_weight`, is the run's importance weight when the latent sites came
from the prior -- the one weighting rule that Importance, Rejection, the batched runs and MH share.
"""

import math

from ..errors import InvalidParameterError
from ..runtime import Messenger, model_name, site_log_prob_float
from ..signals import ZeroProbability
from ..trace import describe_distribution, short
from .errors import InferenceError

# The site's summed log-probability (scale and mask applied) as a Python float.
score = site_log_prob_float


def evidence_log_weight(trace, model=None):
    """log p(evidence | random choices) of one run: the summed scores of its evidence sites, as a float.

    A NaN score is an error that names the site (a NaN would otherwise poison every weight silently).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     pyro.factor("bonus", -1.5)
    ...     pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))
    >>> round(evidence_log_weight(poutine.trace(model).get_trace()), 4)  # -1.5 + log N(0; 0, 1)
    -2.4189
    """
    total = 0.0
    for site in trace:
        if site.type == "sample" and not site.is_choice:
            total += score(site)
    if total != total:
        raise nan_score_error(trace, model)
    return total


class EvidenceWeight(Messenger):
    """Adds up a run's evidence as it happens and ends the run at the first site of probability zero.

    The same rule as :func:`evidence_log_weight`, applied during the run: at a ``factor`` of -inf or an
    observation outside its distribution's support the run stops with a
    :class:`~ppl_kernel.signals.ZeroProbability` signal, so that no user code runs past it (WebPPL does
    the same). One instance serves a whole loop of runs: ``start()`` before each.
    """

    def __init__(self, fn=None):
        super().__init__(fn)
        self.log_weight = 0.0

    def start(self):
        self.log_weight = 0.0

    def postprocess_message(self, msg):
        if msg.type != "sample" or msg.is_choice:
            return
        lp = score(msg)
        if lp == -math.inf:
            self.log_weight = -math.inf
            raise ZeroProbability(msg.name)
        self.log_weight += lp


def nan_score_error(trace, model=None):
    """The error for a run whose weight is NaN, naming the first site (or factor) that scored NaN."""
    for site in trace:
        if site.type == "sample":
            s = score(site)
            if s != s:
                what = "factor" if site.infer.get("is_auxiliary") and site.is_observed else "site"
                return InferenceError(
                    f"{what} '{site.name}'{_of(model)} scored NaN (its value {short(site.value)} under "
                    f"{describe_distribution(site.fn)}): a NaN parameter, observation or factor. Fix the computation that "
                    "produced it; NaN is not a probability, and inference cannot weigh this run."
                )
    return InferenceError(f"a run{_of(model)} has a NaN log-weight; check its factors and observations for NaN.")


def _of(model):
    return f" of model '{model_name(model)}'" if model is not None else ""


def score_reused(site):
    """The score of a value carried over from another run: -inf where it left the new distribution's support.

    (A site of the same name may have another distribution in the new run, e.g. a different
    number of categories; a value outside its support makes the run impossible, not an error.)
    """
    try:
        return score(site)
    except (InvalidParameterError, ValueError, IndexError, RuntimeError):
        if _outside_support(site):
            return -math.inf
        raise


def _outside_support(site):
    try:
        return not bool(site.fn.support.check(site.value).all())
    except (TypeError, ValueError, RuntimeError, NotImplementedError):  # cannot even be checked: outside
        return True
