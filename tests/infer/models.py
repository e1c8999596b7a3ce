"""Models the inference tests share, with their exact posteriors where a closed form exists."""

import math

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine

from ..core.seed_models import weather

weather_at_70 = poutine.condition(weather, data={"temp": torch.tensor([70.0])})


def normal_pdf(x, mu, sigma):
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


# P(cloudy | temp = 70), the closed form.
CLOUDY_LIKELIHOOD = normal_pdf(70.0, 55.0, 10.0)
SUNNY_LIKELIHOOD = normal_pdf(70.0, 75.0, 15.0)
EVIDENCE_AT_70 = 0.3 * CLOUDY_LIKELIHOOD + 0.7 * SUNNY_LIKELIHOOD
P_CLOUDY_AT_70 = 0.3 * CLOUDY_LIKELIHOOD / EVIDENCE_AT_70


def is_cloudy(value):
    return value[0] == "cloudy"


# ---- x, y ~ flip(0.5) with a factor when neither is true ------------------------------------------------
def either_coin(log_factor):
    def model():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        y = pyro.sample("y", dist.Bernoulli(0.5))
        pyro.factor("x or y", 0.0 if (x.item() or y.item()) else log_factor)
        return x

    return model


P_X_HARD = 2 / 3
P_X_SOFT = 2 / (3 + math.exp(-2.0))


# ---- conjugate normal-normal: x ~ N(0, 1), y_i ~ N(x, 1) -----------------------------------------------
NORMAL_DATA = torch.tensor([0.8, 1.6])


def normal_normal():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(NORMAL_DATA)):
        pyro.sample("y", dist.Normal(x, 1.0), obs=NORMAL_DATA)
    return x


# Posterior precision 1 + n, mean sum(y) / (1 + n).
NORMAL_POST_VAR = 1.0 / (1 + len(NORMAL_DATA))
NORMAL_POST_MEAN = NORMAL_DATA.sum().item() * NORMAL_POST_VAR


# ---- Beta-Bernoulli coin ----------------------------------------------------------------------------------
TOSSES = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0])
ALPHA, BETA = 2.0, 2.0
HEADS, TAILS = int(TOSSES.sum().item()), int((1 - TOSSES).sum().item())
POST_A, POST_B = ALPHA + HEADS, BETA + TAILS


def coin():
    p = pyro.sample("p", dist.Beta(ALPHA, BETA))
    with pyro.plate("tosses", len(TOSSES)):
        pyro.sample("toss", dist.Bernoulli(p), obs=TOSSES)
    return p


def beta_mean_var(a, b):
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))


def beta_cdf(x, a, b, steps=20000):
    """Regularized incomplete beta by the midpoint rule (smooth integrand for a, b >= 1)."""
    norm = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    h = x / steps
    return norm * h * sum(((i + 0.5) * h) ** (a - 1) * (1 - (i + 0.5) * h) ** (b - 1) for i in range(steps))


# ---- universal models: the set of sites changes from run to run ------------------------------------------
MAX_DEPTH = 6


def geometric(p, t=0):
    """Counts successes before the first failure, capped at MAX_DEPTH so that Enumerate ends."""
    x = pyro.sample(f"x_{t}", dist.Bernoulli(p))
    if x.item() == 0 or t == MAX_DEPTH:
        return t + int(x.item())
    return geometric(p, t + 1)


def observed_geometric():
    n = geometric(0.6)
    pyro.sample("reading", dist.Normal(float(n), 1.0), obs=torch.tensor(3.4))
    return n


def branching():
    """One side makes one more choice, the other three; 'x' is a die on one side and a coin on the other."""
    a = pyro.sample("a", dist.Bernoulli(0.4))
    if a.item():
        x = pyro.sample("x", dist.Categorical(torch.tensor([0.2, 0.3, 0.5])))
        value = x.item()
    else:
        x = pyro.sample("x", dist.Bernoulli(0.7))
        d = pyro.sample("d", dist.Bernoulli(0.5))
        e = pyro.sample("e", dist.Bernoulli(0.5))
        value = x.item() + d.item() + e.item()
    pyro.sample("reading", dist.Normal(float(value), 1.5), obs=torch.tensor(1.3))
    return int(a.item()), int(value)
