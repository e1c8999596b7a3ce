"""The helpers Pyro's RSA tutorials import from their ``search_inference.py``, written here against the
same Pyro API they use (a ``TracePosterior`` subclass with ``_traces``, ``poutine.queue``,
``poutine.Trace``, ``pyro.distributions.util.logsumexp``), so that the tests exercise exactly those
pieces with ``pyro`` aliased to ppl_kernel. Import it only after ``compat.as_pyro()``."""

import functools
import queue

import torch

import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.distributions.util import logsumexp
from pyro.infer.abstract_infer import TracePosterior


def memoize(fn=None, **kwargs):
    if fn is None:
        return lambda inner: memoize(inner, **kwargs)
    return functools.lru_cache(**kwargs)(fn)


def _key(value):
    if torch.is_tensor(value):
        return ("tensor", tuple(value.reshape(-1).tolist()), tuple(value.shape))
    return ("object", value)


class HashingMarginal(dist.Distribution):
    """The distribution of a search's return values: equal values pool their weights."""

    has_enumerate_support = True
    arg_constraints = {}  # noqa: RUF012  (torch's class attribute: no parameters to validate)

    def __init__(self, trace_dist):
        assert isinstance(trace_dist, TracePosterior)
        super().__init__()
        self.trace_dist = trace_dist

    @functools.cached_property
    def _table(self):
        values, logits = {}, {}
        for tr, log_weight in zip(self.trace_dist.exec_traces, self.trace_dist.log_weights, strict=True):
            value = tr.nodes["_RETURN"]["value"]
            log_weight = torch.as_tensor(log_weight, dtype=torch.get_default_dtype())
            key = _key(value)
            if key in logits:
                logits[key] = logsumexp(torch.stack([logits[key], log_weight]), dim=-1)
            else:
                logits[key], values[key] = log_weight, value
        stacked = torch.stack(list(logits.values()))
        return dist.Categorical(logits=stacked - logsumexp(stacked, dim=-1)), list(values), list(values.values())

    def sample(self, sample_shape=torch.Size()):
        categorical, _, values = self._table
        return values[int(categorical.sample())]

    def log_prob(self, value):
        categorical, keys, _ = self._table
        return categorical.log_prob(torch.tensor(keys.index(_key(value))))

    def enumerate_support(self, expand=True):
        return list(self._table[2])


class Search(TracePosterior):
    """Exact inference: every execution of the model, each weighted by its joint log-probability."""

    def __init__(self, model, max_tries=int(1e6), **kwargs):
        self.model = model
        self.max_tries = max_tries
        super().__init__(**kwargs)

    def _traces(self, *args, **kwargs):
        partial_traces = queue.Queue()
        partial_traces.put(poutine.Trace())
        run = poutine.trace(poutine.queue(self.model, queue=partial_traces, max_tries=self.max_tries))
        while not partial_traces.empty():
            tr = run.get_trace(*args, **kwargs)
            yield tr, tr.log_prob_sum()


def Marginal(fn):  # noqa: N802  (the tutorials' decorator name)
    return memoize(lambda *args: HashingMarginal(Search(fn).run(*args)))
