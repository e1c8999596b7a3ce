"""The weights a live view gives the runs as they come in: ``exp(log-weight - reference)``.

Only relative weights count, so each view keeps one reference log-weight (the largest of the first
runs) and weights every later run against it. A run far above it (``REBASE`` nats: its weight would
overflow a double) makes the view start over with that run's log-weight as the reference.

>>> import torch
>>> weights = LiveWeights()
>>> weights.take(torch.tensor([0.0, -1.0, -float("inf")]), torch.tensor([0.0, -1.0, -float("inf")]))
(array([1.        , 0.36787944, 0.        ]), False)
>>> weights.take(torch.tensor([700.0]), torch.tensor([0.0, -1.0, -float("inf"), 700.0]))[1]  # start over
True
"""

import torch

REBASE = 600.0  # a log-weight this far above the reference would overflow exp(): start over


class LiveWeights:
    """One reference log-weight per live view, and the relative weights of each new batch of runs."""

    def __init__(self):
        self.reference = None

    def take(self, new, every):
        """Relative weights (a numpy array) of the runs whose log-weights are ``new`` (a tensor), and
        whether the view must start over: then the weights are those of ``every`` run so far (the tensor
        of all log-weights, ``new`` at its end), against a reference that keeps each one finite."""
        finite = new[torch.isfinite(new)]
        restart = False
        if len(finite):
            top = float(finite.max())
            if self.reference is None:
                self.reference = top
            elif top - self.reference > REBASE:
                restart = True
                self.reference = float(every[torch.isfinite(every)].max())
                new = every
        reference = 0.0 if self.reference is None else self.reference
        weights = torch.exp(new.to(torch.float64) - reference)  # exp(-inf) = 0: impossible runs weigh nothing
        return weights.numpy(), restart
