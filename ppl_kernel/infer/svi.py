"""Stochastic variational inference: fit a guide's parameters by descending the loss (``-ELBO``).

Each ``svi.step(*args)`` runs the loss with gradients, hands every parameter that took part to
the optimizer, clears the gradients, and returns the loss. Every loss is also kept in
``svi.loss_history`` and passed to the callbacks, so a notebook can draw the loss curve live::

    svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO(), callback=lambda step, loss: plot(step, loss))
"""

import math
import warnings

import torch

from ..distributions.point import Unit
from ..params import get_param_store
from ..runtime import Messenger, model_name
from .elbo import Trace_ELBO
from ..errors import SkippedStepWarning


class _ParamCapture(Messenger):
    """Notes the name of every ``param`` site of a run (the parameters one step updates), and keeps the
    step's sample sites so that a non-finite loss can be traced to the site that caused it."""

    def __init__(self):
        super().__init__()
        self.names = {}  # an ordered set
        self.sites = []

    def postprocess_message(self, msg):
        if msg.type == "param":
            self.names[msg.name] = None
        elif msg.type == "sample":
            self.sites.append(msg)


class SVI:
    """Stochastic variational inference with ``model``, ``guide``, an optimizer and a loss.

    ``loss`` is a :class:`Trace_ELBO` (or any object with ``loss`` and ``loss_and_grads``), the old
    spelling ``"ELBO"`` (with ``num_particles=...`` as a keyword), or a function
    ``loss(model, guide, *args, **kwargs)`` returning a differentiable tensor.

    ``svi.loss_history`` holds the loss of every step so far; ``callback`` (or ``svi.add_callback``)
    is called as ``callback(step, loss)`` after each step, ``step`` counting from 1.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.optim import Adam
    >>> pyro.set_rng_seed(0); pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("z", dist.Normal(3.0, 1.0))
    >>> def guide():
    ...     pyro.sample("z", dist.Normal(pyro.param("loc", torch.tensor(0.0)), 1.0))
    >>> svi = SVI(model, guide, Adam({"lr": 0.1}), loss=Trace_ELBO())
    >>> for _ in range(300):
    ...     _ = svi.step()
    >>> abs(pyro.param("loc").item() - 3.0) < 0.5, len(svi.loss_history)
    (True, 300)
    """

    def __init__(self, model, guide, optim, loss=None, loss_and_grads=None, callback=None, **loss_kwargs):
        for role, fn in (("model", model), ("guide", guide)):
            if not callable(fn):
                raise TypeError(f"SVI: the {role} must be a callable stochastic function, got "
                                f"{type(fn).__name__} {fn!r}. Pass the function itself, not the result of calling it.")
        if not callable(optim):
            raise TypeError(
                f"SVI: optim must be a ppl_kernel.optim optimizer such as Adam({{'lr': 0.01}}), got "
                f"{type(optim).__name__} {optim!r}. (A torch.optim class goes through ppl_kernel.optim.PyroOptim.)"
            )
        self.model = model
        self.guide = guide
        self.optim = optim
        self.loss, self.loss_and_grads = _resolve_loss(loss, loss_and_grads, loss_kwargs)
        self.loss_history = []
        self.callbacks = [] if callback is None else [callback]
        self.skipped_steps = []  # steps whose loss or gradient was not finite: their update was not applied
        self._warned = set()

    def add_callback(self, callback):
        """Call ``callback(step, loss)`` after every step (e.g. to redraw a loss curve)."""
        self.callbacks.append(callback)
        return callback

    def step(self, *args, **kwargs):
        """One gradient step on every parameter the model and guide used; returns the loss (a float).

        A step whose loss or gradient is not finite (nan, inf) is skipped: no parameter changes, the step
        number goes to ``svi.skipped_steps``, and a :class:`SkippedStepWarning` names the sites whose value
        or log-probability was not finite (once per SVI for each set of culprits).
        """
        capture = _ParamCapture()
        with capture:
            loss = self.loss_and_grads(self.model, self.guide, *args, **kwargs)
        store = get_param_store()
        params = {name: store.get_unconstrained(name) for name in capture.names if name in store}
        loss = float(loss)
        bad_grads = _non_finite_grads(params) if math.isfinite(loss) else None
        if math.isfinite(loss) and not bad_grads:
            self.optim(params)
        else:  # an update from a nan or inf would write nan into the parameters, for good
            self.skipped_steps.append(len(self.loss_history) + 1)
            self._warn_skipped(loss, capture.sites, bad_grads if bad_grads is not None else _non_finite_grads(params))
        for p in params.values():
            p.grad = None
        self.loss_history.append(loss)
        for callback in self.callbacks:
            callback(len(self.loss_history), loss)
        return loss

    def _warn_skipped(self, loss, sites, bad_grads):
        culprits = _non_finite_sites(sites)
        key = tuple(culprits) or tuple(bad_grads)
        if key in self._warned:
            return  # said already for this SVI; svi.skipped_steps counts every skip
        self._warned.add(key)
        data = any("observed) has value" in c for c in culprits)
        if culprits:
            cause = "; ".join(culprits)
        elif bad_grads:
            cause = (f"every site's value and log-probability is finite, but the gradient of param "
                     f"{', '.join(repr(n) for n in bad_grads)} is not (e.g. a sqrt or log at 0 in the model or guide)")
        else:
            cause = "no site's value or log-probability was the cause (the loss function itself returned it)"
        warnings.warn(
            SkippedStepWarning(
                f"SVI step {len(self.loss_history) + 1}: {_subject(loss, self.model, self.guide)}, so the step was "
                f"skipped (no parameter changed; see svi.skipped_steps). Cause: {cause}. "
                + ("Check the data given to the model." if data else
                   "A parameter probably left its valid range (a scale reached 0, a probability left [0, 1]): give "
                   "it a constraint (param(..., constraint=constraints.positive)) or lower the learning rate.")
            ),
            stacklevel=3,
        )

    def evaluate_loss(self, *args, **kwargs):
        """The loss at the current parameters, with no gradient step (not added to the history)."""
        with torch.no_grad():
            return float(self.loss(self.model, self.guide, *args, **kwargs))

    def __repr__(self):
        return (f"SVI(model={model_name(self.model)}, guide={model_name(self.guide)}, optim={self.optim!r}, "
                f"steps={len(self.loss_history)})")


def _subject(loss, model, guide):
    who = f"model '{model_name(model)}' with guide '{model_name(guide)}'"
    if not math.isfinite(loss):
        return f"the loss of {who} is {loss}"
    return f"the loss of {who} is finite ({loss:.4g}) but its gradient is not"


def _non_finite_grads(params):
    return [name for name, p in params.items() if p.grad is not None and not bool(torch.isfinite(p.grad).all())]


def _non_finite_sites(sites):
    """What was not finite at each site of the step: its value, else its log-probability."""
    found = []
    with torch.no_grad():
        for site in sites:
            kind = "observed" if site.is_observed else "latent"
            label = f"site '{site.name}' ({type(site.fn).__name__}, {kind})"
            value = site.value
            if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
                found.append(f"{label} has value {_short(value)}")
                continue
            try:
                lp = site.log_prob
            except (ValueError, TypeError):
                continue  # an invalid parameter raises its own error when scored; not this report's business
            if torch.is_tensor(lp) and not bool(torch.isfinite(lp).all()):
                if type(site.fn) is Unit:
                    found.append(f"factor '{site.name}' is {_short(lp)}")
                else:
                    found.append(f"{label} has log-probability {_short(lp)} at value {_short(value)}")
    return list(dict.fromkeys(found))  # model and guide may report the same site alike


def _short(t):
    if not torch.is_tensor(t):
        return repr(t)
    if t.numel() == 1:
        return f"{t.item():g}"
    bad = t[~torch.isfinite(t)] if t.is_floating_point() else t[:0]
    if bad.numel() == 0:
        return f"a tensor of shape {tuple(t.shape)}"
    return f"a tensor of shape {tuple(t.shape)} with {bad.numel()} non-finite elements ({bad[0].item():g}, ...)"


def _resolve_loss(loss, loss_and_grads, loss_kwargs):
    """(loss(model, guide, ...) -> float, loss_and_grads(model, guide, ...) -> float) for SVI's ``loss``."""
    if isinstance(loss, str):
        if loss != "ELBO":
            raise ValueError(f"SVI: unknown loss {loss!r}; use loss=Trace_ELBO() (or the old spelling loss='ELBO')")
        unknown = set(loss_kwargs) - {"num_particles", "trace_graph", "enum_discrete"}
        if unknown:
            raise TypeError(f"SVI(loss='ELBO'): unknown keyword arguments {sorted(unknown)}; "
                            "the old spelling takes num_particles")
        for option in ("trace_graph", "enum_discrete"):
            if loss_kwargs.get(option):
                raise ValueError(
                    f"SVI(loss='ELBO', {option}=True) is not supported: Trace_ELBO already gives discrete sites "
                    f"an unbiased score-function gradient. Drop {option}= (optionally Trace_ELBO(baseline_beta=0.9) "
                    "to lower its variance)."
                )
        loss = Trace_ELBO(num_particles=loss_kwargs.get("num_particles", 1))
    elif loss_kwargs:
        raise TypeError(f"SVI: unexpected keyword arguments {sorted(loss_kwargs)}; give them to the loss, e.g. "
                        "SVI(model, guide, optim, loss=Trace_ELBO(num_particles=10))")
    if loss is None:
        raise TypeError("SVI needs a loss: SVI(model, guide, optim, loss=Trace_ELBO())")
    if hasattr(loss, "loss") and hasattr(loss, "loss_and_grads"):
        return loss.loss, (loss_and_grads or loss.loss_and_grads)
    if callable(loss):
        def loss_value(model, guide, *args, **kwargs):
            return _item(loss(model, guide, *args, **kwargs))

        def custom_loss_and_grads(model, guide, *args, **kwargs):
            value = loss(model, guide, *args, **kwargs)
            if torch.is_tensor(value) and value.requires_grad:
                value.backward()
            return _item(value)

        return loss_value, (loss_and_grads or custom_loss_and_grads)
    raise TypeError(f"SVI: loss must be Trace_ELBO(), 'ELBO' or a function loss(model, guide, *args), got {loss!r}")


def _item(value):
    return value.detach().item() if torch.is_tensor(value) else float(value)
