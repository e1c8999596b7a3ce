"""The No-U-Turn Sampler with multinomial sampling (Hoffman & Gelman 2014; Betancourt 2017), as Stan's.

Each iteration doubles a leapfrog trajectory forwards or backwards in time, at random, until the
path turns back on itself (the generalised U-turn criterion on the summed momenta) or the energy
error explodes (a *divergence*). The next state is drawn from the whole path with weights
``exp(-H)``: uniformly within each new subtree, and with a bias towards the newer half at the top
level (progressive sampling), which moves further per iteration than plain multinomial sampling.
"""

import math
import random

from .hmc import _MAX_DELTA_ENERGY, HMC


class _Tree:
    """A stretch of trajectory: its two ends, its chosen state, its log-weight and summed momentum."""

    __slots__ = ("z_left", "r_left", "g_left", "z_right", "r_right", "g_right", "z", "energy", "grad",
                 "log_weight", "r_sum", "turning", "diverging", "accept_sum", "size")


def _logaddexp(a, b):
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


class NUTS(HMC):
    """The No-U-Turn Sampler: HMC that picks its own path length (Pyro's and Stan's default sampler).

    Takes HMC's arguments plus ``max_tree_depth`` (at most ``2**max_tree_depth`` leapfrog steps per
    iteration). ``use_multinomial_sampling=False`` (slice sampling) is not offered.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import MCMC
    >>> pyro.set_rng_seed(0)
    >>> def model(data):
    ...     mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
    ...     with pyro.plate("data", len(data)):
    ...         pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)
    >>> mcmc = MCMC(NUTS(model), num_samples=100, warmup_steps=50)
    >>> mcmc.run(torch.tensor([4.0, 5.0, 6.0]))
    >>> abs(mcmc.get_samples()["mu"].mean().item() - 5.0) < 0.4  # posterior sd 0.58
    True
    """

    def __init__(self, model=None, potential_fn=None, step_size=1.0, adapt_step_size=True, adapt_mass_matrix=True,
                 full_mass=False, use_multinomial_sampling=True, transforms=None, max_plate_nesting=None,
                 jit_compile=False, jit_options=None, ignore_jit_warnings=False, target_accept_prob=0.8,
                 max_tree_depth=10, init_strategy=None):
        if not use_multinomial_sampling:
            raise ValueError("NUTS(use_multinomial_sampling=False): only multinomial sampling is implemented "
                             "(Stan's and Pyro's default); drop the argument.")
        kwargs = {} if init_strategy is None else {"init_strategy": init_strategy}
        super().__init__(model, potential_fn, step_size, adapt_step_size=adapt_step_size,
                         adapt_mass_matrix=adapt_mass_matrix, full_mass=full_mass, transforms=transforms,
                         target_accept_prob=target_accept_prob, max_plate_nesting=max_plate_nesting, **kwargs)
        self.max_tree_depth = int(max_tree_depth)
        self.tree_depths = []

    def _trajectory(self, r0):
        z0, g0, u0 = self.z, self.grad, self.potential_energy
        h0 = u0 + self.mass.kinetic(r0)
        tree = _Tree()
        tree.z_left = tree.z_right = tree.z = z0
        tree.r_left = tree.r_right = tree.r_sum = r0
        tree.g_left = tree.g_right = tree.grad = g0
        tree.energy = u0
        tree.log_weight = 0.0
        tree.accept_sum, tree.size = 0.0, 0
        diverging = False
        depth = 0
        for depth in range(self.max_tree_depth):  # noqa: B007  (the depth reached is recorded below)
            forward = random.random() < 0.5
            if forward:
                new = self._build(tree.z_right, tree.r_right, tree.g_right, 1.0, depth, h0)
            else:
                new = self._build(tree.z_left, tree.r_left, tree.g_left, -1.0, depth, h0)
            tree.accept_sum += new.accept_sum
            tree.size += new.size
            if new.diverging:
                diverging = True
            if new.turning or new.diverging:
                break
            # Progressive sampling: move to the new half with probability min(1, w_new / w_old).
            if random.random() < math.exp(min(0.0, new.log_weight - tree.log_weight)):
                tree.z, tree.energy, tree.grad = new.z, new.energy, new.grad
            tree.log_weight = _logaddexp(tree.log_weight, new.log_weight)
            if forward:
                tree.z_right, tree.r_right, tree.g_right = new.z_right, new.r_right, new.g_right
            else:
                tree.z_left, tree.r_left, tree.g_left = new.z_left, new.r_left, new.g_left
            tree.r_sum = tree.r_sum + new.r_sum
            if self._is_turning(tree.r_left, tree.r_right, tree.r_sum):
                break
        self.tree_depths.append(depth + 1)
        accept_prob = tree.accept_sum / tree.size if tree.size else 0.0
        return tree.z, tree.energy, tree.grad, accept_prob, diverging

    def _is_turning(self, r_left, r_right, r_sum):
        velocity = self.mass.velocity
        return float(velocity(r_left) @ r_sum) <= 0.0 or float(velocity(r_right) @ r_sum) <= 0.0

    def _build(self, z, r, grad, direction, depth, h0):
        """A subtree of ``2**depth`` leapfrog steps from ``(z, r)`` in ``direction`` (+1 or -1)."""
        if depth == 0:
            return self._leaf(z, r, grad, direction, h0)
        half = self._build(z, r, grad, direction, depth - 1, h0)
        if half.turning or half.diverging:
            return half
        if direction > 0:
            other = self._build(half.z_right, half.r_right, half.g_right, direction, depth - 1, h0)
        else:
            other = self._build(half.z_left, half.r_left, half.g_left, direction, depth - 1, h0)
        half.accept_sum += other.accept_sum
        half.size += other.size
        if other.turning or other.diverging:
            half.turning, half.diverging = other.turning, other.diverging
            return half
        log_weight = _logaddexp(half.log_weight, other.log_weight)
        # Within a subtree the state is drawn in proportion to the weights (uniform multinomial).
        if random.random() < math.exp(other.log_weight - log_weight):
            half.z, half.energy, half.grad = other.z, other.energy, other.grad
        half.log_weight = log_weight
        if direction > 0:
            half.z_right, half.r_right, half.g_right = other.z_right, other.r_right, other.g_right
        else:
            half.z_left, half.r_left, half.g_left = other.z_left, other.r_left, other.g_left
        half.r_sum = half.r_sum + other.r_sum
        half.turning = self._is_turning(half.r_left, half.r_right, half.r_sum)
        return half

    def _leaf(self, z, r, grad, direction, h0):
        z, r, energy, grad = self._leapfrog(z, r, grad, direction * self.step_size)
        h = energy + self.mass.kinetic(r) if math.isfinite(energy) else math.inf
        delta = h - h0
        if math.isnan(delta):
            delta = math.inf
        leaf = _Tree()
        leaf.z_left = leaf.z_right = leaf.z = z
        leaf.r_left = leaf.r_right = leaf.r_sum = r
        leaf.g_left = leaf.g_right = leaf.grad = grad
        leaf.energy = energy
        leaf.log_weight = -delta
        leaf.turning = False
        leaf.diverging = delta > _MAX_DELTA_ENERGY
        leaf.accept_sum = math.exp(min(0.0, -delta))
        leaf.size = 1
        return leaf
