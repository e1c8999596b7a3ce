"""The evidence lower bound (ELBO) and its gradient estimator, ``Trace_ELBO``.

For a model ``p(x, z)`` and a guide ``q(z)``, ``ELBO = E_q[log p(x, z) - log q(z)]``; SVI
minimises ``-ELBO``. One *particle* runs the guide (drawing ``z``), replays the model against
it, and scores both runs. The gradient is estimated per guide site:

- a site whose distribution can ``rsample`` (Normal, Beta, ...) contributes by the *pathwise*
  gradient: autograd differentiates through the drawn value;
- a site that cannot (Bernoulli, Categorical, ...) contributes by the *score function*
  (REINFORCE): ``grad log q(z) * (cost - baseline)``, where the cost is the detached
  ``log p - log q`` of the sites not independent of it (plates are respected, as in Pyro), and the
  optional baseline is a decaying average of earlier costs, which lowers the variance without
  adding bias.
"""

import warnings

import torch

from ..errors import GuideError
from ..poutine.replay_messenger import ReplayMessenger
from ..poutine.trace_messenger import TraceMessenger
from ..primitives import plate
from ..runtime import model_name


def check_model_guide_match(model_trace, guide_trace, model, guide):
    """Raise :class:`GuideError` if the guide samples a site the model lacks or observes.

    Guide sites marked ``infer={"is_auxiliary": True}`` are the guide's own helpers and need no
    model site. Returns the names of the model's latent sites the guide does not cover.
    """
    model_nodes = model_trace.nodes
    for name, site in guide_trace.nodes.items():
        if not site.is_latent or site.infer.get("is_auxiliary"):
            continue
        model_site = model_nodes.get(name)
        if model_site is None or model_site.type != "sample":
            latent = [n for n, s in model_nodes.items() if s.is_latent]
            raise GuideError(
                f"guide '{model_name(guide)}' samples site '{name}', but model '{model_name(model)}' has no "
                f"sample site of that name (its latent sites: {', '.join(latent) or 'none'}). Rename the "
                f"guide's site to match the model's, or mark it infer={{'is_auxiliary': True}} if it is a "
                "helper variable of the guide only."
            )
        if model_site.is_observed:
            raise GuideError(
                f"guide '{model_name(guide)}' samples site '{name}', which model '{model_name(model)}' "
                f"observes (its value is data there). A guide proposes only the model's latent sites: remove "
                f"'{name}' from the guide."
            )
        model_event, guide_event = _event_dim(model_site.fn), _event_dim(site.fn)
        if model_event is not None and guide_event is not None and model_event != guide_event:
            raise GuideError(
                f"Model and guide event_dims disagree at site '{name}': model '{model_name(model)}' has "
                f"{model_event} event dims ({type(model_site.fn).__name__}, event shape "
                f"{tuple(model_site.fn.event_shape)}), guide '{model_name(guide)}' has {guide_event} "
                f"({type(site.fn).__name__}, event shape {tuple(site.fn.event_shape)}). Make them agree, e.g. "
                ".to_event(1) on the one whose vector is a batch, or a plate around both."
            )
    return [n for n, s in model_nodes.items()
            if s.is_latent and n not in guide_trace.nodes]


def _event_dim(fn):
    try:
        return len(fn.event_shape)
    except (AttributeError, TypeError, NotImplementedError):  # not a distribution object
        return None


class _Frames:
    """Detached log-probability terms grouped by the vectorized plates they sit in (Pyro's MultiFrameTensor).

    ``sum_to(frames)`` gives, for a site in ``frames``, the part of the cost it can influence:
    terms in plates the site is not in are summed over those plates, so elements of one plate are
    charged only for their own log-probability, not for their independent neighbours'.
    """

    def __init__(self):
        self.terms = {}

    def add(self, cond_indep_stack, value):
        frames = frozenset(f for f in cond_indep_stack if f.dim is not None)
        old = self.terms.get(frames)
        self.terms[frames] = value if old is None else old + value

    def sum_to(self, cond_indep_stack):
        target = frozenset(f for f in cond_indep_stack if f.dim is not None)
        total = 0.0
        for frames, value in self.terms.items():
            for f in frames - target:
                if value.dim() >= -f.dim and value.shape[f.dim] != 1:
                    value = value.sum(f.dim, keepdim=True)
            while value.dim() and value.shape[0] == 1:
                value = value.squeeze(0)
            total = total + value
        return total


class Trace_ELBO:
    """``-ELBO`` estimated from ``num_particles`` runs of the guide, with gradients for SVI.

    Reparameterizable guide sites get the pathwise gradient, the others the score-function
    gradient. ``baseline_beta`` (e.g. 0.9) subtracts a decaying average of earlier costs from each
    score-function site's cost (also settable per site, as in Pyro:
    ``infer={"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.95}}``).
    ``vectorize_particles=True`` draws all particles at once in an extra plate at dimension
    ``-max_plate_nesting - 1`` (guessed from one run if not given).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("z", dist.Normal(0.0, 1.0))
    >>> def guide():
    ...     pyro.sample("z", dist.Normal(pyro.param("loc", torch.tensor(0.0)), 1.0))
    >>> abs(Trace_ELBO().loss(model, guide)) < 1e-6  # q equals p: the bound is tight (up to float rounding)
    True
    """

    def __init__(self, num_particles=1, baseline_beta=None, vectorize_particles=False, max_plate_nesting=None):
        if int(num_particles) != num_particles or num_particles < 1:
            raise ValueError(f"Trace_ELBO: num_particles must be a positive integer, got {num_particles!r}")
        if baseline_beta is not None and not 0.0 <= baseline_beta < 1.0:
            raise ValueError(f"Trace_ELBO: baseline_beta must be in [0, 1), got {baseline_beta!r}")
        self.num_particles = int(num_particles)
        self.baseline_beta = baseline_beta
        self.vectorize_particles = bool(vectorize_particles)
        self.max_plate_nesting = max_plate_nesting
        self._baselines = {}  # site name -> decaying average of its cost
        self._warned_unguided = set()

    # ---- running model and guide ----------------------------------------------------------------
    def _get_trace(self, model, guide, args, kwargs):
        """One guide run and the model replayed against it (vectorized over particles if asked)."""
        if self.vectorize_particles:
            if self.max_plate_nesting is None:
                self.max_plate_nesting = _guess_max_plate_nesting(model, guide, args, kwargs)
            particles = plate("num_particles_vectorized", self.num_particles, dim=-self.max_plate_nesting - 1)
            model, guide = _in_plate(model, particles), _in_plate(guide, particles)
        guide_tracer = TraceMessenger(guide, calls=False)
        guide_tracer(*args, **kwargs)
        guide_trace = guide_tracer.trace
        model_tracer = TraceMessenger(ReplayMessenger(model, trace=guide_trace), calls=False)
        model_tracer(*args, **kwargs)
        model_trace = model_tracer.trace
        unguided = check_model_guide_match(model_trace, guide_trace, model, guide)
        if unguided:
            self._warn_unguided(unguided, model, guide)
        return model_trace, guide_trace

    def _warn_unguided(self, names, model, guide):
        new = [n for n in names if n not in self._warned_unguided]
        if new:
            self._warned_unguided.update(new)
            warnings.warn(
                f"model '{model_name(model)}' samples {', '.join(repr(n) for n in new)}, which guide "
                f"'{model_name(guide)}' does not: they are drawn from the model's prior in every step and "
                "nothing learns them. Add them to the guide if they should be inferred.",
                stacklevel=4,
            )

    def _traces(self, model, guide, args, kwargs):
        if self.vectorize_particles:
            yield self._get_trace(model, guide, args, kwargs)
        else:
            for _ in range(self.num_particles):
                yield self._get_trace(model, guide, args, kwargs)

    # ---- the estimator --------------------------------------------------------------------------
    def _particle(self, model_trace, guide_trace, with_surrogate=True):
        """(ELBO of this particle, surrogate whose gradient estimates the ELBO's gradient)."""
        # Sums start from the first term, not from 0.0: every extra add is one more autograd node.
        model_lp = None
        for site in model_trace.nodes.values():
            if site.type == "sample" and site.kind != "deterministic":
                lp = site.log_prob_sum()
                model_lp = lp if model_lp is None else model_lp + lp
        reparam_lp = score_lp = None
        score_sites = None
        for site in guide_trace.nodes.values():
            if not site.is_latent:
                continue
            lp = site.log_prob_sum()
            if site.fn.has_rsample:
                reparam_lp = lp if reparam_lp is None else reparam_lp + lp
            else:
                score_lp = lp if score_lp is None else score_lp + lp
                score_sites = [site] if score_sites is None else score_sites + [site]
        surrogate = model_lp if reparam_lp is None else (reparam_lp.neg() if model_lp is None else model_lp - reparam_lp)
        if score_sites is None:
            # No sample site at all (a model of params only): the ELBO is 0, as in Pyro.
            return (0.0 if surrogate is None else surrogate), surrogate
        elbo = surrogate.detach() - score_lp.detach() if surrogate is not None else -score_lp.detach()
        if with_surrogate:
            # The score terms replace the sites' own -log q terms, whose expected gradient is zero.
            score = self._score_terms(model_trace, guide_trace, score_sites)
            surrogate = score if surrogate is None else surrogate + score
        return elbo, surrogate

    def _score_terms(self, model_trace, guide_trace, score_sites):
        log_r = _Frames()
        for site in model_trace.nodes.values():
            if site.type == "sample" and site.kind != "deterministic":
                log_r.add(site.cond_indep_stack, site.log_prob.detach())
        for site in guide_trace.nodes.values():
            if site.is_latent:
                log_r.add(site.cond_indep_stack, -site.log_prob.detach())
        total = 0.0
        for site in score_sites:
            cost = log_r.sum_to(site.cond_indep_stack)
            cost = cost - self._baseline(site, cost) if torch.is_tensor(cost) else cost
            total = total + (site.log_prob * cost).sum()
        return total

    def _baseline(self, site, cost):
        """A decaying average of this site's earlier costs: independent of the current draw, so unbiased."""
        beta = self.baseline_beta
        options = site.infer.get("baseline")
        if options is not None:
            if options.get("use_decaying_avg_baseline"):
                beta = options.get("baseline_beta", 0.90)
            elif "baseline_value" in options:
                return options["baseline_value"]
        if beta is None:
            return 0.0
        old = self._baselines.get(site.name)
        new = cost.detach().mean().item()
        self._baselines[site.name] = new if old is None else beta * old + (1.0 - beta) * new
        return 0.0 if old is None else old

    # ---- the public interface (Pyro's) -----------------------------------------------------------
    def loss(self, model, guide, *args, **kwargs):
        """The estimate of ``-ELBO`` (a float), without gradients."""
        with torch.no_grad():
            elbo = 0.0
            for model_trace, guide_trace in self._traces(model, guide, args, kwargs):
                elbo = elbo + _item(self._particle(model_trace, guide_trace, with_surrogate=False)[0])
        return -elbo / self.num_particles

    def _sum_particles(self, model, guide, args, kwargs):
        elbo, surrogate = 0.0, None
        for model_trace, guide_trace in self._traces(model, guide, args, kwargs):
            particle_elbo, particle_surrogate = self._particle(model_trace, guide_trace)
            elbo += _item(particle_elbo)
            if particle_surrogate is not None:
                surrogate = particle_surrogate if surrogate is None else surrogate + particle_surrogate
        return elbo, surrogate

    def differentiable_loss(self, model, guide, *args, **kwargs):
        """``-ELBO`` as a tensor whose gradient estimates that of ``-ELBO`` (pathwise and score-function terms)."""
        elbo, surrogate = self._sum_particles(model, guide, args, kwargs)
        loss = -elbo / self.num_particles
        if surrogate is None:  # nothing was sampled or observed
            return torch.tensor(loss)
        surrogate = surrogate * (-1.0 / self.num_particles)
        # The value is the loss itself (as Pyro's): score-function terms change only the gradient.
        return surrogate + (loss - surrogate.detach())

    def loss_and_grads(self, model, guide, *args, **kwargs):
        """Estimate ``-ELBO`` (returned as a float) and add its gradient to every parameter's ``.grad``."""
        elbo, surrogate = self._sum_particles(model, guide, args, kwargs)
        if surrogate is not None and surrogate.requires_grad:
            (surrogate * (-1.0 / self.num_particles)).backward()
        return -elbo / self.num_particles

    def __call__(self, model, guide, *args, **kwargs):
        return self.differentiable_loss(model, guide, *args, **kwargs)

    def __repr__(self):
        return f"Trace_ELBO(num_particles={self.num_particles})"


def _item(x):
    return x.detach().item() if torch.is_tensor(x) else float(x)


def _in_plate(fn, particles):
    def run_in_plate(*args, **kwargs):
        with particles:
            return fn(*args, **kwargs)

    run_in_plate.__name__ = run_in_plate.__qualname__ = model_name(fn)
    return run_in_plate


def _guess_max_plate_nesting(model, guide, args, kwargs):
    """How many plate dimensions model and guide use, read from one run of each (no gradients)."""
    with torch.no_grad():
        guide_tracer = TraceMessenger(guide, calls=False)
        guide_tracer(*args, **kwargs)
        model_tracer = TraceMessenger(ReplayMessenger(model, trace=guide_tracer.trace), calls=False)
        model_tracer(*args, **kwargs)
    deepest = 0
    for trace in (guide_tracer.trace, model_tracer.trace):
        for site in trace.nodes.values():
            for frame in site.cond_indep_stack:
                if frame.dim is not None:
                    deepest = max(deepest, -frame.dim)
    return deepest


