"""Hamiltonian Monte Carlo on a model's unconstrained space, with Stan's warmup adaptation.

A kernel holds one chain's state: the position ``z`` (a flat tensor, see ``model_density.py``),
its potential energy and gradient, the step size and the mass matrix. ``MCMC`` calls
``setup`` once per chain and ``step`` once per iteration; ``step`` adapts during warmup.
:class:`HMC` integrates a fixed trajectory length and accepts by Metropolis; ``NUTS``
(``nuts.py``) overrides ``_trajectory`` to choose the length itself.
"""

import math
import random

import torch

from ...runtime import model_name
from ..autoguide.initialization import init_to_uniform
from ...errors import InferenceError
from .adaptation import DualAveraging, MassMatrix, WelfordCovariance, adaptation_windows

_MAX_DELTA_ENERGY = 1000.0  # an energy error above this is a divergence (Stan's and Pyro's threshold)


def initial_point(density, init_strategy=None, tries=100):
    """A flat unconstrained starting point with a finite potential and gradient (``init_strategy(site)``
    gives each latent site's constrained value; Pyro's default draws uniformly in (-2, 2) unconstrained)."""
    strategy = init_to_uniform if init_strategy is None else init_strategy
    prototype = density.prototype.nodes
    for _ in range(tries):
        z = density.pack({name: strategy(prototype[name]) for name in density.sites})
        energy, grad = density.potential_and_grad(z)
        if math.isfinite(energy) and bool(torch.isfinite(grad).all()):
            return z
    raise InferenceError(
        f"MCMC on model '{model_name(density.model)}': no starting point with a finite log-density in {tries} tries "
        f"of {getattr(strategy, '__name__', strategy)}. Give one: MCMC(kernel, ..., initial_params={{'site': value}}) "
        "or NUTS(model, init_strategy=init_to_value(values={...})), and check that the data are possible under the model."
    )


class HMC:
    """Hamiltonian Monte Carlo with Pyro's arguments.

    ``step_size`` is the initial leapfrog step (adapted during warmup by dual averaging towards
    ``target_accept_prob`` when ``adapt_step_size``); ``trajectory_length`` (default ``2 pi``) or
    ``num_steps`` fixes the path length; ``adapt_mass_matrix`` estimates a diagonal mass matrix, or a
    dense one with ``full_mass=True``. Constrained sites are sampled on the reals through
    ``biject_to`` (``transforms`` overrides it per site).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import MCMC
    >>> pyro.set_rng_seed(0)
    >>> def model():
    ...     pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> mcmc = MCMC(HMC(model, num_steps=5), num_samples=100, warmup_steps=50)
    >>> mcmc.run()
    >>> abs(mcmc.get_samples()["x"].mean().item()) < 0.5
    True
    """

    def __init__(self, model=None, potential_fn=None, step_size=1.0, trajectory_length=None, num_steps=None,
                 adapt_step_size=True, adapt_mass_matrix=True, full_mass=False, transforms=None,
                 max_plate_nesting=None, jit_compile=False, jit_options=None, ignore_jit_warnings=False,
                 target_accept_prob=0.8, init_strategy=init_to_uniform):
        if (model is None) == (potential_fn is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of model= (a stochastic function) and "
                             "potential_fn= (a function of a dict of unconstrained tensors).")
        if not 0.0 < target_accept_prob < 1.0:
            raise ValueError(f"{type(self).__name__}: target_accept_prob must be in (0, 1), got {target_accept_prob}")
        self.model = model
        self.potential_fn = potential_fn
        self.initial_step_size = float(step_size)
        self.trajectory_length = trajectory_length
        self.num_steps = num_steps
        self.adapt_step_size = adapt_step_size
        self.adapt_mass_matrix = adapt_mass_matrix
        self.full_mass = full_mass
        self.transforms = transforms
        self.target_accept_prob = target_accept_prob
        self.init_strategy = init_strategy
        self.max_plate_nesting = max_plate_nesting  # enumerated discrete sites use the dims left of the plates
        if trajectory_length is None and num_steps is None:
            self.trajectory_length = 2 * math.pi  # Pyro's default

    # ---- a chain's life -------------------------------------------------------------------------
    def setup(self, density, warmup_steps, z):
        """Start a chain at ``z`` (flat, unconstrained) with ``warmup_steps`` of adaptation ahead."""
        self.density = density
        self.warmup_steps = warmup_steps
        self.z = z
        self.potential_energy, self.grad = density.potential_and_grad(z)
        dim = z.shape[0]
        ones = torch.ones(dim, dtype=z.dtype, device=z.device)
        self.mass = MassMatrix(torch.diag(ones) if self.full_mass else ones, self.full_mass)
        self.step_size = self.initial_step_size
        if self.adapt_step_size and warmup_steps > 0:
            self.step_size = self._find_reasonable_step_size()
        self._averaging = DualAveraging(self.step_size, self.target_accept_prob)
        self._windows = adaptation_windows(warmup_steps) if self.adapt_mass_matrix else []
        self._welford = WelfordCovariance(dense=self.full_mass)
        self.divergences = []  # post-warmup iterations that diverged
        self.accept_prob_sum = 0.0
        self.iterations = 0

    def step(self, iteration):
        """One iteration (adapting while ``iteration < warmup_steps``); returns the new position."""
        r = self.mass.sample_momentum()
        z, energy, grad, accept_prob, diverging = self._trajectory(r)
        self.z, self.potential_energy, self.grad = z, energy, grad
        warmup = iteration < self.warmup_steps
        if warmup:
            self._adapt(iteration, accept_prob)
        else:
            self.iterations += 1
            self.accept_prob_sum += accept_prob
            if diverging:
                self.divergences.append(iteration - self.warmup_steps)
        return z

    def _adapt(self, iteration, accept_prob):
        if self.adapt_step_size:
            self._averaging.update(accept_prob)
            self.step_size = self._averaging.step_size
        for first, last in self._windows:
            if first <= iteration <= last:
                self._welford.update(self.z)
                if iteration == last:
                    self.mass = MassMatrix(self._welford.inverse_mass_matrix(), self.full_mass)
                    self._welford.reset()
                    if self.adapt_step_size:
                        self.step_size = self._find_reasonable_step_size()
                        self._averaging.reset(self.step_size)
                break
        if iteration == self.warmup_steps - 1 and self.adapt_step_size:
            self.step_size = self._averaging.final_step_size

    # ---- dynamics -------------------------------------------------------------------------------
    def _leapfrog(self, z, r, grad, step_size):
        r = r - (0.5 * step_size) * grad
        z = z + step_size * self.mass.velocity(r)
        energy, grad = self.density.potential_and_grad(z)
        r = r - (0.5 * step_size) * grad
        return z, r, energy, grad

    def _trajectory(self, r):
        """Integrate a fixed-length path and accept its end by Metropolis."""
        num_steps = self.num_steps or max(1, int(self.trajectory_length / self.step_size))
        h0 = self.potential_energy + self.mass.kinetic(r)
        z, grad, energy = self.z, self.grad, self.potential_energy
        for _ in range(num_steps):
            z, r, energy, grad = self._leapfrog(z, r, grad, self.step_size)
            if not math.isfinite(energy):
                break
        h1 = energy + self.mass.kinetic(r) if math.isfinite(energy) else math.inf
        delta = h1 - h0
        if math.isnan(delta):
            delta = math.inf
        accept_prob = math.exp(min(0.0, -delta))
        diverging = delta > _MAX_DELTA_ENERGY
        if random.random() < accept_prob:
            return z, energy, grad, accept_prob, diverging
        return self.z, self.potential_energy, self.grad, accept_prob, diverging

    def _find_reasonable_step_size(self):
        """Double or halve the step until one leapfrog's acceptance crosses 0.8 (Hoffman & Gelman, alg. 4)."""
        step_size = self.step_size
        threshold = math.log(0.8)
        r = self.mass.sample_momentum()
        h0 = self.potential_energy + self.mass.kinetic(r)

        def log_accept(step):
            _, r1, energy, _ = self._leapfrog(self.z, r, self.grad, step)
            if not math.isfinite(energy):
                return -math.inf
            value = h0 - (energy + self.mass.kinetic(r1))
            return -math.inf if math.isnan(value) else value

        direction = 1 if log_accept(step_size) > threshold else -1
        for _ in range(100):
            step_size = step_size * (2.0 ** direction)
            if not 1e-10 < step_size < 1e10:
                break
            new_direction = 1 if log_accept(step_size) > threshold else -1
            if new_direction != direction:
                break
        return min(max(step_size, 1e-10), 1e10)

    @property
    def mean_accept_prob(self):
        return self.accept_prob_sum / self.iterations if self.iterations else float("nan")

    def __repr__(self):
        return f"{type(self).__name__}(model={model_name(self.model) if self.model is not None else None})"
