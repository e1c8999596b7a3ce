"""Many MH chains as one batched chain: each step is one vmapped run of the model for all chains.

For a model whose sites do not depend on sampled values (so every chain has the same random choices,
in the same order), a step of k single-site chains is: pick a target choice per chain, run the model
once under ``vmap`` with each chain's current values, drawing anew only at each chain's target (from its
prior given the chain's other values), score every site per chain, and accept per chain. The acceptance
ratio is single-site MH's with the same choices before and after (so no fresh/stale terms):

    log a = sum over choices r other than the target [log p'(r) - log p(r)] + [fixed' - fixed]

A reused value outside its site's new support scores -inf (the step is rejected for that chain).
"""

import math

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from ..runtime import Messenger, model_name
from ..trace import RETURN
from ..vectorize.batched_run import run_batched, run_batched_with
from ..vectorize.batched_trace import BatchedSite, BatchedTrace, distribution_tensors, rebuild_distribution
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


def _site_scores(trace, k, choices):
    """Each sample site's log-probability per chain, shape (k,); a choice outside its support gets -inf."""
    scores = {}
    for site in trace:
        if site.type != "sample":
            continue
        lp = _per_chain(_log_prob(site), k).to(torch.float64)
        if site.name in choices:
            support = site.fn.support
            inside = support.check(site.value)
            inside = inside.reshape(k, -1).all(1) if inside.dim() > 1 else inside.expand(k)
            lp = torch.where(inside, lp, torch.full_like(lp, -math.inf))
        scores[site.name] = lp
    return scores


def _mix(accept, new, old):
    """``new`` where ``accept`` (per chain), else ``old``: tensors with the chain dimension first."""
    shape = (accept.shape[0],) + (1,) * (new.dim() - 1)
    return torch.where(accept.reshape(shape), new, old)


class BatchedChains:
    """k chains of single-site MH as one batched chain; ``run`` returns the kept states as one BatchedTrace
    of ``num_samples * k`` runs (state after kept step s of chain c at row ``s * k + c``).

    Raises :class:`NotBatchable` when the model cannot run batched (its reason names the line)."""

    def __init__(self, model, k, args, kwargs):
        self.model, self.k, self.args, self.kwargs = model, k, args, kwargs

    def initial(self):
        """A batched prior run whose every chain has nonzero probability (chains at zero are drawn again)."""
        state = run_batched(self.model, self.k, *self.args, **self.kwargs)
        self.choices = [s.name for s in state if s.is_choice]
        if not self.choices:
            raise NotBatchable(f"model '{model_name(self.model)}' has no random choices to propose")
        self.index = {name: j for j, name in enumerate(self.choices)}
        scores = _site_scores(state, self.k, self.index)
        for _ in range(_INIT_TRIES):
            bad = ~torch.isfinite(sum(scores.values()))
            if not bool(bad.any()):
                return state, scores
            again = run_batched(self.model, self.k, *self.args, **self.kwargs)
            again_scores = _site_scores(again, self.k, self.index)
            state, scores = self._mixed(bad, again, state, again_scores, scores)
        raise InferenceError(
            f"MH: model '{model_name(self.model)}' had probability zero in {_INIT_TRIES} batched runs from the prior "
            "for some chain, so it has no starting point. Check that the observations and factors are possible."
        )

    def step(self, state, scores):
        """One single-site MH step of every chain: the new (state, scores) and the acceptance mask."""
        k, device = self.k, state[self.choices[0]].value.device
        target = torch.randint(len(self.choices), (k,), device=device)
        inputs = {"target": target, "values": {name: state[name].value for name in self.choices}}
        new = run_batched_with(self.model, k, self.args, self.kwargs,
                               inner=lambda run_inputs: _Propose(self.index, run_inputs), inputs=inputs,
                               check_values=False)
        if [s.name for s in new if s.is_choice] != self.choices:
            raise NotBatchable(f"model '{model_name(self.model)}' made other random choices from one step to the next")
        new_scores = _site_scores(new, k, self.index)
        log_accept = torch.zeros(k, dtype=torch.float64, device=device)
        for name, lp in new_scores.items():
            j = self.index.get(name)
            change = lp - scores[name]
            if j is not None:  # the target's prior cancels against its proposal
                change = torch.where(target == j, torch.zeros_like(change), change)
            if bool(torch.isnan(change).any()):
                raise _nan_error(self.model, new[name], lp, scores[name])
            log_accept = log_accept + change
        u = torch.rand(k, dtype=torch.float64, device=device)
        accept = torch.log(u) < log_accept
        state, scores = self._mixed(accept, new, state, new_scores, scores)
        return state, scores, accept

    def _mixed(self, accept, new, old, new_scores, old_scores):
        """The BatchedTrace (and scores) whose chain c is ``new``'s where ``accept[c]``, else ``old``'s."""
        k = self.k
        mixed = BatchedTrace(k, old.root)
        for name, site in new.nodes.items():
            if name == RETURN:
                continue
            before = old.nodes[name]
            if site.type != "sample":
                mixed.nodes[name] = site
                continue
            mixed.nodes[name] = _mixed_site(accept, site, before)
        ret_new, spec = tree_flatten(new.nodes[RETURN].value)
        ret_old, _ = tree_flatten(old.nodes[RETURN].value)
        ret = [_mix(accept, a, b) if isinstance(a, torch.Tensor) else a for a, b in zip(ret_new, ret_old, strict=True)]
        mixed.nodes[RETURN] = type(new.nodes[RETURN])("return", RETURN, None, (), {}, tree_unflatten(ret, spec))
        scores = {name: torch.where(accept, lp, old_scores[name]) for name, lp in new_scores.items()}
        return mixed, scores


def _mixed_site(accept, site, before):
    one = BatchedSite(site.type, site.name, None, (), {}, _mix(accept, site.value, before.value), site.is_observed,
                      site.infer)
    one.scale, one.cond_indep_stack, one.done, one.per_run_fn = site.scale, site.cond_indep_stack, site.done, \
        site.per_run_fn
    one.mask = _mix(accept, site.mask, before.mask) if isinstance(site.mask, torch.Tensor) else site.mask
    mixed = [_mix(accept, a, b) for a, b in zip(distribution_tensors(site.fn), distribution_tensors(before.fn),
                                                 strict=True)]
    one.fn = rebuild_distribution(site.fn, mixed)
    return one


def concatenate(traces, k):
    """The kept states (BatchedTraces of k chains each) as one BatchedTrace of ``len(traces) * k`` runs."""
    first = traces[0]
    n = len(traces) * k
    out = BatchedTrace(n, first.root)
    for name, site in first.nodes.items():
        if name == RETURN:
            continue
        if site.type != "sample":
            out.nodes[name] = site
            continue
        sites = [t.nodes[name] for t in traces]
        one = BatchedSite(site.type, name, None, (), {}, torch.cat([s.value for s in sites]), site.is_observed,
                          site.infer)
        one.scale, one.cond_indep_stack, one.done, one.per_run_fn = site.scale, site.cond_indep_stack, site.done, \
            site.per_run_fn
        one.mask = torch.cat([s.mask for s in sites]) if isinstance(site.mask, torch.Tensor) else site.mask
        columns = zip(*[distribution_tensors(s.fn) for s in sites], strict=True)
        cat = [torch.cat([_runs_first(t, k) for t in column]) for column in columns]
        one.fn = rebuild_distribution(site.fn, cat)
        one.fn._batch_shape = torch.Size((n,)) + site.fn.batch_shape[1:]
        out.nodes[name] = one
    leaves = [tree_flatten(t.nodes[RETURN].value) for t in traces]
    spec = leaves[0][1]
    ret = [torch.cat([lv[i] for lv, _ in leaves]) if isinstance(leaf, torch.Tensor) else leaf
           for i, leaf in enumerate(leaves[0][0])]
    out.nodes[RETURN] = type(first.nodes[RETURN])("return", RETURN, None, (), {}, tree_unflatten(ret, spec))
    return out


def _runs_first(tensor, k):
    # A parameter shared by all runs is broadcast (an expanded view); give it its k rows before concatenating.
    return tensor if tensor.dim() and tensor.shape[0] == k else tensor.expand((k,) + tensor.shape)


def _nan_error(model, site, new_lp, old_lp):
    what = f"factor '{site.name}'" if site.infer.get("is_auxiliary") else f"site '{site.name}'"
    chain = int(torch.nonzero(torch.isnan(new_lp - old_lp))[0])
    return InferenceError(
        f"MH: {what} of model '{model_name(model)}' has log-probability NaN (not a number) in chain {chain}, so the "
        "run's probability is undefined. Check that site's parameters and value (a NaN in the data, a 0/0 or "
        "inf - inf in an expression)."
    )
