"""MH moves between states of discrete choices, remembered: the model runs once per move, not once per step.

A run of the model is determined by its random choices: the same values give the same sites, scores and
return value (the premise of single-site MH, which reuses values across runs). A step that proposes a
*discrete* choice from its prior draws one of finitely many values, and the run that follows reuses every
other value of the current state. If that run draws nothing fresh (no choice the state did not make), its
outcome (the new state and the log acceptance ratio, or probability zero) is fixed by the state, the target
and the value drawn. So it is remembered on the state, and the next time the chain is in that state and
draws that target and that value, the step is a look-up. States with the same choices are made one object,
so that a chain coming back to a state finds the moves it learned there.

A run that does draw fresh choices (a recursion that goes one level deeper) has an outcome that also
depends on what they drew. Where those are discrete too, the move leads to a tree of them (:class:`Fresh`):
each node holds a fresh choice's prior (the same in every such run, the run being the same up to it), the
step draws its value from that prior and follows the branch, and the model runs only where a branch is new,
with the values drawn so far given to its fresh choices in order.

On the small discrete models of teaching (dice, coins, the weather question, a tug of war) a chain soon
knows every move it makes, and most steps run no model at all. It is the same Markov chain as without the
memo: the value is drawn from the same prior (the target's distribution in the current state, which the new
run would compute again from the same values before it; drawn here by inverse CDF from the inference
generator), and accepted by the same ratio. A continuous target or fresh choice, and a target with a drift
kernel, run the model as before.

The memo holds the sites of at most ``MAX_SITES`` remembered states and at most ``MAX_MOVES`` moves; past
either it stops learning (the moves it knows are still used), so a model with too many states to learn costs a
little bookkeeping, not memory.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import MH
>>> runs = []
>>> def dice():
...     runs.append(1)
...     a = pyro.sample("a", dist.Categorical(torch.ones(6)))
...     b = pyro.sample("b", dist.Categorical(torch.ones(6)))
...     pyro.factor("at least 8", 0.0 if a + b + 2 >= 8 else -math.inf)
...     return a + 1
>>> posterior = MH(dice, num_samples=20000).run()
>>> len(runs) < 600  # 15 possible states, 2 targets, 6 values: at most 180 moves to learn, not 20000 runs
True
"""

import bisect
import itertools
import math

import torch

from .finite_support import SupportTable
from .posterior import value_key

MAX_SITES = 100_000  # sites of remembered states (about 1.1 KB each with their distributions and values)
MAX_MOVES = 500_000  # remembered moves (about 100 bytes each)
_MAX_VALUES = 1024  # a choice with more values than this is proposed by a run of the model
_UNKNOWN = object()


class Moves:
    """The moves one MH run has learned, and its states made one object per set of choices."""

    def __init__(self, model, drift):
        self.drift = drift
        self.table = SupportTable(model, _MAX_VALUES)  # Enumerate's: each prior's values and scores, cached
        self.states = {}  # the choices of a state, as a tuple of (name, value key) -> the state
        self.sites = self.moves = 0  # sites held by remembered states, moves remembered
        self.learning = True

    def proposal(self, state, target):
        """``(values, cumulative probabilities, index of the current value)``: the prior of ``target`` in
        ``state`` to draw a proposal from, or None where the step must run the model."""
        known = state.proposals
        if known is None:
            known = state.proposals = {}
        proposal = known.get(target, _UNKNOWN)
        if proposal is _UNKNOWN:
            proposal = known[target] = self._proposal(state.sites[target])
        return proposal

    def _proposal(self, site):
        if self.drift(site) is not None:
            return None
        return self._prior(site)

    def _prior(self, site):
        """``(values, cumulative probabilities, index of the site's value)`` of a discrete scalar choice, or None."""
        fn = site.fn
        if not getattr(fn, "has_enumerate_support", False):
            return None
        value = site.value
        if type(value) is torch.Tensor and (value.dim() != 0 or value.requires_grad):
            return None  # (a vector of choices, inside a vectorized plate: its values are a product)
        values, scores = self.table.expand(site)
        if len(values) > _MAX_VALUES:
            return None
        current = _index_of(value, values)
        if current is None:
            return None
        return values, list(itertools.accumulate(math.exp(s) for s in scores)), current

    @staticmethod
    def draw(cumulative, u):
        """The index of the value that ``u`` (uniform on [0, 1)) draws by inverse CDF."""
        return min(bisect.bisect_right(cumulative, u * cumulative[-1]), len(cumulative) - 1)

    def learn(self, state, move, walked, fresh, new, log_accept):
        """Remember that ``move`` (target, index) from ``state``, through the fresh choices' branches ``walked``
        (``(node, index)`` pairs, the last one's branch new), gives ``new`` (None: probability zero) with
        ``log_accept``. ``fresh`` are the sites of the run's fresh choices, in order: those past ``walked`` become
        new nodes, when each is discrete. Returns the state to continue from (the one object of its choices)."""
        if not self.learning or len(fresh) < len(walked):
            return new
        nodes = []
        for site in fresh[len(walked):]:
            prior = self._prior(site)
            if prior is None:  # a fresh choice with no finite prior to branch on: this move runs every time
                return new
            nodes.append(prior)
        if new is not None and new is not state:
            new = self._one_of_its_kind(new)
        entry = (new, log_accept)
        for values, cumulative, index in reversed(nodes):
            entry = Fresh(values, cumulative, {index: entry})
        if walked:
            node, index = walked[-1]
            node.children[index] = entry
        else:
            moves = state.moves
            if moves is None:
                moves = state.moves = {}
            moves[move] = entry
        self.moves += 1
        if self.moves >= MAX_MOVES:
            self.learning = False
        return new

    def _one_of_its_kind(self, state):
        key = _choices_key(state)
        known = self.states.get(key)
        if known is not None:
            return known
        self.states[key] = state
        self.sites += len(state.sites)
        if self.sites > MAX_SITES:
            self.learning = False
        return state

    def forget(self):
        """Let go of the states learned (at the end of a run: what the posterior keeps is in its store)."""
        self.states, self.learning = {}, False

    def start(self, state):
        """The chain's first state, as the one object of its choices."""
        return self._one_of_its_kind(state) if self.learning else state


class Fresh:
    """A fresh choice that a remembered move makes: its values, their cumulative prior probabilities, and what
    follows each value drawn so far (``children``: index -> the next Fresh node, or ``(new state, log
    acceptance ratio)``)."""

    __slots__ = ("values", "cumulative", "children")

    def __init__(self, values, cumulative, children):
        self.values, self.cumulative, self.children = values, cumulative, children


def _index_of(value, values):
    """Where ``value`` is among a choice's ``values`` (None if it is not): the very object, or an equal value."""
    for i, v in enumerate(values):
        if v is value:
            return i
    key = value_key(value)
    for i, v in enumerate(values):
        if value_key(v) == key:
            return i
    return None


def _choices_key(state):
    """The state's choices as a hashable tuple: two states with the same key are one run."""
    sites = state.sites
    return tuple((name, value_key(sites[name].value)) for name in state.choices)
