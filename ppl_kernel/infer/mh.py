"""Lightweight single-site Metropolis-Hastings over traces (Wingate, Stuhlmüller & Goodman 2011; WebPPL's MH).

One step: pick a random choice of the current run uniformly, propose a new value for it from its
prior, and run the model again reusing the values of same-named choices. Choices the new run makes
that the old did not (*fresh*) are drawn from their priors; choices the old run made that the new
one skips are *stale*. With R the choices both runs make (other than the picked one), D and D' the
choices of the old and new run, and "fixed" the observed sites and factors, the acceptance ratio is

    log a = sum_R [log p'(r) - log p(r)] + [fixed' - fixed] + log |D| - log |D'|

because the picked site's prior terms cancel against the proposal, and each fresh (stale) site's
prior cancels against the probability of proposing (reversing) it.
"""

import math
import random

from ..poutine.trace_messenger import TraceMessenger
from ..runtime import model_name
from .errors import InferenceError
from .posterior import TracePosterior
from .sites import nan_score_error, score, score_reused

_INIT_TRIES = 1000


class _Regenerate(TraceMessenger):
    """Trace a run that reuses the old run's values for same-named random choices, except the target.

    One instance serves a whole chain (each run gets a fresh Trace), so a step costs one handler.
    """

    def __init__(self, model):
        super().__init__(model, calls=False)
        self.old_values = {}
        self.target = None

    def process_message(self, msg):
        if msg.value is not None or not msg.is_choice:
            return
        name = msg.name
        if name != self.target:
            value = self.old_values.get(name)
            if value is not None:
                msg.value = value

    def run(self, old_values, target, args, kwargs):
        self.old_values, self.target = old_values, target
        return self.get_trace(*args, **kwargs)


class _State:
    """One chain's current run: its trace, its choices' scores, the fixed sites' total."""

    __slots__ = ("choices", "fixed", "scores", "trace", "values")

    def __init__(self, trace, choices, values, scores, fixed):
        self.trace, self.choices, self.values, self.scores, self.fixed = trace, choices, values, scores, fixed


class MH(TracePosterior):
    """Single-site Metropolis-Hastings with prior proposals, for models whose sites change run to run.

    Each of ``num_chains`` chains starts from a prior run with nonzero probability, takes
    ``warmup`` steps, then keeps every ``thin``-th state until it has ``num_samples`` (so a chain
    takes ``warmup + num_samples * thin`` steps). The stored traces have equal weight;
    ``chain_ids`` says which chain made each. ``acceptance_rate`` is the fraction of accepted
    proposals after warmup (``acceptance_rates`` per chain). ``progress(posterior, done, total)``
    counts steps of all chains, warmup included.

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
    """

    def __init__(self, model, num_samples=1000, warmup=0, thin=1, num_chains=1, progress=None):
        super().__init__(model, progress)
        for what, value, least in (("num_samples", num_samples, 1), ("warmup", warmup, 0), ("thin", thin, 1),
                                   ("num_chains", num_chains, 1)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"MH: {what} must be an integer >= {least}, got {value!r}")
        self.num_samples, self.warmup, self.thin, self.num_chains = num_samples, warmup, thin, num_chains
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
        self.accepted, self.proposed = [], []
        steps_per_chain = self.warmup + self.num_samples * self.thin
        done = 0
        for chain in range(self.num_chains):
            self.accepted.append(0)
            self.proposed.append(0)
            self._runner = _Regenerate(self.model)
            state = self._initial_state(args, kwargs)
            for step in range(steps_per_chain):
                counting = step >= self.warmup
                if state.choices:
                    new = self._propose(state, args, kwargs)
                    if counting:
                        self.proposed[chain] += 1
                    if new is not None:
                        state = new
                        if counting:
                            self.accepted[chain] += 1
                if counting and (step - self.warmup + 1) % self.thin == 0:
                    self.add(state.trace, 0.0, chain, log_joint=state.fixed + math.fsum(state.scores.values()))
                done += 1
                self._report(done)
        return done

    def _initial_state(self, args, kwargs):
        for _ in range(_INIT_TRIES):
            trace = self._runner.run({}, None, args, kwargs)
            state = _score_fresh(trace)
            if state.fixed != state.fixed or any(s != s for s in state.scores.values()):
                raise nan_score_error(trace, self.model)
            if state.fixed > -math.inf and all(s > -math.inf for s in state.scores.values()):
                return state
        raise InferenceError(
            f"MH: model '{model_name(self.model)}' had probability zero in each of {_INIT_TRIES} runs from the "
            "prior, so the chain has no starting point. Check that the observations and factors are possible "
            "under the model (a factor of -inf that always fires, data outside a distribution's support)."
        )

    def _propose(self, state, args, kwargs):
        """One MH step from ``state``: the new state if accepted, else None."""
        choices = state.choices
        target = choices[random.randrange(len(choices))]
        trace = self._runner.run(state.values, target, args, kwargs)
        old_scores = state.scores
        log_accept = 0.0
        fixed = 0.0
        new_choices, new_values, new_scores = [], {}, {}
        for site in trace:
            if site.type != "sample":
                continue
            name = site.name
            if not site.is_choice:
                fixed += score(site)
                continue
            new_choices.append(name)
            new_values[name] = site.value
            if name != target and name in old_scores:
                lp = score_reused(site)
                log_accept += lp - old_scores[name]
            else:
                lp = score(site)
            new_scores[name] = lp
        if fixed != fixed or log_accept != log_accept:
            raise nan_score_error(trace, self.model)
        if fixed == -math.inf or log_accept == -math.inf:
            return None
        log_accept += fixed - state.fixed + math.log(len(choices))
        if new_choices:
            log_accept -= math.log(len(new_choices))
        if log_accept >= 0.0 or random.random() < math.exp(log_accept):
            return _State(trace, new_choices, new_values, new_scores, fixed)
        return None


def _score_fresh(trace):
    choices, values, scores, fixed = [], {}, {}, 0.0
    for site in trace:
        if site.type != "sample":
            continue
        if site.is_choice:
            choices.append(site.name)
            values[site.name] = site.value
            scores[site.name] = score(site)
        else:
            fixed += score(site)
    return _State(trace, choices, values, scores, fixed)
