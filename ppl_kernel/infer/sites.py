"""How inference reads a traced site: is it a random choice, and what does it score (as a float).

A *random choice* is a latent sample site whose value the model drew: not observed, not a
``factor`` or ``deterministic`` (those are observed sites), and not fixed by a handler inside the
model (``substitute``, ``do`` and ``replay`` mark the site ``done``). Inference proposes, enumerates
or weights only random choices; every other sample site just adds its score.
"""

import math

from ..distributions.scoring import site_log_prob_float
from ..errors import InvalidParameterError


def is_choice(site):
    return site.type == "sample" and not site.is_observed and not site.done


# The site's summed log-probability (scale and mask applied) as a Python float.
score = site_log_prob_float


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
