"""Process-wide switches, overridable per thread. Imports nothing from the package, so every module can use it."""

import contextlib
import threading


class _Settings(threading.local):
    """Switches: ``validate`` checks parameters and observations (on by default); ``max_sites``
    bounds one run. The class attributes are the process-wide values (``enable_validation``,
    ``set_max_sites``); :func:`validation_suspended` overrides ``validate`` for one thread only.
    """

    validate = True
    max_sites = 100_000


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
