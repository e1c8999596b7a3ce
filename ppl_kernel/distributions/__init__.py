"""Distributions: torch's classes (constructed lazily, see ``deferred.py``), Pyro's extras, and the
seed tutorial's callable primitives.

>>> import torch, ppl_kernel.distributions as dist
>>> dist.Normal(0.0, 1.0).log_prob(torch.tensor(0.0)).item() == dist.normal.log_pdf(torch.tensor(0.0), 0.0, 1.0).item()
True
>>> isinstance(dist.Normal(0.0, 1.0), torch.distributions.Normal)
True
"""

import torch.distributions as _td
from torch.distributions import (  # noqa: F401  re-exported unchanged: bases, transforms, constraints
    Distribution,
    ExponentialFamily,
    MixtureSameFamily,
    TransformedDistribution,
    kl_divergence,
    transform_to,
    biject_to,
    transforms,
)

from . import constraints, util  # noqa: F401  (pyro.distributions.util: broadcast_shape, sum_rightmost, logsumexp, ...)
from .callables import Primitive
from .choice import Choice  # noqa: F401  (public)
from .empirical import Empirical  # noqa: F401  (public)
from .deferred import Independent, MaskedDistribution, TorchDistributionMixin, deferred_class  # noqa: F401  (public)
from .point import Delta, Unit  # noqa: F401  (public)

# Leaf families get deferred construction; abstract bases and wrappers stay torch's own classes.
_DEFERRED = [
    "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli", "Dirichlet",
    "Exponential", "FisherSnedecor", "Gamma", "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy",
    "HalfNormal", "InverseGamma", "Kumaraswamy", "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal",
    "LowRankMultivariateNormal", "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal",
    "OneHotCategorical", "Pareto", "Poisson", "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT",
    "Uniform", "VonMises", "Weibull", "Wishart",
]
for _name in _DEFERRED:
    if hasattr(_td, _name):
        globals()[_name] = deferred_class(getattr(_td, _name))

# The seed's spelling: lower-case functions that sample, with .log_pdf / .batch_log_pdf.
bernoulli = Primitive(Bernoulli, "bernoulli")  # noqa: F821  (defined by the loop above)
normal = Primitive(Normal, "normal")  # noqa: F821
uniform = Primitive(Uniform, "uniform")  # noqa: F821
categorical = Primitive(Categorical, "categorical")  # noqa: F821
beta = Primitive(Beta, "beta")  # noqa: F821
gamma = Primitive(Gamma, "gamma")  # noqa: F821
exponential = Primitive(Exponential, "exponential")  # noqa: F821
poisson = Primitive(Poisson, "poisson")  # noqa: F821
cauchy = Primitive(Cauchy, "cauchy")  # noqa: F821
lognormal = Primitive(LogNormal, "lognormal")  # noqa: F821
dirichlet = Primitive(Dirichlet, "dirichlet")  # noqa: F821
multinomial = Primitive(Multinomial, "multinomial")  # noqa: F821
binomial = Primitive(Binomial, "binomial")  # noqa: F821
laplace = Primitive(Laplace, "laplace")  # noqa: F821
delta = Primitive(Delta, "delta")
# Pyro 0.1 also spelled the log-normal "log_normal".
log_normal = lognormal
Flip = Bernoulli  # noqa: F821  WebPPL's name for a coin.
