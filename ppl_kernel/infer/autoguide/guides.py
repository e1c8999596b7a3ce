"""Automatic guides: a guide built from one run of the model, for its continuous latent sites.

The first call runs the model once (hidden from every other handler, without gradients) to learn
its latent sites: shape, support and the plates each sits in. Each later call samples those sites
inside the same plates, from a family whose parameters live in the parameter store under the
guide's prefix (``AutoNormal.locs.weight``, ...). Constrained sites (a positive scale, a
probability) are modelled in unconstrained space and mapped through ``biject_to(support)``.

Plates are recreated with the sizes seen in that first run; a subsampled plate is not supported.
"""

import contextlib

import torch
from torch.distributions import biject_to, constraints
from torch.distributions.transforms import ComposeTransform, IndependentTransform

from torch.distributions import Independent, MultivariateNormal, Normal, TransformedDistribution

from ...distributions import Delta
from ...params import get_param_store
from ...poutine.block_messenger import BlockMessenger
from ...poutine.trace_messenger import TraceMessenger
from ...primitives import param, plate, sample
from ...runtime import model_name
from ..elbo import GuideError
from .initialization import init_to_feasible, init_to_median


def _is_identity(transform):
    if isinstance(transform, IndependentTransform):
        return _is_identity(transform.base_transform)
    return isinstance(transform, ComposeTransform) and not transform.parts


class _LatentSite:
    """What a guide needs to know about one latent site of the model."""

    __slots__ = ("name", "shape", "batch_dims", "event_dim", "transform", "frames", "init_unconstrained")

    def __init__(self, site, init_loc_fn):
        self.name = site.name
        self.shape = site.value.shape
        self.batch_dims = len(site.fn.batch_shape)
        self.event_dim = len(site.fn.event_shape)
        transform = biject_to(site.fn.support)
        self.transform = None if _is_identity(transform) else transform.with_cache(1)
        self.frames = tuple(f for f in site.cond_indep_stack if f.dim is not None)
        init = init_loc_fn(site)
        if not torch.is_tensor(init):
            init = torch.as_tensor(init, dtype=site.value.dtype, device=site.value.device)
        init = init.detach().expand(self.shape)
        if not bool(site.fn.support.check(init).all()):
            raise GuideError(f"the initial value chosen for site '{self.name}' lies outside its support "
                             f"{site.fn.support}; pick another init_loc_fn (e.g. init_to_median)")
        self.init_unconstrained = init if self.transform is None else transform.inv(init)

    def constrain(self, unconstrained):
        return unconstrained if self.transform is None else self.transform(unconstrained)


class AutoGuide:
    """Base of the automatic guides: the prototype run, the plates, and ``median()``.

    ``model`` is the model to guide; ``init_loc_fn(site)`` picks each site's starting value
    (see ``initialization.py``); ``prefix`` names the guide's parameters in the store.
    """

    default_init = staticmethod(init_to_median)

    def __init__(self, model, init_loc_fn=None, prefix=None):
        if not callable(model):
            raise TypeError(f"{type(self).__name__}(model): the model must be a callable, got {model!r}")
        self.model = model
        self.init_loc_fn = init_loc_fn if init_loc_fn is not None else self.default_init
        self.prefix = type(self).__name__ if prefix is None else prefix
        self.__name__ = f"{self.prefix}({model_name(model)})"
        self.prototype_trace = None
        self.sites = {}  # name -> _LatentSite, in the model's order
        self.plates = {}  # plate name -> plate messenger, recreated from the model's frames

    def _setup_prototype(self, *args, **kwargs):
        tracer = TraceMessenger(self.model, calls=False)
        with torch.no_grad():
            # block: the prototype run's sites must not reach the handlers running the guide (the ELBO's trace).
            BlockMessenger(tracer)(*args, **kwargs)
        self.prototype_trace = tracer.trace
        for site in tracer.trace.nodes.values():
            if not site.is_latent:
                continue
            if site.fn.support.is_discrete:
                raise GuideError(
                    f"{type(self).__name__} guides continuous latent sites only, but site '{site.name}' of model "
                    f"'{model_name(self.model)}' is discrete ({type(site.fn).__name__}). Write a guide by hand for "
                    "this model (Trace_ELBO learns discrete sites by the score function), or block the site out of "
                    "the model you hand to the auto guide."
                )
            for frame in site.cond_indep_stack:
                if frame.dim is not None and frame.name not in self.plates:
                    self.plates[frame.name] = plate(frame.name, frame.size, dim=frame.dim)
            self.sites[site.name] = _LatentSite(site, self.init_loc_fn)
        self._setup_params()

    def _setup_params(self):
        pass

    @contextlib.contextmanager
    def _plates_of(self, site):
        with contextlib.ExitStack() as stack:
            for frame in site.frames:
                stack.enter_context(self.plates[frame.name])
            yield

    def __call__(self, *args, **kwargs):
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward (sample every latent site)")

    def _ready(self, args, kwargs):
        """Learn the model's sites and make sure the parameters exist (for reading them before any step)."""
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        with torch.no_grad():
            self._create_params()

    def _create_params(self):
        raise NotImplementedError(f"{type(self).__name__} must define _create_params")

    def median(self, *args, **kwargs):
        """The guide's median of every latent site (its location mapped into the support), by name.

        Pass the model's arguments if the guide has not run yet (it learns the sites from one model run).
        """
        self._ready(args, kwargs)
        with torch.no_grad():
            return {name: value.detach() for name, value in self._medians().items()}

    def __repr__(self):
        return f"{type(self).__name__}(model={model_name(self.model)}, sites={list(self.sites)})"


class AutoNormal(AutoGuide):
    """An independent Normal per element of every latent site, in unconstrained space (mean-field).

    Parameters: ``AutoNormal.locs.<site>`` and ``AutoNormal.scales.<site>`` (positive), starting at
    ``init_loc_fn`` (default: the point the unconstrained origin maps to, as Pyro's) and ``init_scale``.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer.svi import SVI
    >>> from ppl_kernel.infer.elbo import Trace_ELBO
    >>> from ppl_kernel.optim import Adam
    >>> pyro.set_rng_seed(0); pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("w", dist.Normal(2.0, 1.0))
    >>> guide = AutoNormal(model)
    >>> svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
    >>> for _ in range(400):
    ...     _ = svi.step()
    >>> abs(guide.median()["w"].item() - 2.0) < 0.3
    True
    """

    default_init = staticmethod(init_to_feasible)

    def __init__(self, model, init_loc_fn=None, init_scale=0.1, prefix=None):
        if not init_scale > 0:
            raise ValueError(f"AutoNormal: init_scale must be positive, got {init_scale}")
        super().__init__(model, init_loc_fn, prefix)
        self.init_scale = init_scale

    def _loc_scale(self, site):
        init = site.init_unconstrained
        loc = param(f"{self.prefix}.locs.{site.name}", init)
        scale = param(f"{self.prefix}.scales.{site.name}", lambda: torch.full_like(init, self.init_scale),
                      constraint=constraints.positive)
        return loc, scale

    def _create_params(self):
        for site in self.sites.values():
            self._loc_scale(site)

    def forward(self, *args, **kwargs):
        result = {}
        for site in self.sites.values():
            loc, scale = self._loc_scale(site)
            # The parameters are valid by construction (scale is constrained positive): skip torch's checks.
            d = Normal(loc, scale, validate_args=False)
            if loc.dim() > site.batch_dims:
                d = Independent(d, loc.dim() - site.batch_dims, validate_args=False)
            if site.transform is not None:
                d = TransformedDistribution(d, [site.transform], validate_args=False)
            with self._plates_of(site):
                result[site.name] = sample(site.name, d)
        return result

    def _medians(self):
        store = get_param_store()
        return {site.name: site.constrain(store[f"{self.prefix}.locs.{site.name}"]) for site in self.sites.values()}

    def quantiles(self, quantiles, *args, **kwargs):
        """Each site's guide quantiles (e.g. ``[0.05, 0.5, 0.95]``), stacked along a new first dim, by name."""
        self._ready(args, kwargs)
        store = get_param_store()
        result = {}
        with torch.no_grad():
            for site in self.sites.values():
                loc = store[f"{self.prefix}.locs.{site.name}"]
                scale = store[f"{self.prefix}.scales.{site.name}"]
                q = torch.as_tensor(quantiles, dtype=loc.dtype, device=loc.device).reshape((-1,) + (1,) * loc.dim())
                result[site.name] = site.constrain(torch.distributions.Normal(loc, scale).icdf(q))
        return result


class AutoDelta(AutoGuide):
    """A point estimate per latent site (MAP): ``AutoDelta.<site>``, constrained to the site's support.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("s", dist.Gamma(3.0, 1.0))
    >>> guide = AutoDelta(model)
    >>> guide()["s"].item() > 0
    True
    """

    def _value(self, site):
        return param(f"{self.prefix}.{site.name}", lambda: site.constrain(site.init_unconstrained),
                     constraint=self._support(site))

    def _create_params(self):
        for site in self.sites.values():
            self._value(site)

    def forward(self, *args, **kwargs):
        result = {}
        for site in self.sites.values():
            value = self._value(site)
            with self._plates_of(site):
                result[site.name] = sample(site.name, Delta(value, event_dim=site.event_dim))
        return result

    def _support(self, site):
        return self.prototype_trace.nodes[site.name].fn.support

    def _medians(self):
        store = get_param_store()
        return {site.name: store[f"{self.prefix}.{site.name}"] for site in self.sites.values()}


class AutoMultivariateNormal(AutoGuide):
    """One joint multivariate Normal over all latent sites (flattened, unconstrained): correlations are learned.

    Parameters: ``AutoMultivariateNormal.loc`` (length D, the total number of unconstrained latent
    elements) and ``AutoMultivariateNormal.scale_tril`` (D x D, lower Cholesky, starting at
    ``init_scale`` times the identity). The joint draw is the auxiliary site
    ``_AutoMultivariateNormal_latent``; each model site is then a Delta at its slice, carrying the
    log-Jacobian of its constraint so that the guide's density stays exact.
    """

    def __init__(self, model, init_loc_fn=None, init_scale=0.1, prefix=None):
        if not init_scale > 0:
            raise ValueError(f"AutoMultivariateNormal: init_scale must be positive, got {init_scale}")
        super().__init__(model, init_loc_fn, prefix)
        self.init_scale = init_scale

    @property
    def latent_dim(self):
        return sum(site.init_unconstrained.numel() for site in self.sites.values())

    def _init_loc(self):
        return torch.cat([site.init_unconstrained.reshape(-1) for site in self.sites.values()])

    def _params(self):
        loc = param(f"{self.prefix}.loc", self._init_loc)
        scale_tril = param(f"{self.prefix}.scale_tril",
                           lambda: torch.eye(loc.shape[-1], dtype=loc.dtype, device=loc.device) * self.init_scale,
                           constraint=constraints.lower_cholesky)
        return loc, scale_tril

    def _latent_distribution(self):
        loc, scale_tril = self._params()
        return MultivariateNormal(loc, scale_tril=scale_tril, validate_args=False)

    def _marginal_scale(self):
        """The standard deviation of each unconstrained latent element under the guide."""
        return get_param_store()[f"{self.prefix}.scale_tril"].pow(2).sum(-1).sqrt()

    def quantiles(self, quantiles, *args, **kwargs):
        """Each site's marginal guide quantiles (e.g. ``[0.05, 0.5, 0.95]``), stacked along a new first dim."""
        self._ready(args, kwargs)
        if not self.sites:
            return {}
        with torch.no_grad():
            loc = get_param_store()[f"{self.prefix}.loc"]
            q = torch.as_tensor(quantiles, dtype=loc.dtype, device=loc.device).reshape(-1, 1)
            latent = torch.distributions.Normal(loc, self._marginal_scale()).icdf(q)
            return {site.name: site.constrain(u) for site, u in self._unpack(latent)}

    def _create_params(self):
        if self.sites:
            self._params()

    def _unpack(self, latent):
        """(site, unconstrained value) for each site, sliced from the joint latent vector."""
        start = 0
        batch = latent.shape[:-1]
        for site in self.sites.values():
            u_shape = site.init_unconstrained.shape
            size = site.init_unconstrained.numel()
            yield site, latent[..., start:start + size].reshape(batch + u_shape)
            start += size

    def forward(self, *args, **kwargs):
        if not self.sites:
            return {}
        latent = sample(f"_{self.prefix}_latent", self._latent_distribution(), infer={"is_auxiliary": True})
        result = {}
        for site, unconstrained in self._unpack(latent):
            if site.transform is None:
                value, log_density = unconstrained, 0.0
            else:
                value = site.transform(unconstrained)
                # q(z) = q(u) |du/dz|: the Delta carries -log|dz/du|, summed over the site's event dims.
                log_density = -site.transform.log_abs_det_jacobian(unconstrained, value)
                extra = log_density.dim() - (value.dim() - site.event_dim)
                if extra > 0:
                    log_density = log_density.sum(tuple(range(-extra, 0)))
            with self._plates_of(site):
                result[site.name] = sample(site.name, Delta(value, log_density=log_density, event_dim=site.event_dim))
        return result

    def _medians(self):
        if not self.sites:
            return {}
        loc = get_param_store()[f"{self.prefix}.loc"]
        return {site.name: site.constrain(u) for site, u in self._unpack(loc)}


class AutoDiagonalNormal(AutoMultivariateNormal):
    """A Normal with a diagonal covariance over all latent sites jointly, unconstrained (Pyro's
    ``AutoDiagonalNormal``): parameters ``AutoDiagonalNormal.loc`` and ``AutoDiagonalNormal.scale``.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("w", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    ...     pyro.sample("s", dist.HalfNormal(1.0))
    >>> guide = AutoDiagonalNormal(model)
    >>> sorted(guide()), tuple(pyro.param("AutoDiagonalNormal.scale").shape)
    (['s', 'w'], (3,))
    """

    def _params(self):
        loc = param(f"{self.prefix}.loc", self._init_loc)
        scale = param(f"{self.prefix}.scale", lambda: torch.full_like(loc, self.init_scale),
                      constraint=constraints.positive)
        return loc, scale

    def _latent_distribution(self):
        loc, scale = self._params()
        return Independent(Normal(loc, scale, validate_args=False), 1)

    def _marginal_scale(self):
        return get_param_store()[f"{self.prefix}.scale"]
