"""Pyro's first tutorials with `import pyro`: models as stochastic functions (weather, a random recursion, a
model built from others) and SVI part I's coin (fewer steps than the tutorial's 2000)."""

import torch


def test_models_are_stochastic_functions():
    import pyro
    import pyro.distributions as dist

    def weather():
        cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
        cloudy = "cloudy" if cloudy.item() == 1.0 else "sunny"
        mean_temp = {"cloudy": 55.0, "sunny": 75.0}[cloudy]
        scale_temp = {"cloudy": 10.0, "sunny": 15.0}[cloudy]
        temp = pyro.sample("temp", dist.Normal(mean_temp, scale_temp))
        return cloudy, temp.item()

    def ice_cream_sales():
        cloudy, temp = weather()
        expected_sales = 200.0 if cloudy == "sunny" and temp > 80.0 else 50.0
        return pyro.sample("ice_cream", dist.Normal(expected_sales, 10.0))

    def geometric(p, t=None):
        if t is None:
            t = 0
        x = pyro.sample("x_{}".format(t), dist.Bernoulli(p))
        if x.item() == 1:
            return 0
        return 1 + geometric(p, t + 1)

    assert weather()[0] in ("cloudy", "sunny")
    assert ice_cream_sales().shape == ()
    tr = pyro.poutine.trace(geometric).get_trace(0.5)
    assert all(name.startswith("x_") for name, site in tr.nodes.items() if site["type"] == "sample")


def test_svi_part_one_coin():
    import pyro
    import pyro.distributions as dist
    from pyro.distributions import constraints
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    data = [torch.tensor(1.0)] * 6 + [torch.tensor(0.0)] * 4

    def model(data):
        alpha0, beta0 = torch.tensor(10.0), torch.tensor(10.0)
        f = pyro.sample("latent_fairness", dist.Beta(alpha0, beta0))
        for i in range(len(data)):
            pyro.sample("obs_{}".format(i), dist.Bernoulli(f), obs=data[i])

    def guide(data):
        alpha_q = pyro.param("alpha_q", torch.tensor(15.0), constraint=constraints.positive)
        beta_q = pyro.param("beta_q", torch.tensor(15.0), constraint=constraints.positive)
        pyro.sample("latent_fairness", dist.Beta(alpha_q, beta_q))

    pyro.clear_param_store()
    svi = SVI(model, guide, Adam({"lr": 0.0005, "betas": (0.90, 0.999)}), loss=Trace_ELBO())
    for _ in range(200):
        svi.step(data)
    alpha_q, beta_q = pyro.param("alpha_q").item(), pyro.param("beta_q").item()
    assert alpha_q > 0 and beta_q > 0 and (alpha_q, beta_q) != (15.0, 15.0)
