"""Internal control flow of a run: signals that end a run early, out of reach of a model's ``except``.

They derive from ``BaseException``, not ``Exception``, so that a model that wraps a statement in
``try: ... except Exception:`` cannot swallow them (as ``KeyboardInterrupt`` and ``GeneratorExit``
cannot be swallowed that way). Only the inference loop that raised one catches it.
"""


class RunSignal(BaseException):
    """Base of the signals an inference algorithm raises inside a run to take control back."""


class ZeroProbability(RunSignal):
    """The run reached probability zero at site ``name`` (a ``factor`` of -inf, an impossible value).

    Every algorithm ends such a run at once, as WebPPL does, and never runs user code past it.
    """

    def __init__(self, name):
        super().__init__(name)
        self.name = name
