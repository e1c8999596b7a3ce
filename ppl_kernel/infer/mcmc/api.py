"""``MCMC``: run a kernel (``NUTS``, ``HMC``) for some chains and read the draws, as in Pyro.

Chains run one after another in this process. Each draw after warmup is added to ``mcmc.store``
(the :class:`~ppl_kernel.infer.store.RunStore` every posterior keeps, weight 1, with its chain id), so
``EmpiricalMarginal(mcmc, "site")`` reads the draws and ``LiveProgress`` draws them as they come:
progress is reported through the same callback as every other algorithm (``progress(mcmc, done,
total)``, a few times a second, ``done`` counting iterations of all chains including warmup).
"""

import torch

from ...runtime import model_name
from ...settings import validation_suspended
from ...errors import InferenceError
from ..store import RunStore
from ..throttle import Throttle
from .diagnostics import effective_sample_size, format_summary, split_gelman_rubin
from .hmc import initial_point
from .model_density import ModelDensity, PotentialDensity

class MCMC:
    """Markov chain Monte Carlo with Pyro's interface.

    ``kernel`` is ``NUTS(model)`` or ``HMC(model)``; ``warmup_steps`` (default ``num_samples``)
    iterations adapt the kernel and are discarded; ``num_chains`` chains start from independent
    points (``initial_params``, a dict of constrained values, fixes the start). ``run(*args)`` runs
    the model with those arguments; ``get_samples()`` returns ``{site: tensor}`` and ``summary()``
    prints means, intervals, effective sample sizes and split R-hat, and the divergences.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import MCMC, NUTS
    >>> pyro.set_rng_seed(0)
    >>> def coin(flips):
    ...     p = pyro.sample("p", dist.Beta(1.0, 1.0))
    ...     with pyro.plate("flips", len(flips)):
    ...         pyro.sample("obs", dist.Bernoulli(p), obs=flips)
    >>> mcmc = MCMC(NUTS(coin), num_samples=150, warmup_steps=100, num_chains=2)
    >>> mcmc.run(torch.tensor([1.0, 1.0, 0.0, 1.0]))
    >>> mcmc.get_samples()["p"].shape, mcmc.get_samples(group_by_chain=True)["p"].shape
    (torch.Size([300]), torch.Size([2, 150]))
    >>> abs(mcmc.get_samples()["p"].mean().item() - 4 / 6) < 0.1  # posterior Beta(4, 2): mean 2/3, sd 0.18
    True
    """

    def __init__(self, kernel, num_samples, warmup_steps=None, initial_params=None, num_chains=1, hook_fn=None,
                 mp_context=None, disable_progbar=False, disable_validation=True, transforms=None, save_params=None,
                 progress=None):
        if int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"MCMC: num_samples must be a positive integer, got {num_samples!r}")
        if int(num_chains) != num_chains or num_chains < 1:
            raise ValueError(f"MCMC: num_chains must be a positive integer, got {num_chains!r}")
        self.kernel = kernel
        self.num_samples = int(num_samples)
        self.warmup_steps = self.num_samples if warmup_steps is None else int(warmup_steps)
        self.initial_params = initial_params
        self.num_chains = int(num_chains)
        self.hook_fn = hook_fn
        self.disable_validation = disable_validation
        self.transforms = transforms
        self.save_params = save_params
        self.progress = progress
        self.running = False
        self.partial = False
        self._stop_requested = False
        self._reset()

    @property
    def model(self):
        return self.kernel.model

    def _reset(self):
        self._draws = [[] for _ in range(self.num_chains)]  # flat unconstrained positions, per chain
        self._chain_stats = []
        self.store = RunStore()
        self.density = None

    # ---- running ---------------------------------------------------------------------------------
    def run(self, *args, **kwargs):
        """Run every chain on ``model(*args, **kwargs)``. Ctrl-C (or ``stop()``) keeps the draws so far."""
        self._reset()
        self.partial = False
        kernel = self.kernel
        self._args, self._kwargs = args, kwargs
        self._done = 0
        self._total = self.num_chains * (self.warmup_steps + self.num_samples)
        self.progress_throttle = Throttle()  # the one rule for how often a live view redraws, as every algorithm
        self.running = True
        try:
            self._report(0, force=True)  # before the density traces the model: a live view shows at once
            if kernel.model is not None:
                self.density = ModelDensity(kernel.model, args, kwargs, self.transforms or kernel.transforms,
                                            max_plate_nesting=kernel.max_plate_nesting)
            else:
                self.density = PotentialDensity(kernel.potential_fn, self.initial_params)
            if self.disable_validation:
                with validation_suspended():
                    self._run_chains()
            else:
                self._run_chains()
        except KeyboardInterrupt:
            self.partial = True
        self.running = False
        try:
            self._report(self._done, force=True)
        except KeyboardInterrupt:
            pass

    def _run_chains(self):
        kernel, density = self.kernel, self.density
        iterations = self.warmup_steps + self.num_samples
        for chain in range(self.num_chains):
            kernel.setup(density, self.warmup_steps, self._start(chain))
            try:
                for i in range(iterations):
                    z = kernel.step(i)
                    if i >= self.warmup_steps:
                        self._keep(chain, z.detach())
                    if self.hook_fn is not None:
                        stage = "Warmup" if i < self.warmup_steps else "Sample"
                        self.hook_fn(kernel, density.constrain(z.detach()), stage, i)
                    self._report(self._done + 1)
            finally:
                self._chain_stats.append({
                    "divergences": list(kernel.divergences),
                    "accept_prob": kernel.mean_accept_prob,
                    "step_size": kernel.step_size,
                })

    def _keep(self, chain, z):
        self._draws[chain].append(z)
        if self.kernel.model is not None:
            with torch.no_grad():
                values = self.density.constrain(z)
            self.store.add(values, 0.0, chain, self.density.prototype.nodes)

    def _start(self, chain):
        if self.initial_params is None:
            return initial_point(self.density, self.kernel.init_strategy)
        values = {}
        for name, value in self.initial_params.items():
            value = value if torch.is_tensor(value) else torch.as_tensor(value)
            if self.num_chains > 1 and name in self.density.shapes and value.dim() > len(self.density.shapes[name][0]):
                value = value[chain]  # one starting value per chain
            values[name] = value
        missing = [n for n in self.density.sites if n not in values]
        if missing:
            raise InferenceError(
                f"MCMC: initial_params has no value for site(s) {', '.join(map(repr, missing))} of model "
                f"'{model_name(self.model)}'; give every latent site ({', '.join(self.density.sites)}) or none."
            )
        return self.density.pack(values)

    def stop(self):
        """Ask a running ``run`` to stop after the current iteration (safe from another thread)."""
        self._stop_requested = True

    def _report(self, done, force=False):
        self._done = done
        if self._stop_requested:
            self._stop_requested = False
            raise KeyboardInterrupt
        if self.progress is None:
            return
        if force or self.progress_throttle.ready():
            self.progress_throttle.call(self.progress, self, done, self._total, scheduled=not force)

    # ---- reading ---------------------------------------------------------------------------------
    def _require_run(self):
        if self.density is None:
            raise InferenceError("MCMC: no draws yet; call mcmc.run(*model_args) first.")

    def get_samples(self, num_samples=None, group_by_chain=False):
        """``{site: draws}``: ``draws x ...`` (chains concatenated) or ``chains x draws x ...``.

        ``num_samples`` picks that many draws at random (without replacement) from all chains.
        """
        self._require_run()
        kept = min(len(d) for d in self._draws)
        if kept == 0:
            return {name: torch.empty((self.num_chains, 0) if group_by_chain else (0,)) for name in self.density.sites}
        z = torch.stack([torch.stack(d[:kept]) for d in self._draws])  # chains x draws x dim
        samples = self.density.constrain(z)
        if group_by_chain:
            return samples
        samples = {name: v.reshape((-1,) + v.shape[2:]) for name, v in samples.items()}
        if num_samples is not None:
            index = torch.randperm(kept * self.num_chains, device=z.device)[:num_samples]
            samples = {name: v[index] for name, v in samples.items()}
        return samples

    def diagnostics(self):
        """Per site ``{"n_eff", "r_hat"}``, and per chain the divergences and mean acceptance probability."""
        self._require_run()
        out = {}
        for name, value in self.get_samples(group_by_chain=True).items():
            if value.shape[1] < 4:
                continue
            out[name] = {"n_eff": effective_sample_size(value), "r_hat": split_gelman_rubin(value)}
        out["divergences"] = {f"chain {i}": s["divergences"] for i, s in enumerate(self._chain_stats)}
        out["acceptance rate"] = {f"chain {i}": s["accept_prob"] for i, s in enumerate(self._chain_stats)}
        return out

    @property
    def num_divergences(self):
        """Divergent transitions after warmup, all chains together."""
        return sum(len(s["divergences"]) for s in self._chain_stats)

    def format_summary(self, prob=0.9):
        """The text ``summary`` prints."""
        self._require_run()
        table = format_summary(self.get_samples(group_by_chain=True), prob=prob)
        text = f"{table}\n\nNumber of divergences: {self.num_divergences}"
        if self.num_divergences:
            text += ("\n  (divergent transitions mean the sampler could not follow the posterior's curvature "
                     "there: draws may be biased. Raise target_accept_prob, e.g. NUTS(model, "
                     "target_accept_prob=0.95), or reparameterise the model.)")
        if self.partial:
            text += "\n  (the run was stopped early: fewer draws than asked)"
        return text

    def summary(self, prob=0.9):
        """Print, per site element, mean, std, median, the ``prob`` HPD interval, n_eff and split R-hat."""
        print("\n" + self.format_summary(prob) + "\n")

    @property
    def chain_ids(self):
        """The chain of each stored draw."""
        return self.store.chain_id_list()

    @property
    def log_weights(self):
        """Every MCMC draw weighs the same (log-weight 0), one per stored draw."""
        return self.store.log_weight_list()

    def __repr__(self):
        draws = sum(len(d) for d in self._draws)
        return f"MCMC({self.kernel!r}, num_samples={self.num_samples}, num_chains={self.num_chains}, draws={draws})"
