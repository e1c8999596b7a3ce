"""MCMC on a model's continuous latent sites: ``MCMC`` with the ``NUTS`` and ``HMC`` kernels (Pyro's API).

>>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import MCMC, NUTS
>>> pyro.set_rng_seed(1)
>>> def model():
...     pyro.sample("s", dist.HalfNormal(2.0))
>>> mcmc = MCMC(NUTS(model), num_samples=100, warmup_steps=50)
>>> mcmc.run()
>>> bool((mcmc.get_samples()["s"] > 0).all())
True
"""

from . import util  # noqa: F401  (pyro.infer.mcmc.util.summary, initialize_model)
from .api import MCMC  # noqa: F401
from .hmc import HMC  # noqa: F401
from .nuts import NUTS  # noqa: F401
