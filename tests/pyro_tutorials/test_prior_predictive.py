"""Pyro's prior predictive checks tutorial: a time-series simulator run under ``condition``, vectorized
under an outer plate, and re-weighed for a changed prior by ``pyro.infer.resampler.Resampler``
(the tutorial's sliders call ``resampler.sample``; here the calls are made directly, with fewer draws)."""

import math

import pytest
import torch

T = 50


def simulator(df0=0.0, df1=1.0, p0=0.0, p1=1.0, m0=0.0, m1=1.0):
    import pyro
    import pyro.distributions as dist

    def model(T: int = T, data=None):
        df = pyro.sample("df", dist.LogNormal(df0, df1))
        p_scale = pyro.sample("p_scale", dist.LogNormal(p0, p1))  # process noise
        m_scale = pyro.sample("m_scale", dist.LogNormal(m0, m1))  # measurement noise
        with pyro.plate("dt", T):
            process_noise = pyro.sample("process_noise", dist.StudentT(df, 0, p_scale))
        trend = pyro.deterministic("trend", process_noise.cumsum(-1))
        with pyro.plate("t", T):
            return pyro.sample("obs", dist.Normal(trend, m_scale), obs=data)

    return model


def make_partial_model(df0, df1, p0, p1, m0, m1):
    import pyro
    import pyro.distributions as dist

    def partial_model():
        pyro.sample("df", dist.LogNormal(df0, df1))
        pyro.sample("p_scale", dist.LogNormal(p0, p1))
        pyro.sample("m_scale", dist.LogNormal(m0, m1))

    return partial_model


def test_conditioned_simulator_gives_one_trajectory_whose_trend_is_the_summed_noise():
    import pyro
    import pyro.poutine as poutine

    pyro.set_rng_seed(12345)
    data = {"df": torch.as_tensor(1.0), "p_scale": torch.as_tensor(0.1), "m_scale": torch.as_tensor(1.0)}
    tr = poutine.trace(poutine.condition(simulator(), data)).get_trace()
    assert tr.nodes["_RETURN"]["value"].shape == (T,)
    assert torch.allclose(tr.nodes["trend"]["value"], tr.nodes["process_noise"]["value"].cumsum(-1))


def test_an_outer_plate_vectorizes_the_simulator_into_many_trajectories():
    import pyro

    pyro.set_rng_seed(12345)
    with pyro.plate("trajectories", 20, dim=-2):
        trajectories = simulator(p0=-2.0)()
    assert trajectories.shape == (20, T)
    assert len({round(v, 6) for v in trajectories[:, 0].tolist()}) == 20  # each its own draw


def test_resampler_returns_simulated_runs_for_a_new_prior_without_simulating_again():
    import pyro
    from pyro.infer.resampler import Resampler

    pyro.set_rng_seed(0)
    resampler = Resampler(make_partial_model(0, 10, 0, 10, 0, 10), simulator(), num_guide_samples=2000)
    samples = resampler.sample(make_partial_model(0, 1, 0, 1, 0, 1), num_samples=20)
    assert samples["obs"].shape == (20, T) and samples["df"].shape == (20, 1)
    # Stable resampling: asking again with the same prior gives the same runs (the sliders' smoothness).
    again = resampler.sample(make_partial_model(0, 1, 0, 1, 0, 1), num_samples=20)
    assert torch.equal(samples["obs"], again["obs"])


def test_resampled_draws_follow_the_new_prior():
    import pyro
    import pyro.distributions as dist
    from pyro.infer.resampler import Resampler

    def log_normal(scale):
        return lambda: pyro.sample("df", dist.LogNormal(0.0, scale))

    pyro.set_rng_seed(0)
    n_guide, n = 20000, 2000
    draws = Resampler(log_normal(10.0), num_guide_samples=n_guide).sample(log_normal(1.0), n, stable=False)["df"]
    log_df = draws.log()
    # Importance weights Normal(0,1)/Normal(0,10) in log space have ESS = n_guide * sqrt(2 - 1/100) / 10 (about
    # 2820); resampling n of them adds its own noise: SE of the mean = sqrt(1/ESS + 1/n) = 0.029. 5 SE.
    ess = n_guide * math.sqrt(2 - 1 / 100) / 10
    se = math.sqrt(1 / ess + 1 / n)
    assert abs(log_df.mean().item()) < 5 * se
    # The sd, 10x narrower than the guide's: SE of a Normal sample's sd is sd / sqrt(2 n), here with the same
    # two sources of noise: sqrt(1/ESS + 1/n) / sqrt(2) = 0.021. 5 SE.
    assert abs(log_df.std().item() - 1.0) < 5 * se / math.sqrt(2)



def test_resampler_told_too_small_a_plate_nesting_names_the_site_and_the_fix():
    import pyro
    import pyro.distributions as dist
    from pyro.infer.resampler import Resampler

    def grouped():
        with pyro.plate("groups", 3):
            pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match=r"site 'x' did not vectorize over the particles.*give max_plate_nesting="):
        Resampler(grouped, num_guide_samples=5, max_plate_nesting=0)
