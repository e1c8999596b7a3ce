"""``seed``: run with a fixed random seed, restoring the outer random state afterwards."""

import torch

from .. import rng
from ..runtime import Messenger, handler_function
from ..settings import settings


class SeedMessenger(Messenger):
    """Seed torch, Python's ``random`` and (if loaded) NumPy on entry, as ``set_rng_seed`` does; put their
    previous states back on exit.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> model = lambda: pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> bool(poutine.seed(model, rng_seed=1)() == poutine.seed(model, rng_seed=1)())
    True
    """

    def __init__(self, fn=None, rng_seed=0):
        super().__init__(fn)
        self.rng_seed = rng.check_seed(rng_seed, "seed(fn, rng_seed)")

    def __enter__(self):
        # A thread drawing from its own generator (a background run) gets a fresh one, seeded here.
        self._own = settings.generator
        if self._own is not None:
            settings.generator = torch.Generator(self._own.device).manual_seed(self.rng_seed)
        self._saved = rng.get_state()
        rng.seed_all(self.rng_seed)
        return super().__enter__()

    def __exit__(self, *exc):
        if self._own is not None:
            settings.generator = self._own
        rng.set_state(self._saved)
        return super().__exit__(*exc)


@handler_function(SeedMessenger)
def seed(fn=None, rng_seed=0):
    return SeedMessenger(fn, rng_seed=rng_seed)
