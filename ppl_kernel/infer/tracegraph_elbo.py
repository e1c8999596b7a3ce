"""``TraceGraph_ELBO``: Trace_ELBO whose score-function terms charge each non-reparameterizable guide site
only for what comes after it (Pyro's estimator, with its dense dependency graph).

A site drawn at some point of the guide cannot change the log-densities of the sites drawn before it,
in the guide or in the model replayed against it; those terms have zero expected contribution to its
score-function gradient and only add noise. Dropping them (and keeping the plate-wise cost and the
optional decaying-average baselines of Trace_ELBO) gives the same expected gradient with lower variance.
"""

import torch

from .elbo import Trace_ELBO, _Frames


class TraceGraph_ELBO(Trace_ELBO):  # noqa: N801  (Pyro's name)
    """``-ELBO`` with Rao-Blackwellized score-function gradients (see the module docstring); Pyro's arguments.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("c", dist.Bernoulli(0.3))
    >>> def guide():
    ...     pyro.sample("c", dist.Bernoulli(pyro.param("p", torch.tensor(0.3))))
    >>> abs(TraceGraph_ELBO().loss(model, guide)) < 1e-6  # q equals p
    True
    """

    def _score_terms(self, model_trace, guide_trace, score_sites):
        model_sites = [s for s in model_trace.nodes.values() if s.type == "sample" and s.kind != "deterministic"]
        guide_sites = [s for s in guide_trace.nodes.values() if s.is_latent]
        model_order = {s.name: i for i, s in enumerate(model_sites)}
        guide_order = {s.name: i for i, s in enumerate(guide_sites)}
        model_terms = [s.log_prob.detach() for s in model_sites]
        guide_terms = [-s.log_prob.detach() for s in guide_sites]
        total = 0.0
        for site in score_sites:
            later_guide = range(guide_order[site.name], len(guide_sites))
            downstream = {guide_sites[i].name for i in later_guide}
            first_in_model = model_order.get(site.name, len(model_sites))
            log_r = _Frames()
            for i, s in enumerate(model_sites):
                if i >= first_in_model or s.name in downstream:
                    log_r.add(s.cond_indep_stack, model_terms[i])
            for i in later_guide:
                log_r.add(guide_sites[i].cond_indep_stack, guide_terms[i])
            cost = log_r.sum_to(site.cond_indep_stack)
            cost = cost - self._baseline(site, cost) if torch.is_tensor(cost) else cost
            total = total + (site.log_prob * cost).sum()
        return total

    def __repr__(self):
        return f"TraceGraph_ELBO(num_particles={self.num_particles})"
