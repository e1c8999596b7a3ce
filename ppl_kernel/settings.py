"""Process-wide switches, overridable per thread. Imports nothing from the package, so every module can use it."""

import contextlib
import threading


class _Settings(threading.local):
    """Switches: ``validate`` checks parameters and observations (on by default); ``max_sites``
    bounds one run; ``generator`` is the ``torch.Generator`` the thread draws from (None: torch's
    default one). The class attributes are the process-wide values (``enable_validation``,
    ``set_max_sites``); :func:`validation_suspended` overrides ``validate`` for one thread only,
    :func:`drawing_from` sets ``generator`` for one thread only.
    """

    validate = True
    max_sites = 100_000
    generator = None


settings = _Settings()


@contextlib.contextmanager
def validation_suspended():
    """Skip parameter checks in this thread only (other threads keep theirs), e.g. inside a vmap."""
    had_own = "validate" in settings.__dict__
    previous = settings.validate
    settings.validate = False
    try:
        yield
    finally:
        if had_own:
            settings.validate = previous
        else:
            del settings.validate


@contextlib.contextmanager
def drawing_from(generator):
    """Draw this thread's samples from ``generator`` (a background run's own randomness).

    Seeding torch's default generator elsewhere (``set_rng_seed``, ``poutine.seed``) neither rewinds
    it nor is rewound by it, so a seeded background run repeats exactly.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def draws(seed):
    ...     with drawing_from(torch.Generator().manual_seed(seed)):
    ...         pyro.set_rng_seed(123)  # the default generator: not the one drawn from here
    ...         return [pyro.sample("x", dist.Normal(0.0, 1.0)).item() for _ in range(3)]
    >>> draws(7) == draws(7)
    True
    """
    had_own = "generator" in settings.__dict__
    previous = settings.generator
    settings.generator = generator
    try:
        yield generator
    finally:
        if had_own:
            settings.generator = previous
        else:
            del settings.generator
