"""Stochastic variational inference: fit a guide's parameters by descending the loss (``-ELBO``).

Each ``svi.step(*args)`` runs the loss with gradients, hands every parameter that took part to
the optimizer, clears the gradients, and returns the loss. Every loss is also kept in
``svi.loss_history`` and passed to the callbacks, so a notebook can draw the loss curve live::

    svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO(), callback=lambda step, loss: plot(step, loss))
"""

import math
import warnings

import torch

from ..params import get_param_store
from ..runtime import Messenger, model_name
from .elbo import Trace_ELBO


class _ParamCapture(Messenger):
    """Notes the name of every ``param`` site of a run: those are the parameters one step updates."""

    def __init__(self):
        super().__init__()
        self.names = {}  # an ordered set

    def postprocess_message(self, msg):
        if msg.type == "param":
            self.names[msg.name] = None


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
        self._warned_nan = False

    def add_callback(self, callback):
        """Call ``callback(step, loss)`` after every step (e.g. to redraw a loss curve)."""
        self.callbacks.append(callback)
        return callback

    def step(self, *args, **kwargs):
        """One gradient step on every parameter the model and guide used; returns the loss (a float)."""
        capture = _ParamCapture()
        with capture:
            loss = self.loss_and_grads(self.model, self.guide, *args, **kwargs)
        store = get_param_store()
        params = {name: store.get_unconstrained(name) for name in capture.names if name in store}
        self.optim(params)
        for p in params.values():
            p.grad = None
        loss = float(loss)
        if math.isnan(loss) and not self._warned_nan:
            self._warned_nan = True
            warnings.warn(
                f"SVI step {len(self.loss_history) + 1}: the loss of model '{model_name(self.model)}' with guide "
                f"'{model_name(self.guide)}' is nan. A parameter probably left its valid range (a scale reached "
                "0, a probability left [0, 1]): give it a constraint (param(..., constraint=constraints.positive))"
                " or lower the learning rate.",
                stacklevel=2,
            )
        self.loss_history.append(loss)
        for callback in self.callbacks:
            callback(len(self.loss_history), loss)
        return loss

    def evaluate_loss(self, *args, **kwargs):
        """The loss at the current parameters, with no gradient step (not added to the history)."""
        with torch.no_grad():
            return float(self.loss(self.model, self.guide, *args, **kwargs))

    def __repr__(self):
        return (f"SVI(model={model_name(self.model)}, guide={model_name(self.guide)}, optim={self.optim!r}, "
                f"steps={len(self.loss_history)})")


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
