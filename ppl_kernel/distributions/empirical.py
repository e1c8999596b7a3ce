"""``Empirical``: the distribution of a weighted set of samples (Pyro's ``dist.Empirical``)."""

import torch
from torch.distributions import Categorical, constraints

from .deferred import TorchDistributionMixin


class Empirical(TorchDistributionMixin, torch.distributions.Distribution):
    """Samples with log-weights: ``samples`` has the samples along its first dimension (the rest is the event
    shape) and ``log_weights`` one unnormalised log-weight per sample.

    >>> import torch, ppl_kernel.distributions as dist
    >>> d = dist.Empirical(torch.tensor([1.0, 2.0, 2.0, 5.0]), torch.zeros(4))
    >>> d.mean.item(), round(d.log_prob(torch.tensor(2.0)).exp().item(), 4)
    (2.5, 0.5)
    """

    arg_constraints = {}  # noqa: RUF012  (torch's class attribute)
    support = constraints.real
    has_enumerate_support = True

    def __init__(self, samples, log_weights, validate_args=None):
        if log_weights.dim() != 1:
            raise NotImplementedError(
                f"Empirical: log_weights must be one-dimensional (one per sample), got shape {tuple(log_weights.shape)}; "
                "batches of empirical distributions are not supported here: build one Empirical per batch element.")
        if samples.shape[:1] != log_weights.shape:
            raise ValueError(f"Empirical: {samples.shape[0] if samples.dim() else 0} samples but {log_weights.shape[0]} "
                             "log-weights; give one log-weight per sample (the samples along the first dimension).")
        self._samples = samples
        self._log_weights = log_weights
        self._categorical = Categorical(logits=log_weights)
        super().__init__(torch.Size(), samples.shape[1:], validate_args=False)

    @property
    def sample_size(self):
        return self._samples.shape[0]

    def sample(self, sample_shape=torch.Size()):
        return self._samples[self._categorical.sample(torch.Size(sample_shape))]

    def log_prob(self, value):
        """Log of the total normalised weight of the samples equal to ``value`` (-inf where none is)."""
        event_dims = len(self.event_shape)
        value = torch.as_tensor(value, dtype=self._samples.dtype, device=self._samples.device)
        batch = value.shape[:value.dim() - event_dims]
        flat = value.reshape((-1, 1) + self.event_shape)
        equal = flat == self._samples
        for _ in range(event_dims):
            equal = equal.all(-1)
        logits = self._categorical.logits  # normalised
        masked = torch.where(equal, logits, torch.full_like(logits, -torch.inf))
        return masked.logsumexp(-1).reshape(batch)

    def _weights(self):
        return self._categorical.probs.reshape((-1,) + (1,) * len(self.event_shape))

    @property
    def mean(self):
        return (self._weights() * self._samples).sum(0)

    @property
    def variance(self):
        return (self._weights() * (self._samples - self.mean) ** 2).sum(0)

    def enumerate_support(self, expand=True):
        return self._samples

    @property
    def log_weights(self):
        return self._log_weights

    def get_samples_and_weights(self):
        return self._samples, self._log_weights
