"""Point-mass distributions torch lacks: ``Delta`` (a fixed value) and ``Unit`` (a bare log-weight).

``factor`` and ``deterministic`` are built on them, as in Pyro.
"""

import torch
from torch.distributions import constraints

from .deferred import TorchDistributionMixin, deferred_class


class Delta(TorchDistributionMixin, torch.distributions.Distribution):
    """All mass on ``v``; ``log_density`` is added to its log-probability.

    >>> import ppl_kernel.distributions as dist
    >>> d = dist.Delta(torch.tensor(3.0))
    >>> d.sample().item(), d.log_prob(torch.tensor(3.0)).item()
    (3.0, 0.0)
    """

    arg_constraints = {"v": constraints.real, "log_density": constraints.real}
    has_rsample = True
    support = constraints.real

    def __init__(self, v, log_density=0.0, event_dim=0, validate_args=None):
        v = torch.as_tensor(v, dtype=torch.get_default_dtype()) if not torch.is_tensor(v) else v
        if event_dim > v.dim():
            raise ValueError(f"Delta: event_dim {event_dim} is larger than v.dim() = {v.dim()}")
        split = v.dim() - event_dim
        self.v = v
        self.log_density = torch.as_tensor(log_density, dtype=v.dtype, device=v.device)
        super().__init__(v.shape[:split], v.shape[split:], validate_args=False)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Delta, _instance)
        batch_shape = torch.Size(batch_shape)
        new.v = self.v.expand(batch_shape + self.event_shape)
        new.log_density = self.log_density.expand(batch_shape) if self.log_density.dim() else self.log_density
        torch.distributions.Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        return new

    def rsample(self, sample_shape=torch.Size()):
        return self.v.expand(torch.Size(sample_shape) + self.v.shape)

    def log_prob(self, value):
        value = torch.as_tensor(value, dtype=self.v.dtype, device=self.v.device)
        eq = value == self.v
        for _ in range(len(self.event_shape)):
            eq = eq.all(-1)
        zero, ninf = torch.zeros((), dtype=self.v.dtype, device=self.v.device), -torch.inf
        return torch.where(eq, zero, torch.full_like(zero, ninf)) + self.log_density

    @property
    def mean(self):
        return self.v

    @property
    def variance(self):
        return torch.zeros_like(self.v)


class Unit(TorchDistributionMixin, torch.distributions.Distribution):
    """A distribution over the empty value with log-probability ``log_factor``: what ``factor`` scores."""

    arg_constraints = {"log_factor": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, log_factor, validate_args=None):
        if not torch.is_tensor(log_factor):
            log_factor = torch.tensor(float(log_factor), dtype=torch.get_default_dtype())
        self.log_factor = log_factor
        super().__init__(log_factor.shape, torch.Size((0,)), validate_args=False)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Unit, _instance)
        new.log_factor = self.log_factor.expand(batch_shape)
        torch.distributions.Distribution.__init__(new, torch.Size(batch_shape), self.event_shape, validate_args=False)
        return new

    def rsample(self, sample_shape=torch.Size()):
        return self.log_factor.new_empty(torch.Size(sample_shape) + self.batch_shape + self.event_shape)

    def log_prob(self, value):
        return self.log_factor.expand(value.shape[: value.dim() - 1]) if value.dim() > 1 else self.log_factor


# Every factor statement makes a Unit: construct it on first use only (scoring.py scores a number-valued
# factor straight from its argument).
Unit = deferred_class(Unit)
