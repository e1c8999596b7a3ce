"""Models whose set of sites changes from run to run: MH's fresh/stale correction gives the exact posterior.

Enumerate gives the exact answer; MH must match it within its error. A wrong correction (leaving
out the fresh or stale sites, or the change in the number of sites) moves the answer by many
standard errors at these chain lengths.
"""

import math

import torch

from ppl_kernel.infer import MH, EmpiricalMarginal, Enumerate

from .models import MAX_DEPTH, branching, observed_geometric
from .stats import batch_means_se


def _exact(model):
    return EmpiricalMarginal(Enumerate(model).run())


def _assert_chain_matches(exact, chain_values, outcomes):
    for outcome in outcomes:
        hits = torch.tensor([float(v == outcome) for v in chain_values], dtype=torch.float64)
        p = exact.probability(outcome)
        # A rare outcome the chain never (or always) hit has a batch-means SE of 0; a chain's SE is not below that
        # of as many independent draws, sqrt(p (1 - p) / n), which then stands in for it.
        se = max(batch_means_se(hits), math.sqrt(p * (1 - p) / len(hits)))
        assert abs(hits.mean().item() - p) < 5 * se, (outcome, hits.mean().item(), p)


def test_enumerate_follows_the_recursion():
    exact = _exact(observed_geometric)
    assert exact.support == list(range(MAX_DEPTH + 2))
    # By hand: P(n = k) is proportional to 0.6^k 0.4 (0.6^7 at the cap) times N(3.4; k, 1).
    prior = [0.6**k * 0.4 for k in range(MAX_DEPTH + 1)] + [0.6 ** (MAX_DEPTH + 1)]
    joint = [pk * math.exp(-0.5 * (3.4 - k) ** 2) for k, pk in enumerate(prior)]
    for k, pk in enumerate(joint):
        assert abs(exact.probability(k) - pk / sum(joint)) < 1e-6


def test_mh_on_a_recursive_geometric_with_an_observation():
    exact = _exact(observed_geometric)
    posterior = MH(observed_geometric, num_samples=5000, warmup=300).run()
    values = EmpiricalMarginal(posterior).values
    _assert_chain_matches(exact, values, range(MAX_DEPTH + 2))
    ns = torch.tensor(values, dtype=torch.float64)
    assert abs(ns.mean().item() - exact.mean.item()) < 5 * batch_means_se(ns)


def test_mh_on_branches_with_different_sites():
    exact = _exact(branching)
    assert len(exact.support) == 7  # (a, value): a=1 gives x in 0..2; a=0 gives x + d + e in 0..3
    posterior = MH(branching, num_samples=5000, warmup=300).run()
    values = EmpiricalMarginal(posterior).values
    _assert_chain_matches(exact, values, exact.support)
    # both sides were visited, with their own sites
    sites = {tuple(sorted(s.name for s in tr)) for tr in posterior.traces}
    assert sites == {("a", "reading", "x"), ("a", "d", "e", "reading", "x")}
