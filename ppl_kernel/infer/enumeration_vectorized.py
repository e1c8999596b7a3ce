"""Enumeration as one vectorized run: the values of each random choice laid along a tensor dimension of its own.

``Enumerate(model, vectorize=True)`` runs the model once. Its ``i``-th random choice takes all its values
at once, as a tensor of shape ``(K,) + (1,) * i`` (dimension ``-(i + 1)``), so that everything computed
from the choices broadcasts to one entry per combination of values, and every score (the choices'
own, the factors', the observations') is a tensor over the choices it depends on. Their sum is the log
joint of every path at once. This is how memo and Pyro's parallel enumeration reach array speed; it needs
a model whose code is elementwise in its choices (arithmetic, comparisons, ``torch.where``, indexing a
tensor by a sampled index) and makes the same choices whatever their values.

Python control flow on a choice (``if``, ``.item()``, ``int()``, a list indexed by a choice) fails at
once, and so does a site with dimensions of its own (a vectorized plate); a reduction over a choice
(``x.sum()``, ``x[0]``) would silently mix paths, so a sample of paths is run one by one afterwards and
must agree with the vectorized answer. In each of these cases :class:`NotVectorizable` says why, and
``Enumerate`` runs the paths one by one instead.
"""

import math

import torch

from ..runtime import Messenger, model_name, site_log_prob
from ..trace import RETURN
from ..vectorize.fallback import describe_failure
from .posterior import value_key
from .sites import score

_SPOT_CHECKS = 16  # paths run one by one to confirm the vectorized answer
_SPOT_SEED = 20250601  # a fixed generator of its own: the check draws nothing from the user's random state
MAX_COMBINATIONS = 2**25  # the log joint holds one float64 per combination of values: 256 MB at most


class NotVectorizable(Exception):
    """The model's paths cannot be enumerated as one vectorized run; ``reason`` says why, in one line."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class _ChoiceDims(Messenger):
    """Gives the ``i``-th random choice all its values along dimension ``-(i + 1)``; collects every score."""

    def __init__(self, model):
        super().__init__(model)
        self.choices = []  # (name, values as a 1-d tensor)
        self.combinations = 1
        self.sites = {}
        self.log_probs = []  # (site name, score tensor over the choices so far)

    def process_message(self, msg):
        if msg.type != "sample" or msg.value is not None or not msg.is_choice:
            return
        fn, name, i = msg.fn, msg.name, len(self.choices)
        if getattr(type(fn), "object_valued", False) or not getattr(fn, "has_enumerate_support", False):
            raise NotVectorizable(f"site '{name}' draws from {type(fn).__name__}, whose values are not numbers on "
                                  "a finite grid")
        if fn.event_shape or len(fn.batch_shape) > i:
            raise NotVectorizable(f"site '{name}' has shape {tuple(fn.batch_shape + fn.event_shape)} of its own "
                                  "(a vectorized plate or a multivariate value)")
        try:
            support = fn.enumerate_support(expand=False)
        except NotImplementedError:  # a support that changes between paths (Binomial of a sampled count)
            raise NotVectorizable(f"site '{name}' has values that depend on earlier choices") from None
        k = support.shape[0]
        if support.numel() != k:
            raise NotVectorizable(f"site '{name}' has values that depend on earlier choices")
        values = support.reshape(k)
        self.combinations *= k
        if self.combinations > MAX_COMBINATIONS:
            raise NotVectorizable(f"its choices up to site '{name}' have {self.combinations:,} combinations of values, "
                                  f"more than the {MAX_COMBINATIONS:,} that one vectorized run holds")
        self.choices.append((name, values))
        msg.value = values.reshape((k,) + (1,) * i)

    def postprocess_message(self, msg):
        if msg.type != "sample":
            return
        name = msg.name
        if name in self.sites:
            raise NotVectorizable(f"site '{name}' appears twice in one run")
        lp = site_log_prob(msg)
        sizes = [len(values) for _, values in reversed(self.choices)]
        shape = tuple(lp.shape)
        # A score may depend on any of the choices made so far, each along its own dimension, and on nothing else.
        if len(shape) > len(sizes) or any(s not in (1, k) for s, k in zip(shape, sizes[len(sizes) - len(shape):],
                                                                          strict=True)):
            raise NotVectorizable(f"site '{name}' scores with shape {shape}, dimensions of its own beside its "
                                  "choices' (a vectorized plate, or batched data)")
        self.sites[name] = msg
        self.log_probs.append(lp)


class _Replay(Messenger):
    """Gives the choices of one path their values in order (the spot check); adds up the path's log joint."""

    def __init__(self, model, path):
        super().__init__(model)
        self.path = path  # [(name, value)], in the order the vectorized run made the choices
        self.made = 0
        self.log_joint = 0.0

    def process_message(self, msg):
        if msg.type == "sample" and msg.value is None and msg.is_choice:
            if self.made >= len(self.path) or self.path[self.made][0] != msg.name:
                raise NotVectorizable(f"model '{model_name(self.fn)}' makes other choices on some paths (site "
                                      f"'{msg.name}'): its choices decide which sites it makes")
            msg.value = self.path[self.made][1]
            self.made += 1

    def postprocess_message(self, msg):
        if msg.type == "sample":
            self.log_joint += score(msg)


def enumerate_vectorized(model, args, kwargs):
    """Every path of ``model(*args, **kwargs)`` at once.

    Returns ``(values, log_weights, sites, combinations)``: the possible paths only (log joint above -inf), as
    a dict of one tensor per choice and ``"_RETURN"``, each with one entry per path; their log joints
    (float64); the sites of the run (for the store's columns); and how many combinations of values there
    were, possible or not. Raises :class:`NotVectorizable`.
    """
    run = _ChoiceDims(model)
    try:
        ret = run(*args, **kwargs)
    except NotVectorizable:
        raise
    except Exception as e:  # Python control flow on a choice, most often: name the line
        raise NotVectorizable(describe_failure(model, e)) from e
    sizes = [len(values) for _, values in run.choices]
    shape = tuple(reversed(sizes))
    device = run.choices[0][1].device if run.choices else torch.device("cpu")
    # Summed in the order of the run, the total grows one choice's dimension at a time: each addition costs the
    # size of the total so far, about twice the size of the full table in all (not one full pass per score).
    joint = torch.zeros((), dtype=torch.float64, device=device)
    for lp in run.log_probs:
        joint = joint + lp.to(torch.float64)
    joint = joint.expand(shape).contiguous()  # a choice that nothing scored still has its dimension
    if type(ret) in (int, float, bool):
        ret = torch.tensor(ret, dtype=torch.get_default_dtype() if type(ret) is float else torch.long, device=device)
    if not isinstance(ret, torch.Tensor) or ret.dim() > len(shape):
        what = f"a tensor of shape {tuple(ret.shape)}" if isinstance(ret, torch.Tensor) else f"a {type(ret).__name__}"
        raise NotVectorizable(f"model '{model_name(model)}' returns {what}; a vectorized run hands back a number "
                              "or a tensor over its choices")
    try:
        returned = ret.expand(shape)
    except RuntimeError:
        raise NotVectorizable(f"model '{model_name(model)}' returns a tensor of shape {tuple(ret.shape)}, with "
                              "dimensions of its own beside its choices'") from None
    _spot_check(model, args, kwargs, run.choices, joint, returned)

    flat = joint.reshape(-1)
    possible = torch.nonzero(flat > -math.inf).reshape(-1)
    values = {}
    stride = 1
    for name, support in run.choices:  # choice j varies along dimension -(j + 1): stride = product of the sizes before
        index = torch.div(possible, stride, rounding_mode="floor") % len(support)
        values[name] = support[index]
        stride *= len(support)
    values[RETURN] = returned.reshape(-1)[possible]
    return values, flat[possible], run.sites, flat.numel()


def _spot_check(model, args, kwargs, choices, joint, returned):
    """Run a sample of paths one by one: each must have the vectorized log joint and return value."""
    total = joint.numel()
    generator = torch.Generator().manual_seed(_SPOT_SEED)
    picks = torch.randint(total, (min(_SPOT_CHECKS, total),), generator=generator).tolist()
    flat, flat_returned = joint.reshape(-1), returned.reshape(-1)
    for pick in picks:
        path, rest = [], pick
        for name, support in choices:
            path.append((name, support[rest % len(support)]))
            rest //= len(support)
        replay = _Replay(model, path)
        one_ret = replay(*args, **kwargs)
        expected, got = float(flat[pick]), replay.log_joint
        # The same scores added in another order, some in float32 (torch) against double (the scalar path):
        # they agree to float32 rounding.
        agree = replay.made == len(path) and _close(got, expected)
        if agree and expected > -math.inf:
            agree = _close(value_key(one_ret), value_key(flat_returned[pick]))
        if not agree:
            raise NotVectorizable(
                f"model '{model_name(model)}' gives path {pick} another log-probability or return value when run "
                f"alone ({got:.6g}) than in the vectorized run ({expected:.6g}): its code is not elementwise in its "
                "choices (a sum, a maximum or an index over a sampled value mixes paths)"
            )


def _close(a, b):
    if a == b:
        return True
    numbers = (int, float)
    return type(a) in numbers and type(b) in numbers and abs(a - b) <= 1e-5 * (1.0 + abs(b))
