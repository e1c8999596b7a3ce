"""Warmup adaptation of HMC's step size and mass matrix, as in Stan (and Pyro, NumPyro).

The step size follows Nesterov's *dual averaging* towards a target mean acceptance probability
(Hoffman & Gelman 2014, section 3.2). The inverse mass matrix is the regularised variance (or
covariance) of the chain's unconstrained positions, estimated in Stan's *windows*: a fast initial
buffer (step size only), slow windows that double in length (each ends by setting the mass matrix
and restarting dual averaging), and a fast terminal buffer.
"""

import math

import torch


class DualAveraging:
    """Nesterov dual averaging of ``log step_size``; ``update(accept_prob)`` after every iteration."""

    def __init__(self, step_size, target_accept_prob=0.8, gamma=0.05, t0=10.0, kappa=0.75):
        self.target, self.gamma, self.t0, self.kappa = target_accept_prob, gamma, t0, kappa
        self.reset(step_size)

    def reset(self, step_size):
        self.mu = math.log(10.0 * step_size)  # shrink towards a step ten times larger: bolder early moves
        self.t = 0
        self.h_bar = 0.0
        self.log_step = math.log(step_size)
        self.log_step_avg = 0.0

    def update(self, accept_prob):
        self.t += 1
        eta = 1.0 / (self.t + self.t0)
        self.h_bar = (1.0 - eta) * self.h_bar + eta * (self.target - accept_prob)
        self.log_step = self.mu - math.sqrt(self.t) / self.gamma * self.h_bar
        weight = self.t ** -self.kappa
        self.log_step_avg = weight * self.log_step + (1.0 - weight) * self.log_step_avg

    @property
    def step_size(self):
        """The step size to use in the next iteration of warmup."""
        return math.exp(self.log_step)

    @property
    def final_step_size(self):
        """The averaged step size, used after warmup."""
        return math.exp(self.log_step_avg)


class WelfordCovariance:
    """Running mean and (co)variance of positions (Welford's algorithm), regularised as Stan's."""

    def __init__(self, dense=False):
        self.dense = dense
        self.reset()

    def reset(self):
        self.n = 0
        self.mean = None
        self.m2 = None

    def update(self, z):
        self.n += 1
        if self.mean is None:
            self.mean = torch.zeros_like(z)
            self.m2 = torch.zeros(z.shape + z.shape, dtype=z.dtype, device=z.device) if self.dense else torch.zeros_like(z)
        delta = z - self.mean
        self.mean = self.mean + delta / self.n
        delta2 = z - self.mean
        self.m2 = self.m2 + (torch.outer(delta, delta2) if self.dense else delta * delta2)

    def inverse_mass_matrix(self):
        """The sample (co)variance shrunk towards ``1e-3 * I`` with weight ``5 / (n + 5)`` (Stan's choice)."""
        n = self.n
        cov = self.m2 / (n - 1)
        shrunk = cov * (n / (n + 5.0))
        if self.dense:
            eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
            return shrunk + 1e-3 * (5.0 / (n + 5.0)) * eye
        return shrunk + 1e-3 * (5.0 / (n + 5.0))


def adaptation_windows(warmup_steps, init_buffer=75, term_buffer=50, base_window=25):
    """The slow windows of a warmup, as ``(first, last)`` iterations (0-based): the mass matrix is
    estimated from the positions inside each and set at its last iteration.

    >>> adaptation_windows(1000)
    [(75, 99), (100, 149), (150, 249), (250, 449), (450, 949)]
    """
    if warmup_steps < 20:
        return []  # too short to estimate a mass matrix: adapt the step size only
    if init_buffer + base_window + term_buffer > warmup_steps:
        # Stan's fallback for short warmups: 15% / 75% / 10%.
        init_buffer = int(0.15 * warmup_steps)
        term_buffer = int(0.1 * warmup_steps)
        base_window = warmup_steps - init_buffer - term_buffer
    windows = []
    start, window = init_buffer, base_window
    last = warmup_steps - term_buffer
    while start < last:
        end = start + window
        if end + 2 * window > last:  # the next window would not fit: stretch this one to the buffer
            end = last
        windows.append((start, end - 1))
        start, window = end, 2 * window
    return windows


class MassMatrix:
    """The mass matrix ``M`` through its inverse (diagonal or dense): momenta, velocities, kinetic energy."""

    def __init__(self, inverse, dense):
        self.dense = dense
        self.inverse = inverse
        if dense:
            # M = inverse^-1; momenta are drawn as L eps with L L^T = M.
            self._mass_tril = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(inverse)))
        else:
            self._mass_sqrt = inverse.rsqrt()

    def sample_momentum(self):
        eps = torch.randn(self.inverse.shape[0], dtype=self.inverse.dtype, device=self.inverse.device)
        return self._mass_tril @ eps if self.dense else eps * self._mass_sqrt

    def velocity(self, r):
        return self.inverse @ r if self.dense else self.inverse * r

    def kinetic(self, r):
        return 0.5 * float(r @ self.velocity(r))
