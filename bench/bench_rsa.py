"""Pyro's RSA scalar-implicature model solved by nested exact search, ppl_kernel against pyro-ppl in one run.

    python bench/bench_rsa.py [rounds]

The search (a ``TracePosterior`` subclass driving ``poutine.queue``) and the three nested models are
written once, against whichever library is passed in; each timed call builds fresh memoised marginals,
so every level is searched again (5 + 3 x 5 + 5 runs, nested). The two libraries are timed in turns and
the best rate of each is kept. Ratio = ours / pyro-ppl (above 1: faster). One torch thread.
"""

import functools
import os
import queue
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import paired_rates, peer_pyro, report


def make_rsa(pyro, dist, poutine, trace_posterior, logsumexp):
    """The pragmatic listener of "some", with its own exact search, against one library's modules."""

    class Search(trace_posterior):
        def __init__(self, model):
            self.model = model
            super().__init__()

        def _traces(self, *args):
            partial = queue.Queue()
            partial.put(poutine.Trace())
            run = poutine.trace(poutine.queue(self.model, queue=partial))
            while not partial.empty():
                tr = run.get_trace(*args)
                yield tr, tr.log_prob_sum()

    class Marginal(dist.Distribution):
        has_enumerate_support = True
        arg_constraints = {}  # noqa: RUF012

        def __init__(self, posterior):
            super().__init__()
            table = {}
            for tr, lw in zip(posterior.exec_traces, posterior.log_weights, strict=True):
                value = tr.nodes["_RETURN"]["value"]
                key = value.item() if torch.is_tensor(value) else value
                lw = torch.as_tensor(lw)
                table[key] = (value, lw if key not in table else logsumexp(torch.stack([table[key][1], lw]), dim=-1))
            self.values = [v for v, _ in table.values()]
            self.keys = list(table)
            logits = torch.stack([lw for _, lw in table.values()])
            self.categorical = dist.Categorical(logits=logits - logsumexp(logits, dim=-1))

        def sample(self, sample_shape=torch.Size()):
            return self.values[int(self.categorical.sample())]

        def log_prob(self, value):
            key = value.item() if torch.is_tensor(value) else value
            return self.categorical.log_prob(torch.tensor(self.keys.index(key)))

    def marginal(fn):
        return functools.lru_cache(maxsize=None)(lambda *args: Marginal(Search(fn).run(*args)))

    meanings = {"none": lambda n: n == 0, "some": lambda n: n > 0, "all": lambda n: n == 4}

    def pragmatic_of_some():
        @marginal
        def literal(utterance):
            state = pyro.sample("state", dist.Categorical(probs=torch.ones(5) / 5))
            pyro.factor("meaning", 0.0 if meanings[utterance](state) else -999999.0)
            return state

        @marginal
        def speaker(state):
            utterance = ["none", "some", "all"][pyro.sample("utt", dist.Categorical(probs=torch.ones(3) / 3))]
            pyro.sample("listener", literal(utterance), obs=state)
            return utterance

        @marginal
        def pragmatic(utterance):
            state = pyro.sample("state", dist.Categorical(probs=torch.ones(5) / 5))
            pyro.sample("speaker", speaker(state), obs=utterance)
            return state

        return pragmatic("some")

    return pragmatic_of_some


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    import ppl_kernel
    import ppl_kernel.distributions
    from ppl_kernel.distributions.util import logsumexp as our_logsumexp
    from ppl_kernel.infer.abstract_infer import TracePosterior as OurTracePosterior

    ours = make_rsa(ppl_kernel, ppl_kernel.distributions, ppl_kernel.poutine, OurTracePosterior, our_logsumexp)
    pyro = peer_pyro("distributions", "distributions.util", "poutine", "infer.abstract_infer")
    peer = None if pyro is None else make_rsa(pyro, pyro.distributions, pyro.poutine,
                                              pyro.infer.abstract_infer.TracePosterior, pyro.distributions.util.logsumexp)
    check = ours()
    assert abs(check.log_prob(torch.tensor(4)).exp().item() - 0.0625) < 1e-9  # the implicature, exactly
    rate, peer_rate = paired_rates((ours, 3), (peer, 3) if peer is not None else None, rounds=rounds)
    report([("RSA implicature: pragmatic listener of 'some'", rate, peer_rate)],
           "Nested exact search (listener / speaker / listener), solves per second")


if __name__ == "__main__":
    main()
