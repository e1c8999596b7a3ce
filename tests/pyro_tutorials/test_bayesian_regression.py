"""Pyro's Bayesian regression tutorials (parts I and II) on synthetic data shaped like theirs (ruggedness,
Africa indicator, log GDP): a PyroModule regression fitted by SVI with AutoDiagonalNormal and read by
Predictive, and the same regression written as a function sampled by NUTS."""

import torch


def make_data():
    torch.manual_seed(0)
    is_cont_africa = (torch.rand(120) < 0.3).float()
    ruggedness = torch.rand(120) * 6
    log_gdp = 9.2 - 1.9 * is_cont_africa - 0.2 * ruggedness + 0.35 * is_cont_africa * ruggedness \
        + 0.9 * torch.randn(120)
    return is_cont_africa, ruggedness, log_gdp


def test_part_one_pyro_module_with_svi_and_predictive():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Predictive, Trace_ELBO
    from pyro.infer.autoguide import AutoDiagonalNormal
    from pyro.nn import PyroModule, PyroSample
    from torch import nn

    is_cont_africa, ruggedness, log_gdp = make_data()
    x_data = torch.stack([is_cont_africa, ruggedness, is_cont_africa * ruggedness], 1)
    y_data = log_gdp

    class BayesianRegression(PyroModule):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.linear = PyroModule[nn.Linear](in_features, out_features)
            self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([out_features, in_features]).to_event(2))
            self.linear.bias = PyroSample(dist.Normal(0.0, 10.0).expand([out_features]).to_event(1))

        def forward(self, x, y=None):
            sigma = pyro.sample("sigma", dist.Uniform(0.0, 10.0))
            mean = self.linear(x).squeeze(-1)
            with pyro.plate("data", x.shape[0]):
                pyro.sample("obs", dist.Normal(mean, sigma), obs=y)
            return mean

    model = BayesianRegression(3, 1)
    guide = AutoDiagonalNormal(model)
    adam = pyro.optim.Adam({"lr": 0.03})
    svi = SVI(model, guide, adam, loss=Trace_ELBO())
    pyro.clear_param_store()
    losses = [svi.step(x_data, y_data) for _ in range(300)]  # the tutorial takes 1500 steps
    assert sum(losses[-20:]) < sum(losses[:20])

    quantiles = guide.quantiles([0.25, 0.5, 0.75])
    assert quantiles["linear.weight"].shape == (3, 1, 3)
    assert bool((quantiles["sigma"][0] < quantiles["sigma"][2]).all())

    predictive = Predictive(model, guide=guide, num_samples=50, return_sites=("linear.weight", "obs", "_RETURN"))
    samples = predictive(x_data)
    assert samples["obs"].shape == (50, 120)
    assert samples["_RETURN"].shape == (50, 120)
    assert samples["linear.weight"].shape[-2:] == (1, 3)


def test_part_two_nuts_on_a_function_model():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import MCMC, NUTS

    is_cont_africa, ruggedness, log_gdp = make_data()

    def model(is_cont_africa, ruggedness, log_gdp=None):
        a = pyro.sample("a", dist.Normal(0.0, 10.0))
        b_a = pyro.sample("bA", dist.Normal(0.0, 1.0))
        b_r = pyro.sample("bR", dist.Normal(0.0, 1.0))
        b_ar = pyro.sample("bAR", dist.Normal(0.0, 1.0))
        sigma = pyro.sample("sigma", dist.Uniform(0.0, 10.0))
        mean = a + b_a * is_cont_africa + b_r * ruggedness + b_ar * is_cont_africa * ruggedness
        with pyro.plate("data", len(ruggedness)):
            return pyro.sample("obs", dist.Normal(mean, sigma), obs=log_gdp)

    nuts_kernel = NUTS(model)
    mcmc = MCMC(nuts_kernel, num_samples=150, warmup_steps=100)  # the tutorial takes 1000 and 200
    mcmc.run(is_cont_africa, ruggedness, log_gdp)
    hmc_samples = {k: v.detach().cpu().numpy() for k, v in mcmc.get_samples().items()}
    assert sorted(hmc_samples) == ["a", "bA", "bAR", "bR", "sigma"]
    assert hmc_samples["a"].shape == (150,)
    assert bool((mcmc.get_samples()["sigma"] > 0).all() and (mcmc.get_samples()["sigma"] < 10).all())
