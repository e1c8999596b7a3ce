"""Many MH chains as one batched chain: each step is one vmapped run of the model for all chains.

For a model whose sites do not depend on sampled values (so every chain has the same random choices,
in the same order), a step of k single-site chains is: pick a target choice per chain, run the model
once under ``vmap`` with each chain's current values, drawing anew only at each chain's target (from its
prior given the chain's other values), score every site per chain, and accept per chain. The acceptance
ratio is single-site MH's with the same choices before and after (so no fresh/stale terms):

    log a = sum over choices r other than the target [log p'(r) - log p(r)] + [fixed' - fixed]

A reused value outside its site's new support scores -inf (the step is rejected for that chain). A step
carries only the choices' values and the scores (:class:`ChainState`); the kept states become one trace
at the end, by one batched replay.
"""

import math

import torch

from ..runtime import Messenger, model_name
from ..vectorize.batched_run import run_batched, run_batched_with
from ..vectorize.fallback import NotBatchable
from .errors import InferenceError

_INIT_TRIES = 100


class _Propose(Messenger):
    """Inside the batched run (one chain's view): every choice keeps the chain's value, except the target,
    which is drawn from its distribution in this run."""

    def __init__(self, index, run_inputs):
        super().__init__()
        self.index, self.target, self.values = index, run_inputs["target"], run_inputs["values"]

    def process_message(self, msg):
        if msg.type != "sample" or msg.is_observed or msg.done or msg.value is not None:
            return
        j = self.index.get(msg.name)
        if j is None:
            raise NotBatchable(f"site '{msg.name}' was not among the chains' random choices")
        msg.value = torch.where(self.target == j, msg.fn.sample(), self.values[msg.name])


def _per_chain(lp, k):
    return lp.reshape(k, -1).sum(1) if lp.dim() > 1 else lp.expand(k)


def _log_prob(site):
    """The site's scaled, masked log-probability, shape (k,) + per-run batch shape."""
    fn, value = site.fn, site.value
    if value.shape != fn.batch_shape + fn.event_shape:
        return site.log_prob  # a value that broadcasts inside each run: score run by run (vmapped)
    # The batched distribution scores all chains in one call (log_prob without the validation of the
    # value: a reused value may lie outside the support, which _site_scores turns into -inf).
    fn._validate_args = False
    lp = fn.log_prob(value)
    if site.scale != 1.0:
        lp = lp * site.scale
    if site.mask is not None:
        lp = torch.zeros_like(lp) if site.mask is False else lp if site.mask is True else \
            torch.where(site.mask, lp, torch.zeros_like(lp))
    return lp


def _scores(trace, k, index):
    """Each chain's total log-probability, shape (k,), and its random choices' log-probabilities, shape
    (k, number of choices) in the order of ``index``; a choice outside its support scores -inf there."""
    evidence, choices, inside = [], [], []
    for site in trace:
        if site.type != "sample":
            continue
        lp = _per_chain(_log_prob(site), k)
        if site.name in index:
            within = site.fn.support.check(site.value)
            inside.append(within.reshape(k, -1).all(1) if within.dim() > 1 else within.expand(k))
            choices.append(lp)
        else:
            evidence.append(lp)
    choice_scores = torch.stack(choices).to(torch.float64).masked_fill(~torch.stack(inside), -math.inf).T
    total = choice_scores.sum(1)
    if evidence:
        total = total + torch.stack(evidence).to(torch.float64).sum(0)
    return total, choice_scores


def _nan_site(trace, k):
    """The first sample site whose log-probability is NaN in some chain, and its (k,) scores."""
    for site in trace:
        if site.type == "sample":
            lp = _per_chain(_log_prob(site), k)
            if bool(torch.isnan(lp).any()):
                return site, lp
    return None, None


class ChainState:
    """Where k chains stand: each random choice's values (tensors with the chain dimension first), each chain's
    total log-probability (shape (k,)) and its random choices' log-probabilities (shape (k, number of choices)).

    A step needs nothing more: the acceptance ratio is a difference of totals less the target's own terms,
    and a rejected chain keeps its row. The distributions, observations and return values of a kept state
    are made once, at the end, by one batched replay of all the kept values (:meth:`BatchedChains.replay`)."""

    __slots__ = ("choice_scores", "total", "values")

    def __init__(self, values, total, choice_scores):
        self.values, self.total, self.choice_scores = values, total, choice_scores


def _mix(accept, new, old):
    """``new`` where ``accept`` (per chain), else ``old``: tensors with the chain dimension first."""
    shape = (accept.shape[0],) + (1,) * (new.dim() - 1)
    return torch.where(accept.reshape(shape), new, old)


class BatchedChains:
    """k chains of single-site MH as one batched chain.

    Raises :class:`NotBatchable` when the model cannot run batched (its reason names the line)."""

    def __init__(self, model, k, args, kwargs):
        self.model, self.k, self.args, self.kwargs = model, k, args, kwargs

    def initial(self):
        """A :class:`ChainState` from a batched prior run whose every chain has nonzero probability (chains at
        zero are drawn again)."""
        trace = run_batched(self.model, self.k, *self.args, **self.kwargs)
        self.choices = [s.name for s in trace if s.is_choice]
        if not self.choices:
            raise NotBatchable(f"model '{model_name(self.model)}' has no random choices to propose")
        self.index = {name: j for j, name in enumerate(self.choices)}
        state = self._state_of(trace)
        for _ in range(_INIT_TRIES):
            bad = ~torch.isfinite(state.total)
            if not bool(bad.any()):
                return state
            again = self._state_of(run_batched(self.model, self.k, *self.args, **self.kwargs))
            state = _mixed(bad, again, state)
        raise InferenceError(
            f"MH: model '{model_name(self.model)}' had probability zero in {_INIT_TRIES} batched runs from the prior "
            "for some chain, so it has no starting point. Check that the observations and factors are possible."
        )

    def _state_of(self, trace):
        total, choice_scores = _scores(trace, self.k, self.index)
        if bool(torch.isnan(total).any()):  # an error naming the site and the chain, not a silent rejection
            site, lp = _nan_site(trace, self.k)
            if site is not None:
                raise _nan_error(self.model, site, lp)
            # no site is NaN: a choice outside its support (-inf) met a density of +inf; the run is impossible
            total = torch.nan_to_num(total, nan=-math.inf)
        return ChainState({name: trace[name].value for name in self.choices}, total, choice_scores)

    def step(self, state):
        """One single-site MH step of every chain: the new :class:`ChainState` and the acceptance mask."""
        k = self.k
        device = state.total.device
        target = torch.randint(len(self.choices), (k,), device=device)
        inputs = {"target": target, "values": state.values}
        trace = run_batched_with(self.model, k, self.args, self.kwargs,
                                 inner=lambda run_inputs: _Propose(self.index, run_inputs), inputs=inputs,
                                 check_values=False)
        if [s.name for s in trace if s.is_choice] != self.choices:
            raise NotBatchable(f"model '{model_name(self.model)}' made other random choices from one step to the next")
        new = self._state_of(trace)
        # log a = sum over sites other than the target of [new - old]: the target's prior cancels its proposal.
        at = target.unsqueeze(1)
        log_accept = (new.total - new.choice_scores.gather(1, at).squeeze(1)) - \
            (state.total - state.choice_scores.gather(1, at).squeeze(1))
        u = torch.rand(k, dtype=torch.float64, device=device)
        accept = torch.log(u) < log_accept
        return _mixed(accept, new, state), accept

    def replay(self, kept):
        """The kept states (a list of :class:`ChainState`) as one BatchedTrace of ``len(kept) * k`` runs (kept
        state s of chain c at row ``s * k + c``): one batched run of the model with every choice's value given."""
        n = len(kept) * self.k
        values = {name: torch.cat([state.values[name] for state in kept]) for name in self.choices}
        device = kept[0].total.device
        inputs = {"target": torch.full((n,), -1, dtype=torch.long, device=device), "values": values}
        return run_batched_with(self.model, n, self.args, self.kwargs,
                                inner=lambda run_inputs: _Propose(self.index, run_inputs), inputs=inputs,
                                check_values=False)


def _mixed(accept, new, old):
    """The ChainState whose chain c is ``new``'s where ``accept[c]``, else ``old``'s."""
    values = {name: _mix(accept, value, old.values[name]) for name, value in new.values.items()}
    return ChainState(values, torch.where(accept, new.total, old.total),
                      torch.where(accept.unsqueeze(1), new.choice_scores, old.choice_scores))


def _nan_error(model, site, lp):
    what = f"factor '{site.name}'" if site.infer.get("is_auxiliary") else f"site '{site.name}'"
    chain = int(torch.nonzero(torch.isnan(lp))[0])
    return InferenceError(
        f"MH: {what} of model '{model_name(model)}' has log-probability NaN (not a number) in chain {chain}, so the "
        "run's probability is undefined. Check that site's parameters and value (a NaN in the data, a 0/0 or "
        "inf - inf in an expression)."
    )
