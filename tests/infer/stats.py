"""Standard errors for the statistical tests (each assertion uses 5 of them)."""

import math

import torch


def snis_se(marginal, f):
    """Standard error of a self-normalized importance estimate sum_i w_i f(v_i) (delta method):
    se^2 = sum_i w_i^2 (f(v_i) - estimate)^2 with normalized weights w."""
    w = marginal.weights
    fv = torch.tensor([float(f(v)) for v in marginal.values], dtype=torch.float64)
    est = (w * fv).sum()
    return math.sqrt(float((w * w * (fv - est) ** 2).sum()))


def batch_means_se(xs, batches=25):
    """Standard error of the mean of a correlated chain by batch means: the chain is cut into
    ``batches`` consecutive blocks, long against its autocorrelation, whose means are nearly independent."""
    xs = torch.as_tensor(xs, dtype=torch.float64)
    n = len(xs) // batches * batches
    means = xs[:n].reshape(batches, -1).mean(1)
    return float(means.std() / math.sqrt(batches))


def two_state_chain_se(p, a, b, n):
    """SE of the fraction of time a two-state Markov chain spends in state 1 over n steps.

    a = P(0 -> 1), b = P(1 -> 0), stationary p = a / (a + b); the chain's second eigenvalue is
    lam = 1 - a - b and the asymptotic variance of the mean is p (1 - p) (1 + lam) / (1 - lam) / n.
    """
    lam = 1 - a - b
    return math.sqrt(p * (1 - p) * (1 + lam) / (1 - lam) / n)
