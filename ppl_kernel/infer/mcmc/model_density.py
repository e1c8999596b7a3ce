"""A model as HMC sees it: one flat vector of unconstrained reals and its potential energy.

Every latent sample site of a prototype run is mapped to the reals by ``biject_to(site.fn.support)``
(a positive scale by ``log``, a probability by ``logit``, a simplex by stick breaking), and the
sites' unconstrained values are packed into one 1-d tensor ``z``. The potential energy is
``U(z) = -log p(data, T(z)) - log |det J_T(z)|``: the model's log-joint at the constrained values
plus the Jacobian of the map, so that HMC on ``z`` samples the model's posterior.

Discrete sites marked ``infer={"enumerate": "parallel"}`` (``config_enumerate``) are summed out of the
log-joint exactly, as ``TraceEnum_ELBO`` does, and HMC moves the continuous sites of the marginal.
"""

import math

import torch
from torch.distributions import biject_to

from ...poutine.enum_messenger import EnumMessenger, EnumState
from ...poutine.trace_messenger import TraceMessenger
from ...runtime import Messenger, model_name
from ...errors import DiscreteLatentError, InferenceError


def _is_enumerated(site):
    return site.infer.get("enumerate") == "parallel" and getattr(site.fn, "has_enumerate_support", False)


def _is_latent(site):
    return site.type == "sample" and not site.is_observed and not site.done


class _Substitute(Messenger):
    """Give the latent sites their values and add up every sample site's log-probability."""

    def __init__(self, values, score=True):
        super().__init__()
        self.values = values
        self.log_joint = None
        if not score:
            self.postprocess_message = Messenger.postprocess_message.__get__(self)

    def process_message(self, msg):
        if msg.type == "sample" and not msg.is_observed:
            value = self.values.get(msg.name)
            if value is not None:
                msg.value = value

    def postprocess_message(self, msg):
        if msg.type == "sample" and not msg.infer.get("_deterministic"):
            lp = msg.log_prob_sum()
            self.log_joint = lp if self.log_joint is None else self.log_joint + lp


class ModelDensity:
    """The unconstrained parameterisation of ``model(*args, **kwargs)``'s latent sites.

    ``sites`` are the latent site names in run order; ``pack``/``unpack`` move between a dict of
    constrained values and the flat unconstrained vector; ``potential(z)`` is ``U(z)``.
    """

    def __init__(self, model, args=(), kwargs=None, transforms=None, max_plate_nesting=None):
        self.model = model
        self.args = args
        self.kwargs = {} if kwargs is None else kwargs
        tracer = TraceMessenger(model, calls=False)
        with torch.no_grad():
            tracer(*self.args, **self.kwargs)
        self.prototype = tracer.trace
        latent = [s for s in self.prototype.nodes.values() if _is_latent(s) and not s.infer.get("_deterministic")]
        self.enumerated = [s.name for s in latent if _is_enumerated(s)]
        latent = [s for s in latent if not _is_enumerated(s)]
        if max_plate_nesting is None:
            max_plate_nesting = max((-f.dim for s in self.prototype.nodes.values() for f in s.cond_indep_stack
                                     if f.dim is not None), default=0)
        self.max_plate_nesting = max_plate_nesting
        if not latent:
            raise InferenceError(
                f"model '{model_name(model)}' has no latent sample site for MCMC to move: every site is observed "
                "or fixed. Sample the unknowns with pyro.sample('name', dist.X(...)) without obs=."
            )
        self.transforms = {}
        self.shapes = {}  # name -> (constrained shape, unconstrained shape)
        for site in latent:
            self._check_continuous(site)
            transform = (transforms or {}).get(site.name) or biject_to(site.fn.support)
            value = site.value.detach()
            self.transforms[site.name] = transform
            self.shapes[site.name] = (value.shape, transform.inv(value).shape)
        self.sites = [s.name for s in latent]
        self.sizes = [max(1, int(torch.Size(self.shapes[n][1]).numel())) for n in self.sites]
        self.dim = sum(self.sizes)
        first = latent[0].value
        self.dtype = first.dtype if first.is_floating_point() else torch.get_default_dtype()
        self.device = first.device

    def _check_continuous(self, site):
        support = site.fn.support
        if support.is_discrete or getattr(site.fn, "has_enumerate_support", False):
            raise DiscreteLatentError(
                f"site '{site.name}' of model '{model_name(self.model)}' is discrete ({type(site.fn).__name__}): "
                "HMC and NUTS move continuous sites along gradients and cannot move it. Let them sum it out: "
                "mark it infer={'enumerate': 'parallel'} (or decorate the model with @config_enumerate), or write "
                "a mixture distribution (dist.MixtureSameFamily), or use MH(model, num_samples=...) or Importance, "
                "which handle discrete sites."
            )

    # ---- moving between the two spaces ----------------------------------------------------------
    def unpack(self, z):
        """``{name: unconstrained value}`` from the flat vector ``z`` (or a batch of them, ``z[..., dim]``)."""
        out = {}
        start = 0
        batch = z.shape[:-1]
        for name, size in zip(self.sites, self.sizes, strict=True):
            out[name] = z[..., start:start + size].reshape(batch + self.shapes[name][1])
            start += size
        return out

    def pack(self, constrained):
        """The flat unconstrained vector of a dict of constrained values."""
        parts = []
        for name in self.sites:
            value = constrained[name]
            value = value if torch.is_tensor(value) else torch.as_tensor(value, dtype=self.dtype, device=self.device)
            parts.append(self.transforms[name].inv(value.detach().to(self.dtype)).reshape(-1))
        return torch.cat(parts)

    def constrain(self, z):
        """``{name: constrained value}`` of the flat vector ``z`` (or of a batch of them)."""
        return {name: self.transforms[name](u) for name, u in self.unpack(z).items()}

    # ---- the energy ------------------------------------------------------------------------------
    def potential(self, z):
        """``U(z)``: minus the log-joint at the constrained values minus the log-Jacobian."""
        values = {}
        log_jacobian = None
        for name, u in self.unpack(z).items():
            transform = self.transforms[name]
            x = transform(u)
            values[name] = x
            lj = transform.log_abs_det_jacobian(u, x).sum()
            log_jacobian = lj if log_jacobian is None else log_jacobian + lj
        if self.enumerated:
            log_joint = self._marginal_log_joint(values)
        else:
            handler = _Substitute(values)
            with handler:
                self.model(*self.args, **self.kwargs)
            log_joint = handler.log_joint
        if log_joint is None:
            log_joint = torch.zeros((), dtype=z.dtype, device=z.device)
        return -(log_joint + log_jacobian)

    def _marginal_log_joint(self, values):
        """The log-joint at ``values`` with the enumerated sites summed out."""
        from ..traceenum_elbo import marginal_model_terms

        enum = EnumMessenger(self.model, state=EnumState(-1 - self.max_plate_nesting))
        tracer = TraceMessenger(enum, calls=False)
        with _Substitute(values, score=False):
            tracer(*self.args, **self.kwargs)
        terms = marginal_model_terms(tracer.trace, set(enum.enumerated), enum.dim_to_name, self.max_plate_nesting,
                                     self.model)[0]
        return sum(factor.tensor.sum() for factors in terms.values() for factor in factors)

    def potential_and_grad(self, z):
        """``(U(z) as a float, dU/dz)``; an energy that is not finite comes back as ``inf``."""
        z = z.detach().requires_grad_(True)
        energy = self.potential(z)
        value = energy.item()
        if not math.isfinite(value):
            return math.inf, torch.zeros_like(z)
        (grad,) = torch.autograd.grad(energy, z)
        return value, grad


class PotentialDensity(ModelDensity):
    """A user's ``potential_fn(params)`` (a dict of unconstrained tensors) as a density on a flat vector."""

    def __init__(self, potential_fn, initial_params):
        if not initial_params:
            raise InferenceError(
                "MCMC with a kernel built from potential_fn needs a starting point: MCMC(kernel, ..., "
                "initial_params={'name': tensor, ...}) with one (unconstrained) tensor per variable."
            )
        self.model = potential_fn
        self.potential_fn = potential_fn
        self.sites = list(initial_params)
        first = next(iter(initial_params.values()))
        self.transforms = {name: torch.distributions.transforms.identity_transform for name in self.sites}
        self.shapes = {name: (torch.as_tensor(v).shape,) * 2 for name, v in initial_params.items()}
        self.sizes = [max(1, int(self.shapes[n][1].numel())) for n in self.sites]
        self.dim = sum(self.sizes)
        self.dtype = first.dtype if torch.is_tensor(first) and first.is_floating_point() else torch.get_default_dtype()
        self.device = first.device if torch.is_tensor(first) else torch.device("cpu")

    def potential(self, z):
        return self.potential_fn(self.unpack(z))


def initialize_model(model, model_args=(), model_kwargs=None, transforms=None, max_plate_nesting=None,
                     jit_compile=False, jit_options=None, skip_jit_warnings=False, num_chains=1,
                     init_strategy=None, initial_params=None):
    """Pyro's helper: ``(initial_params, potential_fn, transforms, prototype_trace)`` of a model.

    ``initial_params`` and ``potential_fn`` are in the unconstrained space, keyed by site name, as in
    Pyro; ``potential_fn(params)`` is the potential energy (minus the log-joint with Jacobian).

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def model():
    ...     pyro.sample("s", dist.HalfNormal(1.0))
    >>> params, potential_fn, transforms, trace = initialize_model(model)
    >>> sorted(params), bool(torch.isfinite(potential_fn(params)))
    (['s'], True)
    """
    from .hmc import initial_point

    density = ModelDensity(model, model_args, model_kwargs, transforms)

    def potential_fn(params):
        return density.potential(torch.cat([params[name].reshape(-1) for name in density.sites]))

    if initial_params is not None:
        z = density.pack(initial_params)
        inits = [density.unpack(z) for _ in range(num_chains)]
    else:
        inits = [density.unpack(initial_point(density, init_strategy)) for _ in range(num_chains)]
    params = inits[0] if num_chains == 1 else {n: torch.stack([i[n] for i in inits]) for n in density.sites}
    return params, potential_fn, dict(density.transforms), density.prototype
