"""``scale`` and ``mask``: weight or switch off sites' log-probabilities."""

import numbers

import torch

from ..errors import InvalidParameterError
from ..runtime import Messenger, handler_function


class ScaleMessenger(Messenger):
    """Multiply the log-probability of every sample site inside by ``scale`` (> 0).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))
    >>> round(poutine.trace(poutine.scale(model, scale=2.0)).get_trace()["x"].log_prob.item(), 4)
    -1.8379
    """

    def __init__(self, fn=None, scale=1.0):
        super().__init__(fn)
        if torch.is_tensor(scale):
            # A tensor scale is accepted as in Pyro: one weight per element of the sites' batch (it broadcasts).
            if scale.is_complex() or not bool((scale > 0).all()):
                raise InvalidParameterError(
                    f"poutine.scale: every element of the scale tensor must be a positive real number, got "
                    f"{scale if scale.numel() <= 6 else f'a tensor of shape {tuple(scale.shape)}'}. "
                    "To drop sites' log-probabilities, use poutine.mask instead of a zero scale."
                )
        elif not isinstance(scale, numbers.Real) or not scale > 0:
            raise InvalidParameterError(
                f"poutine.scale: scale must be a positive number or tensor, got {type(scale).__name__} {scale!r}. "
                "To drop sites' log-probabilities, use poutine.mask instead of a zero scale."
            )
        self.scale = scale

    def process_message(self, msg):
        if msg.type == "sample":
            msg.scale = self.scale * msg.scale


class MaskMessenger(Messenger):
    """Keep the log-probability only where ``mask`` is True (a bool or a bool tensor).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> def model():
    ...     with pyro.plate("data", 3):
    ...         pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.zeros(3))
    >>> keep = torch.tensor([True, False, True])
    >>> poutine.trace(poutine.mask(model, mask=keep)).get_trace()["y"].log_prob.tolist()[1]
    0.0
    """

    def __init__(self, fn=None, mask=True):
        super().__init__(fn)
        if not isinstance(mask, bool) and not (torch.is_tensor(mask) and mask.dtype == torch.bool):
            raise TypeError(f"mask must be a bool or a bool tensor, got {type(mask).__name__}")
        self.mask = mask

    def process_message(self, msg):
        if msg.type != "sample":
            return
        if msg.mask is None or msg.mask is True:
            msg.mask = self.mask
        elif msg.mask is not False:
            msg.mask = msg.mask & self.mask if self.mask is not True else msg.mask


@handler_function(ScaleMessenger)
def scale(fn=None, scale=1.0):
    return ScaleMessenger(fn, scale=scale)


@handler_function(MaskMessenger)
def mask(fn=None, mask=True):
    return MaskMessenger(fn, mask=mask)
