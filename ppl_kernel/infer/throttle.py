"""How often a live view redraws: one rule in one place (as tqdm keeps ``mininterval``).

Every live view of the notebook layer (the histograms of a sampling run, an inference run's
``progress`` callback, SVI's loss curve) redraws through a :class:`Throttle`: the first frame at
once, then about four a second; less often when drawing is slow (at most ``MAX_SHARE`` of the time
goes to it), but at least every ``MAX_WAIT`` seconds, so the view never looks stuck.

>>> calls = []
>>> throttle = Throttle()
>>> for step in range(10000):
...     if throttle.ready():
...         throttle.call(calls.append, step)
>>> calls[0], throttle.frames == len(calls) < 10000
(0, True)
"""

import time

INTERVAL = 0.25  # seconds between frames: about four a second
MAX_SHARE = 0.05  # at most this share of the time goes to drawing
MAX_WAIT = 2.0  # seconds: the longest a view waits for its next frame, however slow drawing is


class Throttle:
    """Says when the next frame is due (:meth:`ready`) and times each frame (:meth:`call`) to schedule the next.

    ``frames`` counts the frames drawn and ``seconds`` the time they took.
    """

    def __init__(self, interval=None, max_share=None, max_wait=None, clock=time.monotonic):
        # The module's values when not given, read now: a test (or a user) may change them for every view.
        self.interval = INTERVAL if interval is None else interval
        self.max_share = MAX_SHARE if max_share is None else max_share
        self.max_wait = MAX_WAIT if max_wait is None else max_wait
        self.clock = clock
        self.frames = 0
        self.seconds = 0.0
        self._next = -float("inf")  # the first frame at once

    def ready(self):
        """True when the next frame is due."""
        return self.clock() >= self._next

    def call(self, draw, *args, scheduled=True):
        """Draw a frame now (``draw(*args)``) and schedule the next one after it; returns what draw returns.

        ``scheduled=False`` draws outside the rhythm (the start and the end of a run): the next frame is
        as due as it was, so the first frame with data still comes at once.
        """
        start = self.clock()
        try:
            return draw(*args)
        finally:
            end = self.clock()
            cost = end - start
            self.frames += 1
            self.seconds += cost
            if scheduled:  # slow down when drawing is costly, but keep the view alive
                self._next = end + min(max(self.interval, cost / self.max_share), self.max_wait)
