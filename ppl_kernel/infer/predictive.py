"""``Predictive``: the model's sites under posterior samples, or under draws of a fitted guide.

``Predictive(model, guide=guide, num_samples=1000)(*args)`` runs the guide ``num_samples`` times
and the model conditioned on each draw, and returns ``{site name: tensor}`` with the draws stacked
along a new first dimension: the guide's latent sites and the model's other sites (predictions of
observed sites whose data is ``None`` in ``args``, ``deterministic`` values). With
``posterior_samples={"w": tensor of shape (S, ...)}`` the model is conditioned on those instead,
and by default only the sites *not* given are returned (``return_sites=[...]`` picks; add
``"_RETURN"`` for the model's return value).

As in Pyro, a site observed with data (``obs=...``) keeps its data: pass ``None`` for the data to
predict it. ``parallel=True`` runs all samples at once in an extra plate (the model must declare
its batch dimensions with plates). ``executor=`` (any ``concurrent.futures.Executor``) draws the samples
in its workers, in ``chunks`` pieces (default 16), and stacks them in order (see
:mod:`ppl_kernel.infer.parallel`); each piece is sent only its slice of ``posterior_samples``.
"""

import warnings

import torch

from ..poutine.condition_messenger import ConditionMessenger
from ..poutine.trace_messenger import TraceMessenger
from ..primitives import plate
from ..runtime import model_name
from ..trace import RETURN
from . import parallel as _parallel  # the name 'parallel' is Predictive's vectorize switch


def _returnable(trace):
    """Names of the sample sites a prediction can report: latent, observed and deterministic."""
    return [name for name, site in trace.nodes.items() if site.type == "sample"]


class Predictive:
    """Draws from the posterior predictive distribution of ``model``.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.set_rng_seed(0)
    >>> def model(y=None):
    ...     w = pyro.sample("w", dist.Normal(0.0, 1.0))
    ...     return pyro.sample("y", dist.Normal(w, 0.1), obs=y)
    >>> out = Predictive(model, posterior_samples={"w": torch.full((50,), 3.0)})()
    >>> sorted(out), tuple(out["y"].shape), abs(out["y"].mean().item() - 3.0) < 0.1
    (['y'], (50,), True)
    """

    def __init__(self, model, posterior_samples=None, guide=None, num_samples=None, return_sites=(), parallel=False,
                 executor=None, chunks=None):
        if not callable(model):
            raise TypeError(f"Predictive(model, ...): the model must be callable, got {model!r}")
        posterior_samples = {} if posterior_samples is None else dict(posterior_samples)
        if guide is not None and posterior_samples:
            raise ValueError("Predictive: give either a guide or posterior_samples, not both (the guide draws the "
                             "posterior samples itself)")
        for name, value in posterior_samples.items():
            if not torch.is_tensor(value) or value.dim() == 0:
                raise ValueError(
                    f"Predictive: posterior_samples['{name}'] must be a tensor whose first dimension counts the "
                    f"samples, got {value!r}"
                )
            if num_samples is None:
                num_samples = value.shape[0]
            elif value.shape[0] != num_samples:
                warnings.warn(f"Predictive: posterior_samples['{name}'] has {value.shape[0]} samples but "
                              f"num_samples={num_samples}; using {value.shape[0]}.", stacklevel=2)
                num_samples = value.shape[0]
        if num_samples is None:
            raise ValueError("Predictive: say how many samples to draw: num_samples=... (or give posterior_samples)")
        if return_sites is not None and not isinstance(return_sites, (list, tuple, set)):
            raise TypeError(f"Predictive: return_sites must be a list of site names, got {return_sites!r}")
        self.model = model
        self.guide = guide
        self.posterior_samples = posterior_samples
        self.num_samples = int(num_samples)
        self.return_sites = return_sites
        self.parallel = bool(parallel)
        _parallel.check_executor("Predictive", executor)
        _parallel.check_chunks("Predictive", chunks)
        self.executor, self.chunks = executor, chunks
        self.lost_runs = 0

    def __call__(self, *args, **kwargs):
        if self.executor is not None:
            return self._call_in_chunks(args, kwargs)
        wanted = list(self.return_sites) if self.return_sites else None  # None: every site not excluded
        with torch.no_grad():
            if self.guide is None:
                # return_sites=None asks for every site, the given ones included (as in Pyro).
                exclude = () if self.return_sites is None else self.posterior_samples
                return self._run(self.model, self.posterior_samples, wanted, exclude, args, kwargs)
            draws = self._run(self.guide, {}, None, (), args, kwargs)
            return self._run(self.model, draws, wanted, (), args, kwargs)

    forward = __call__

    # ---- chunks of draws on an executor (ppl_kernel.infer.parallel) --------------------------------------
    def _call_in_chunks(self, args, kwargs):
        chunks = self.chunks or _parallel.DEFAULT_CHUNKS
        _parallel.run_split(self, args, kwargs, "draws", self.num_samples, chunks)
        parts = [self._parts[offset] for offset in sorted(self._parts)]
        merged = {}
        for part in parts:
            for name, value in part.items():
                merged.setdefault(name, []).append(value)
        return {name: torch.cat(values) if all(torch.is_tensor(v) for v in values) else [x for v in values for x in v]
                for name, values in merged.items()}

    def _chunk_inputs(self, size, offset):
        # Copies, not views: a pickled view carries its whole storage, i.e. every posterior sample.
        return {name: value[offset:offset + size].clone() for name, value in self.posterior_samples.items()}

    def _chunk(self, size, offset, inputs=None):
        samples = self._chunk_inputs(size, offset) if inputs is None else inputs
        return Predictive(self.model, samples or None, self.guide, num_samples=size, return_sites=self.return_sites,
                          parallel=self.parallel)

    def _run_chunk(self, args, kwargs):
        draws = self(*args, **kwargs)
        return _parallel.ChunkResult(None, {}, self.num_samples, {"draws": draws})

    def _clear_chunks(self):
        self._parts = {}

    def _absorb(self, result, offset):
        self._parts[offset] = result.stats["draws"]

    def _report(self, done):
        pass  # Predictive has no progress callback

    def _run(self, fn, samples, wanted, exclude, args, kwargs):
        """Run ``fn`` conditioned on ``samples``; stack the values of ``wanted`` sites (None: all but ``exclude``)."""
        if self.parallel:
            return self._run_parallel(fn, samples, wanted, exclude, args, kwargs)
        collected = {}
        for i in range(self.num_samples):
            data = {name: value[i] for name, value in samples.items()}
            tracer = TraceMessenger(ConditionMessenger(fn, data=data), calls=False)
            tracer(*args, **kwargs)
            trace = tracer.trace
            names = self._names(fn, trace, wanted, exclude)
            for name in names:
                collected.setdefault(name, []).append(trace.nodes[name].value)
        return {name: _stack(name, values, fn) for name, values in collected.items()}

    def _names(self, fn, trace, wanted, exclude):
        if wanted is None:
            return [name for name in _returnable(trace) if name not in exclude]
        missing = [name for name in wanted if name not in trace.nodes]
        if missing:
            raise KeyError(f"Predictive: model '{model_name(fn)}' has no site {', '.join(map(repr, missing))} "
                           f"(its sites: {', '.join(_returnable(trace))}; '_RETURN' is its return value)")
        return wanted

    def _run_parallel(self, fn, samples, wanted, exclude, args, kwargs):
        # One prior run tells how many plate dimensions the model uses; the samples go one dim further left.
        probe = TraceMessenger(fn, calls=False)
        probe(*args, **kwargs)
        nesting = max((-f.dim for s in probe.trace.nodes.values() for f in s.cond_indep_stack if f.dim is not None),
                      default=0)
        shapes = {name: site.value.shape for name, site in probe.trace.nodes.items()
                  if (site.type == "sample" or name == RETURN) and torch.is_tensor(site.value)}
        data = {name: value.reshape((self.num_samples,) + (1,) * max(0, nesting - (value.dim() - 1)) + value.shape[1:])
                for name, value in samples.items()}

        def vectorized(*a, **k):
            with plate("_num_predictive_samples", self.num_samples, dim=-nesting - 1):
                return fn(*a, **k)

        tracer = TraceMessenger(ConditionMessenger(vectorized, data=data), calls=False)
        tracer(*args, **kwargs)
        result = {}
        for name in self._names(fn, tracer.trace, wanted, exclude):
            value = tracer.trace.nodes[name].value
            if not torch.is_tensor(value):  # a return value that is not a tensor: as the model returned it
                result[name] = value
                continue
            shape = (self.num_samples,) + tuple(shapes.get(name, value.shape[1:]))
            numel = 1
            for n in shape:
                numel *= n
            result[name] = value.reshape(shape) if value.numel() == numel else value.expand(shape)
        return result


def _stack(name, values, fn):
    if all(torch.is_tensor(v) for v in values):
        try:
            return torch.stack(values)
        except RuntimeError:
            raise ValueError(
                f"Predictive: site '{name}' of '{model_name(fn)}' changes shape from sample to sample "
                f"({sorted({tuple(v.shape) for v in values})}), so its draws cannot be stacked; return it via "
                "'_RETURN' or give it a fixed shape."
            ) from None
    return values
