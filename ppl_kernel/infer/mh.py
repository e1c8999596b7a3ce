"""Lightweight single-site Metropolis-Hastings over traces (Wingate, Stuhlmüller & Goodman 2011; WebPPL's MH).

One step: pick a random choice of the current run uniformly, propose a new value for it from its
prior, and run the model again reusing the values of same-named choices. Choices the new run makes
that the old did not (*fresh*) are drawn from their priors; choices the old run made that the new
one skips are *stale*. With R the choices both runs make (other than the picked one), D and D' the
choices of the old and new run, and "fixed" the observed sites and factors, the acceptance ratio is

    log a = sum_R [log p'(r) - log p(r)] + [fixed' - fixed] + log |D| - log |D'|

because the picked site's prior terms cancel against the proposal, and each fresh (stale) site's
prior cancels against the probability of proposing (reversing) it. A drift kernel q proposes the
picked site from its old value instead: then its prior terms stay in the sum R, and the Hastings term
log q(old | new) - log q(new | old) is added.

A run is scored as it goes (one recording handler, floats, the score of an unchanged site reused), so
it ends at the first site of probability zero, before any user code after it runs; a move between states
of discrete choices is run once and then remembered (``mh_moves.py``); many chains of a
model whose sites do not depend on its values run as one batched chain (``mh_batched.py``).
"""

import math
import warnings

import torch

from ..errors import DuplicateSiteError, RunawayModelError
from ..rng import inference_random
from ..runtime import Messenger, Site, model_name, runaway_message, settings
from ..signals import RunSignal, ZeroProbability
from ..vectorize import NotBatchable, SequentialFallbackWarning
from . import parallel
from .errors import InferenceError
from .mh_batched import BatchedChains, KeptStates
from .mh_moves import Fresh, Moves
from .posterior import TracePosterior
from .sites import nan_score_error, score, score_reused
from ..trace import RETURN, CallNode, Trace

_INIT_TRIES = 1000
# A chain that stays in its state adds the repeats to the store this many at a time (and when it moves, and at
# the end): one bulk append instead of one per step, while a live view of the run lags by at most this many runs.
_STAYS_AT_ONCE = 256
_NUM = (float, int)


class _Unchanged(RunSignal):
    """An MH run's target drew its current value again: the run is the chain's current state."""


class _Regenerate(Messenger):
    """One MH run: reuse the current state's values for same-named random choices, propose the target.

    It records the run's sites in a dict (no call tree, no Trace: a rejected run never needs one) and scores
    each as it is made, as a Python float: a site whose distribution, value, scale and mask are those of the
    same-named site of the current state keeps that site's score, and the first site of probability zero
    ends the run (``run`` then returns None). One instance serves a whole chain, so a step costs one handler
    and one dict of sites.
    """

    def __init__(self, model, drift):
        super().__init__(model)
        self.drift = drift
        self.model_name = model_name(model)

    def run(self, state, target, args, kwargs, proposed=None, fresh_values=()):
        """Run the model from ``state`` with ``target`` proposed anew (given as ``proposed``, else drawn in the
        run); the new state, or None at probability 0. The run's fresh choices (those ``state`` did not make)
        take the ``fresh_values`` in order, and are drawn past them; ``fresh`` then holds their sites."""
        self.old, self.old_scores, self.target, self.proposed = state.sites, state.scores, target, proposed
        self.sites, self.choices, self.scores, self.fixed, self.change = {}, [], {}, 0.0, 0.0
        self.drifted = False
        self.fresh, self.fresh_values = [], fresh_values
        try:
            with self:
                ret = self.fn(*args, **kwargs)
        except ZeroProbability:  # the run ended at a site of probability zero: no user code ran past it
            return None
        except _Unchanged:  # the target drew the value it had: the rest of the run is the current state's
            return state
        except RecursionError as e:
            raise RunawayModelError(runaway_message(self.fn, e.__traceback__)) from None
        # change: the score changes of reused values, plus a drift's log q(old | new) - log q(new | old)
        return _State(self.sites, ret, self.choices, self.scores, self.fixed, self.change, self.model_name, args,
                      kwargs)

    def process_message(self, msg):
        # Only a random choice of this run (Site.is_choice) that the current state also made takes its value.
        if msg.value is not None or msg.type != "sample" or msg.is_observed or msg.done:
            return
        name = msg.name
        old = self.old.get(name)
        if old is None or old.type != "sample" or old.is_observed or old.done:  # a fresh choice
            if len(self.fresh) < len(self.fresh_values):
                msg.value = self.fresh_values[len(self.fresh)]
            return
        if name != self.target:
            msg.value = old.value
            return
        if self.proposed is not None:  # drawn from this very prior before the run (mh_moves)
            msg.value = self.proposed
            return
        kernel = self.drift(msg)
        if kernel is not None:  # a drift proposal from the old value instead of a draw from the prior
            msg.value = kernel.propose(old.value)
            self.drifted = True
            self.change += kernel.log_ratio(old.value, msg.value)

    def postprocess_message(self, msg):
        name, sites = msg.name, self.sites
        if name in sites:
            raise DuplicateSiteError(
                f"sample site '{name}' appears twice in one run of model '{self.model_name}'. Each site needs its "
                "own name within a run; inside a loop or a recursion build the name from the index, e.g. "
                f"pyro.sample(\"{name}_{{}}\".format(t), ...)."
            )
        if len(sites) >= settings.max_sites:
            raise RunawayModelError(
                f"model '{self.model_name}' made more than {settings.max_sites} sites in one run (the last, "
                f"'{name}'). Does it stop? Check its stopping rule, or raise the limit with "
                "ppl_kernel.set_max_sites(n)."
            )
        sites[name] = msg
        if msg.type != "sample":
            return
        old = self.old.get(name)
        if old is not None and old.type != "sample":
            old = None
        if not msg.is_observed and not msg.done:  # a random choice (Site.is_choice)
            self.choices.append(name)
            if old is not None and not old.is_observed and not old.done:
                before = self.old_scores[name]
                if _same_score(old, msg):
                    lp = before
                    if name == self.target and self.change == 0.0:
                        # The proposal drew the value the chain already had (common for discrete choices), and
                        # every choice before it kept its value and score. A run is determined by its choices
                        # (MH's premise), so the rest of this run is the current state's: end it here and hand
                        # the chain its state back (a stay, which the posterior stores as a repeat of its last
                        # run) without running the rest of the model.
                        raise _Unchanged
                else:
                    lp = score_reused(msg)
                if name != self.target or self.drifted:
                    # a reused value, or a drift proposal: its prior does not cancel against the proposal
                    self.change += lp - before
            else:  # fresh, or proposed from its prior
                lp = score(msg)
                if name != self.target:
                    self.fresh.append(msg)
        elif old is not None and (old.is_observed or old.done) and _same_score(old, msg):
            lp = self.old_scores[name]
            self.fixed += lp
        else:
            lp = score(msg)
            self.fixed += lp
        self.scores[name] = lp
        if lp == -math.inf:
            raise ZeroProbability(name)
        if lp != lp:
            raise nan_score_error(self._trace_so_far(), self.fn)  # names this site: the run ended at it

    def _trace_so_far(self):
        trace = Trace(CallNode(self.model_name))
        trace.nodes.update(self.sites)
        return trace


def _same_params(a, b):
    """The same positional parameters: each pair the very same object, or equal numbers."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=False):  # the lengths are equal: strict=True would only cost
        if x is not y and (type(x) not in _NUM or type(y) not in _NUM or x != y):
            return False
    return True


def _same_score(old, new):
    """True when ``new`` must score exactly as ``old`` did: the same value (the same object, or one-number tensors
    of one dtype and device with equal values: data that the model makes anew in each run, ``torch.tensor(70.0)``),
    and a distribution of the same family with the same parameters (numbers equal, tensors the very same objects),
    scale and mask."""
    # The distribution first: a changed parameter (an observation under a proposed value) is found without
    # reading the values. This runs for every site of every MH step, so the common case is written out.
    old_fn, new_fn = old.fn, new.fn
    if type(old_fn) is not type(new_fn) or old.mask is not None or new.mask is not None or old.scale != new.scale:
        return False
    a, b = old_fn.__dict__.get("_deferred"), new_fn.__dict__.get("_deferred")
    if a is None or b is None:
        if old_fn is not new_fn:
            return False
    else:
        (a_args, a_kwargs), (b_args, b_kwargs) = a, b
        if not _same_params(a_args, b_args):
            return False
        if (a_kwargs or b_kwargs) and (a_kwargs.keys() != b_kwargs.keys()
                                       or not _same_params([a_kwargs[k] for k in a_kwargs],
                                                           [b_kwargs[k] for k in a_kwargs])):
            return False
    x, y = old.value, new.value
    if x is y:
        return True
    return (type(x) is torch.Tensor and type(y) is torch.Tensor and x.dim() == 0 and y.dim() == 0
            and x.dtype is y.dtype and not x.requires_grad and not y.requires_grad and x.device == y.device
            and x.item() == y.item())


class _State:
    """One chain's current run: its sites (name -> site, in run order) and return value, its random choices in
    order, every sample site's score, the total score of the sites that are not random choices (observations,
    factors), and ``change``: the part of the log acceptance ratio that the run itself gave (score changes of
    reused values, a drift's Hastings term).

    The run's Trace, and its values as the posterior stores them, are made when first asked for: most runs
    are rejected proposals, which need neither; a state kept for many steps makes them once."""

    __slots__ = ("_record", "_trace", "args", "change", "choices", "fixed", "kwargs", "model_name", "moves",
                 "proposals", "ret", "scores", "sites")

    def __init__(self, sites, ret, choices, scores, fixed, change=0.0, model_name="model", args=(), kwargs=None):
        self.sites, self.ret, self.choices, self.scores, self.fixed, self.change = sites, ret, choices, scores, fixed, \
            change
        self.model_name, self.args, self.kwargs = model_name, args, kwargs or {}
        self._trace = self._record = None
        self.proposals = self.moves = None  # what mh_moves learned in this state

    @property
    def trace(self):
        """The run as a :class:`~ppl_kernel.trace.Trace` (sites in order, the return value last; no call tree)."""
        if self._trace is None:
            root = CallNode(self.model_name, tuple((None, a) for a in self.args) + tuple(self.kwargs.items()))
            trace = Trace(root)
            trace.nodes.update(self.sites)
            trace.add_return(self.ret)
            root.ret, root.returned = self.ret, True
            self._trace = trace
        return self._trace

    def record(self):
        """``(values, sites, log_joint)`` as the posterior stores a run: the sample sites and the return value."""
        if self._record is None:
            sites = {name: site for name, site in self.sites.items() if site.type == "sample"}
            sites[RETURN] = self._trace.nodes[RETURN] if self._trace is not None else \
                Site("return", RETURN, None, (), {}, self.ret)
            values = {name: site.value for name, site in sites.items()}
            self._record = values, sites, math.fsum(self.scores.values())
        return self._record


_State.EMPTY = _State({}, None, [], {}, 0.0)  # where a chain starts: nothing to reuse


class _GaussianDrift:
    """A Gaussian random walk around the current value (WebPPL's drift kernel): symmetric, so its
    Hastings term is zero."""

    def __init__(self, scale):
        self.scale = scale

    def propose(self, value):
        return value + self.scale * torch.randn_like(value)

    def log_ratio(self, old, new):
        return 0.0


class _KernelDrift:
    """A user's kernel: ``kernel(value)`` is the distribution of the proposal from ``value``; the Hastings
    term is log q(old | new) - log q(new | old), right for asymmetric kernels."""

    def __init__(self, kernel, name):
        self.kernel, self.name = kernel, name

    def propose(self, value):
        q = self._q(value)
        return q.rsample() if q.has_rsample else q.sample()

    def log_ratio(self, old, new):
        return float(self._q(new).log_prob(old).sum() - self._q(old).log_prob(new).sum())

    def _q(self, value):
        q = self.kernel(value)
        if not isinstance(q, torch.distributions.Distribution):
            raise InferenceError(
                f"MH: the drift kernel of site '{self.name}' returned {type(q).__name__}, not a distribution; it "
                "must map the current value to the distribution of the proposal, e.g. "
                "lambda x: dist.Normal(x, 0.1)."
            )
        return q


def _drift_chooser(drift):
    """The function that gives a site's drift kernel (None: propose from the prior).

    ``drift`` is MH's option: None, a scale for every continuous site, or a dict from site name to a scale
    or a kernel; a site's own ``infer={"mh_drift": scale or kernel}`` comes first."""
    if drift is not None and not isinstance(drift, (dict, int, float)):
        raise TypeError(f"MH: drift must be a number, a dict from site name to a number or kernel, or None; "
                        f"got {type(drift).__name__}")
    cache, missing = {}, object()

    def choose(msg):
        spec = msg.infer.get("mh_drift") if msg.infer else None
        everywhere = False  # the one scale of every continuous site (a discrete one keeps its prior)
        if spec is None:
            spec = drift.get(msg.name) if isinstance(drift, dict) else drift
            everywhere = spec is not None and not isinstance(drift, dict)
        if spec is None:
            return None
        key = (msg.name, id(spec))
        kernel = cache.get(key, missing)
        if kernel is missing:  # (None, a discrete site under the one scale, is kept too)
            kernel = cache[key] = _make_kernel(spec, msg, everywhere)
        return kernel

    return choose


def _make_kernel(spec, msg, everywhere=False):
    if callable(spec):
        return _KernelDrift(spec, msg.name)
    if not isinstance(spec, (int, float)) or not spec > 0:
        raise ValueError(f"MH: the drift scale of site '{msg.name}' must be a positive number, got {spec!r}")
    if msg.fn.support.is_discrete:
        if everywhere:  # drift=<scale> walks the continuous sites; a discrete one is proposed from its prior
            return None
        raise InferenceError(
            f"MH: site '{msg.name}' is discrete ({type(msg.fn).__name__}); a Gaussian drift is for continuous "
            "sites. Leave it out of drift=..., or give a kernel: infer={'mh_drift': lambda x: ...}."
        )
    return _GaussianDrift(float(spec))


class MH(TracePosterior):
    """Single-site Metropolis-Hastings, for models whose sites change run to run.

    Each of ``num_chains`` chains starts from a prior run with nonzero probability, takes
    ``warmup`` steps, then keeps every ``thin``-th state until it has ``num_samples`` (so a chain
    takes ``warmup + num_samples * thin`` steps). The stored traces have equal weight;
    ``chain_ids`` says which chain made each. ``acceptance_rate`` is the fraction of accepted
    proposals after warmup (``acceptance_rates`` per chain). ``progress(posterior, done, total)``
    counts steps of all chains, warmup included. A run that reaches probability zero (a ``factor``
    of -inf, a reused value outside its site's new support) ends at that site and the step is rejected.

    A site's new value is drawn from its prior, unless it has a *drift kernel* (WebPPL's
    ``driftKernel``): ``drift=0.3`` proposes every continuous site by a Gaussian random walk of that
    scale (the discrete ones still from their prior), ``drift={"mu": 0.3}`` only the named ones, and a
    site's own ``infer={"mh_drift": 0.3}`` overrides both. A kernel may also be a function from the current
    value to the distribution of the proposal (``lambda x: dist.LogNormal(x.log(), 0.2)``); its Hastings
    correction is applied, so asymmetric kernels are right.

    A move of a discrete choice (a state, a target, the value drawn) runs the model once; its outcome is
    then remembered and the next such step is a look-up (:mod:`~ppl_kernel.infer.mh_moves`; where the run
    draws new discrete choices, as a recursion going deeper does, each of their values drawn is a branch of
    its own, run once). So the model need not run at every step: code in it with side effects (a print, a
    counter) sees the runs, not the steps.

    ``executor=`` (any ``concurrent.futures.Executor``: ``ProcessPoolExecutor()``, a Dask client's
    ``client.get_executor()``) runs the chains in its workers, ``chunks`` pieces of chains at a time
    (default: one chain per piece); see :mod:`ppl_kernel.infer.parallel`.

    ``vectorize=True`` runs the chains as one batched chain (:mod:`ppl_kernel.infer.mh_batched`: one
    vmapped run of the model a step for all chains, proposals from the prior), for models whose random
    choices do not depend on sampled values; others run chain by chain, with a ``SequentialFallbackWarning``
    naming the line. A batched run of 50 steps or more runs the model's Python in its first steps only and
    then replays the tensor operations they made, so the model must not read state that changes between
    its calls (a counter, the clock).

    >>> import math, torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel.infer import MH, EmpiricalMarginal
    >>> pyro.set_rng_seed(0)
    >>> def coin():
    ...     p = pyro.sample("p", dist.Beta(1.0, 1.0))
    ...     with pyro.plate("tosses", 3):
    ...         pyro.sample("toss", dist.Bernoulli(p), obs=torch.tensor([1.0, 1.0, 0.0]))
    ...     return p
    >>> posterior = MH(coin, num_samples=1500, warmup=100).run()
    >>> abs(EmpiricalMarginal(posterior).mean.item() - 0.6) < 0.06   # Beta(3, 2) has mean 0.6
    True
    >>> def scale():
    ...     mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    ...     pyro.sample("y", dist.Normal(mu, 1.0), obs=torch.tensor(4.0))
    ...     return mu
    >>> posterior = MH(scale, num_samples=3000, warmup=100, drift={"mu": 0.8}).run()
    >>> abs(EmpiricalMarginal(posterior).mean.item() - 3.2) < 0.25   # N(3.2, 0.8) exactly
    True
    """

    def __init__(self, model, num_samples=1000, warmup=0, thin=1, num_chains=1, progress=None, drift=None,
                 vectorize=False, executor=None, chunks=None):
        super().__init__(model, progress)
        parallel.check_executor("MH", executor)
        parallel.check_chunks("MH", chunks)
        self.executor, self.chunks = executor, chunks
        self.lost_runs = 0
        for what, value, least in (("num_samples", num_samples, 1), ("warmup", warmup, 0), ("thin", thin, 1),
                                   ("num_chains", num_chains, 1)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"MH: {what} must be an integer >= {least}, got {value!r}")
        self.num_samples, self.warmup, self.thin, self.num_chains = num_samples, warmup, thin, num_chains
        self._drift, self._drift_given = _drift_chooser(drift), drift
        self.vectorize, self.vectorized, self.fallback_reason = bool(vectorize), False, None
        if self.vectorize and drift is not None:
            raise ValueError("MH: vectorize=True proposes from the prior; drift kernels run with vectorize=False")
        self.accepted = []
        self.proposed = []

    @property
    def acceptance_rates(self):
        """Accepted / proposed after warmup, per chain."""
        return [a / p if p else math.nan for a, p in zip(self.accepted, self.proposed, strict=True)]

    @property
    def acceptance_rate(self):
        """Accepted / proposed after warmup, over all chains."""
        proposed = sum(self.proposed)
        return sum(self.accepted) / proposed if proposed else math.nan

    def _planned_runs(self):
        return (self.warmup + self.num_samples * self.thin) * self.num_chains

    def _run(self, args, kwargs):
        self.vectorized, self.fallback_reason = False, None
        if self.executor is not None:
            return parallel.run_split(self, args, kwargs, "chains", self.num_chains, self.chunks or self.num_chains)
        if self.vectorize:
            try:
                return self._run_batched(args, kwargs)
            except NotBatchable as e:
                self.fallback_reason = f"{e.reason}: running the {self.num_chains} chains one by one"
            # Outside the except: an error of the model itself then reads as it would without vectorize.
            warnings.warn(self.fallback_reason, SequentialFallbackWarning, stacklevel=3)
            self._reset()
            self.vectorized = False  # a step, not only the start, may find the model unbatchable
        self._moves = Moves(self.model, self._drift)  # learned by all chains: they walk the same states
        try:
            return self._run_chains(args, kwargs)
        finally:
            self._moves.forget()  # the states learned belong to this run: the posterior keeps none of them

    def _run_chains(self, args, kwargs):
        """The chains one after another, each step one run of the model (or a remembered move)."""
        self.accepted, self.proposed = [], []
        steps_per_chain = self.warmup + self.num_samples * self.thin
        done = 0
        for chain in range(self.num_chains):
            self.accepted.append(0)
            self.proposed.append(0)
            self._runner = _Regenerate(self.model, self._drift)
            state = self._moves.start(self._initial_state(args, kwargs))
            last_added = None
            stays = 0  # kept steps at which the chain stayed in last_added's state, not yet in the store
            proposed = accepted = 0  # (counted here, written to self.proposed / accepted when the chain ends)
            try:
                for step in range(steps_per_chain):
                    counting = step >= self.warmup
                    if state.choices:
                        new = self._propose(state, args, kwargs)
                        if counting:
                            proposed += 1
                        if new is not None:
                            state = new
                            if counting:
                                accepted += 1
                    if counting and (step - self.warmup + 1) % self.thin == 0:
                        if state is last_added:  # the chain stayed: the store repeats its last run, in bulk
                            stays += 1
                            if stays == _STAYS_AT_ONCE:
                                self._add_stays(last_added, stays)
                                stays = 0
                        else:
                            if stays:
                                self._add_stays(last_added, stays)
                                stays = 0
                            values, sites, log_joint = state.record()
                            keep = self.store.num_runs < self.keep_traces
                            self.add_values(values, sites, 0.0, chain, log_joint, state.trace if keep else None)
                            last_added = state
                    done += 1
                    if not done & 7 or step == steps_per_chain - 1:
                        # Every 8th step: a remembered move takes a few microseconds, a report about a tenth of
                        # that; a stop() or a live view waits for at most 7 steps more.
                        self._report(done)
            finally:  # an interrupted chain keeps the steps it took
                self.proposed[chain], self.accepted[chain] = proposed, accepted
                if stays:
                    self._add_stays(last_added, stays)
        return done

    def _add_stays(self, state, times):
        """Add ``state``'s run ``times`` more times: a chain that stayed in it for that many kept steps."""
        self.add_last_again(state.trace if self.store.num_runs < self.keep_traces else None, times)

    def _run_batched(self, args, kwargs):
        """All chains as one batched chain (mh_batched.py); the kept states become one batched trace."""
        k = self.num_chains
        chains = BatchedChains(self.model, k, args, kwargs, steps=self.warmup + self.num_samples * self.thin)
        state = chains.initial()
        self.vectorized = True
        accepted, proposed, done = torch.zeros(k, dtype=torch.long, device=state.total.device), 0, 0
        kept = KeptStates(self.num_samples)
        try:
            for step in range(self.warmup + self.num_samples * self.thin):
                state, accept = chains.step(state)
                if step >= self.warmup:
                    accepted += accept
                    proposed += 1
                    if (step - self.warmup + 1) % self.thin == 0:
                        kept.add(state)
                done += k
                self._report(done)
        finally:  # an interrupted run keeps the states so far
            self.accepted, self.proposed = accepted.tolist(), [proposed] * k
            if kept:
                trace = chains.replay(kept)
                chain_ids = torch.arange(trace.num_runs) % k  # row s * k + c
                self.add_batched(trace, torch.zeros(trace.num_runs, dtype=torch.float64, device=state.total.device),
                                 chain_ids)
        return done

    # ---- chunks of chains on an executor (ppl_kernel.infer.parallel) -----------------------------------
    def _chunk(self, size, offset):
        return MH(self.model, self.num_samples, self.warmup, self.thin, num_chains=size, drift=self._drift_given,
                  vectorize=self.vectorize)

    def _run_chunk(self, args, kwargs):
        self.run(*args, **kwargs)
        result = parallel.compact(self)
        result.stats = {"accepted": self.accepted, "proposed": self.proposed}
        return result

    def _clear_chunks(self):
        parallel.clear(self)
        self.accepted, self.proposed = [], []

    def _absorb(self, result, offset):
        parallel.absorb(self, result, chain_offset=offset)
        self.accepted += result.stats["accepted"]
        self.proposed += result.stats["proposed"]

    def _initial_state(self, args, kwargs):
        for _ in range(_INIT_TRIES):
            state = self._runner.run(_State.EMPTY, None, args, kwargs)
            if state is not None:
                return state
        raise InferenceError(
            f"MH: model '{model_name(self.model)}' had probability zero in each of {_INIT_TRIES} runs from the "
            "prior, so the chain has no starting point. Check that the observations and factors are possible "
            "under the model (a factor of -inf that always fires, data outside a distribution's support)."
        )

    def _propose(self, state, args, kwargs):
        """One MH step from ``state``: the new state if accepted, else None."""
        choices = state.choices
        # (random() * n rather than randrange(n), a few times slower: over n choices its bias is n / 2**53)
        target = choices[int(inference_random.random() * len(choices))]
        moves = self._moves
        proposal = moves.proposal(state, target)
        if proposal is None:  # a continuous target, or one with a drift kernel: the run draws it
            new = self._runner.run(state, target, args, kwargs)
            log_accept = self._log_accept(state, new)
        else:  # a discrete target: drawn here, and the move it makes is run once, then remembered
            draw, u = moves.draw, inference_random.random
            i = draw(proposal[1], u())
            if i == proposal[2]:
                return state  # the value the chain has: the proposal is the current state, accepted (ratio 1)
            move = (target, i)
            known = state.moves.get(move) if state.moves is not None else None
            walked = []  # the fresh choices the move makes, each value drawn from its prior: (node, index)
            while type(known) is Fresh:
                j = draw(known.cumulative, u())
                walked.append((known, j))
                known = known.children.get(j)
            if known is not None:
                new, log_accept = known
            else:
                runner = self._runner
                new = runner.run(state, target, args, kwargs, proposal[0][i], [node.values[j] for node, j in walked])
                log_accept = self._log_accept(state, new)
                new = moves.learn(state, move, walked, runner.fresh, new, log_accept)
        if new is None:  # the run reached probability zero
            return None
        if log_accept >= 0.0 or inference_random.random() < math.exp(log_accept):
            return new
        return None

    @staticmethod
    def _log_accept(state, new):
        """The log acceptance ratio of the run ``new`` (a state; None at probability zero) from ``state``."""
        if new is None:
            return -math.inf
        if new is state:  # the proposal is the current state: its ratio is 1
            return 0.0
        log_accept = new.change + new.fixed - state.fixed + math.log(len(state.choices))
        if new.choices:
            log_accept -= math.log(len(new.choices))
        return log_accept
