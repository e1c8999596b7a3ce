"""SVI with Trace_ELBO: convergence to known posteriors, the loss history, and the errors.

How the convergence tolerances are derived. With a constant step size the parameters do not
settle: they jitter around the optimum. We run a burn-in, then average the parameter over the
remaining T steps (Polyak averaging). For a loss that is locally quadratic with curvature H and a
per-step gradient noise of standard deviation g, the average of T iterates has standard error
g / (H sqrt(T)) once T is long against the chain's correlation time (Polyak & Juditsky 1992; it
does not depend on the step size). Each test computes g and H for its model at the optimum, and
asserts within 5 of those standard errors.
"""

import math

import pytest
import torch
from torch.distributions import constraints

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer.elbo import GuideError, Trace_ELBO
from ppl_kernel.errors import UnsafeCheckpointError
from ppl_kernel.errors import SkippedStepWarning
from ppl_kernel.infer.svi import SVI
from ppl_kernel.optim import SGD, Adam, ClippedAdam, ExponentialLR

# ---- the scale example (Pyro's second tutorial) ------------------------------------------------
# weight ~ N(8.5, 1), measurement ~ N(weight, 0.75) observed at 9.5. Conjugate: the posterior is
# Normal with precision 1 + 1/0.75^2 = 2.7778, i.e. sd 0.6, and mean (8.5 + 9.5/0.5625) / 2.7778 = 9.14.
POST_MEAN, POST_SD = 9.14, 0.6
PRECISION = 1 + 1 / 0.75**2


def scale(guess):
    weight = pyro.sample("weight", dist.Normal(guess, 1.0))
    return pyro.sample("measurement", dist.Normal(weight, 0.75), obs=torch.tensor(9.5))


def scale_guide(guess):
    a = pyro.param("a", torch.tensor(guess))
    b = pyro.param("b", torch.tensor(1.0))
    return pyro.sample("weight", dist.Normal(a, torch.abs(b)))


def tail_average(svi, args, steps, burn_in, read):
    """Run ``steps`` SVI steps; return the mean of ``read()`` (a tuple of floats) over the steps after ``burn_in``."""
    sums, count = None, 0
    for i in range(steps):
        svi.step(*args)
        if i >= burn_in:
            values = read()
            sums = list(values) if sums is None else [s + v for s, v in zip(sums, values, strict=True)]
            count += 1
    return [s / count for s in sums]


def scale_tolerances(tail_steps):
    """5 standard errors of the tail-averaged (mean, sd) of a Normal guide on the scale model.

    The reparameterized gradient of -ELBO in the mean a is PRECISION * (a - 9.14) + PRECISION * s * eps
    (the guide's own log-density does not depend on a once w = a + s eps): curvature H = PRECISION,
    noise g = PRECISION * s, so g / H = s = 0.6. In the scale s the gradient is -1/s + PRECISION * s eps^2
    (+ a term vanishing at the optimum): H = 1/s^2 + PRECISION = 2 * PRECISION and g = PRECISION * s * sqrt(2),
    so g / H = s / sqrt(2) = 0.424.
    """
    root_t = math.sqrt(tail_steps)
    return 5 * POST_SD / root_t, 5 * POST_SD / math.sqrt(2) / root_t


def test_scale_example_converges_to_the_analytic_posterior():
    svi = SVI(scale, scale_guide, Adam({"lr": 0.01}), loss=Trace_ELBO())
    steps, burn_in = 2000, 500  # from a = 8.5, Adam moves ~lr per step: 0.64 away takes ~100-300 steps
    mean, sd = tail_average(svi, (8.5,), steps, burn_in,
                            lambda: (pyro.param("a").item(), abs(pyro.param("b").item())))
    tol_mean, tol_sd = scale_tolerances(steps - burn_in)  # 0.077 and 0.055
    assert abs(mean - POST_MEAN) < tol_mean
    assert abs(sd - POST_SD) < tol_sd


def test_old_spelling_loss_elbo_and_sgd_run_the_same_estimator():
    # Pyro 0.1's tutorial: SVI(..., optim=SGD({"lr": 0.001}), loss="ELBO"). Same seed, same draws: same losses.
    def losses(loss):
        pyro.clear_param_store()
        pyro.set_rng_seed(3)
        svi = SVI(scale, scale_guide, SGD({"lr": 0.001}), loss=loss)
        return [svi.step(8.5) for _ in range(20)], pyro.param("a").item()

    assert losses("ELBO") == losses(Trace_ELBO())
    pyro.clear_param_store()
    svi = SVI(scale, scale_guide, SGD({"lr": 0.001}), loss="ELBO", num_particles=7)
    assert svi.loss.__self__.num_particles == 7


def test_the_0_1_era_tutorial_spelling_runs_the_very_same_svi():
    # Pyro 0.1's tutorial: Variables, dist.normal with its parameters, condition, loss="ELBO". Same seed as
    # today's spelling: the same draws, the same losses, the same parameters, step by step.
    from torch.autograd import Variable

    def old_scale(guess):
        weight = pyro.sample("weight", dist.normal, guess, Variable(torch.ones(1)))
        return pyro.sample("measurement", dist.normal, weight, Variable(torch.Tensor([0.75])))

    conditioned_scale = pyro.condition(old_scale, data={"measurement": Variable(torch.Tensor([9.5]))})

    def old_guide(guess):
        a = pyro.param("a", Variable(torch.Tensor([8.5]), requires_grad=True))
        b = pyro.param("b", Variable(torch.Tensor([1.0]), requires_grad=True))
        return pyro.sample("weight", dist.normal, a, torch.abs(b))

    def run(model, guide, guess):
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        svi = SVI(model=model, guide=guide, optim=SGD({"lr": 0.001}), loss="ELBO")
        return [svi.step(guess) for _ in range(30)], pyro.param("a").item()

    old = run(conditioned_scale, old_guide, Variable(torch.Tensor([8.5])))
    assert old == run(scale, scale_guide, 8.5)


def test_sgd_moves_the_parameters_as_the_gradient_says():
    # One step of SGD with lr: a <- a - lr * d(-ELBO)/da, and that gradient is PRECISION * (w - 9.14) for the
    # drawn w (see scale_tolerances); reproduce w from the same seed.
    pyro.set_rng_seed(11)
    eps = torch.randn(())  # what the guide's rsample will draw (torch.normal(0, 1) consumes the same stream)
    pyro.set_rng_seed(11)
    svi = SVI(scale, scale_guide, SGD({"lr": 0.1}), loss=Trace_ELBO())
    svi.step(8.5)
    w = 8.5 + 1.0 * eps.item()
    expected_a = 8.5 - 0.1 * PRECISION * (w - POST_MEAN)
    assert pyro.param("a").item() == pytest.approx(expected_a, abs=1e-4)


def test_loss_history_and_callbacks_see_every_step():
    seen = []
    svi = SVI(scale, scale_guide, Adam({"lr": 0.01}), Trace_ELBO(), callback=lambda step, loss: seen.append((step, loss)))
    late = []
    svi.add_callback(lambda step, loss: late.append(step))
    returned = [svi.step(8.5) for _ in range(5)]
    assert svi.loss_history == returned == [loss for _, loss in seen]
    assert [step for step, _ in seen] == [1, 2, 3, 4, 5] == late
    assert all(isinstance(loss, float) for loss in returned)


def test_evaluate_loss_changes_nothing():
    svi = SVI(scale, scale_guide, Adam({"lr": 0.01}), Trace_ELBO())
    svi.step(8.5)
    a = pyro.param("a").item()
    value = svi.evaluate_loss(8.5)
    assert isinstance(value, float) and math.isfinite(value)
    assert pyro.param("a").item() == a and len(svi.loss_history) == 1
    assert pyro.get_param_store().get_unconstrained("a").grad is None


def test_loss_is_minus_elbo_and_zero_when_the_guide_is_the_posterior():
    # With q = the exact posterior, log p(x, w) - log q(w) = log p(x) for every w: the loss is -log p(x)
    # exactly, with no noise. p(x) = N(9.5; 8.5, sqrt(1 + 0.75^2)).
    def exact_guide(guess):
        pyro.sample("weight", dist.Normal(POST_MEAN, POST_SD))

    log_evidence = torch.distributions.Normal(8.5, math.sqrt(1 + 0.75**2)).log_prob(torch.tensor(9.5)).item()
    for _ in range(3):
        assert Trace_ELBO().loss(scale, exact_guide, 8.5) == pytest.approx(-log_evidence, abs=1e-4)


def test_num_particles_average_the_estimate():
    # Guide N(1, 1) against model N(0, 1) (no data): -ELBO = KL = 0.5. One particle gives z - 0.5 with
    # z ~ N(1, 1): sd 1, so N particles give sd 1/sqrt(N); 5 of those for N = 4000 is 0.079.
    def model():
        pyro.sample("z", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("z", dist.Normal(1.0, 1.0))

    n = 4000
    tol = 5 / math.sqrt(n)
    assert Trace_ELBO(num_particles=n).loss(model, guide) == pytest.approx(0.5, abs=tol)
    assert Trace_ELBO(num_particles=n, vectorize_particles=True).loss(model, guide) == pytest.approx(0.5, abs=tol)


def test_vectorized_particles_learn_the_scale_example_too():
    svi = SVI(scale, scale_guide, Adam({"lr": 0.02}), Trace_ELBO(num_particles=8, vectorize_particles=True))
    steps, burn_in = 800, 300
    mean, sd = tail_average(svi, (8.5,), steps, burn_in,
                            lambda: (pyro.param("a").item(), abs(pyro.param("b").item())))
    # 8 particles divide the gradient noise by sqrt(8), so the standard errors shrink by that much.
    tol_mean, tol_sd = (t / math.sqrt(8) for t in scale_tolerances(steps - burn_in))
    assert abs(mean - POST_MEAN) < tol_mean
    assert abs(sd - POST_SD) < tol_sd


# ---- Beta-Bernoulli coin ---------------------------------------------------------------------
HEADS = torch.tensor([1.0] * 6 + [0.0] * 4)


def coin(data):
    f = pyro.sample("fairness", dist.Beta(10.0, 10.0))
    with pyro.plate("flips", len(data)):
        pyro.sample("obs", dist.Bernoulli(f), obs=data)


def coin_guide(data):
    alpha_q = pyro.param("alpha_q", torch.tensor(15.0), constraint=constraints.positive)
    beta_q = pyro.param("beta_q", torch.tensor(15.0), constraint=constraints.positive)
    pyro.sample("fairness", dist.Beta(alpha_q, beta_q))


def beta_mean_sd(a, b):
    return a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))


def test_beta_bernoulli_coin_converges_to_the_exact_posterior():
    # Prior Beta(10, 10), 6 heads and 4 tails: the posterior is Beta(16, 14), mean 0.5333, sd 0.0896,
    # and the Beta guide family contains it.
    svi = SVI(coin, coin_guide, Adam({"lr": 0.02}), Trace_ELBO())
    steps, burn_in = 2000, 600
    alpha, beta = tail_average(svi, (HEADS,), steps, burn_in,
                               lambda: (pyro.param("alpha_q").item(), pyro.param("beta_q").item()))
    mean, sd = beta_mean_sd(alpha, beta)
    exact_mean, exact_sd = beta_mean_sd(16.0, 14.0)
    # Beta(16, 14) is close to a Normal, and the Polyak-averaged error is the same in any smooth coordinates
    # (delta method), so read it in (mean, sd) as for the scale example: g / H = sd for the mean and sd / sqrt(2)
    # for the sd. Standard errors over T = 1400 tail steps: 0.0024 and 0.0017; 5 of them: 0.012 and 0.0085.
    root_t = math.sqrt(steps - burn_in)
    assert abs(mean - exact_mean) < 5 * exact_sd / root_t
    assert abs(sd - exact_sd) < 5 * exact_sd / math.sqrt(2) / root_t
    # The positive constraint: the optimizer moved log(alpha), not alpha.
    assert pyro.get_param_store().get_unconstrained("alpha_q").item() == pytest.approx(math.log(alpha), rel=0.1)


# ---- a discrete latent site: the score-function gradient ----------------------------------------
# z ~ Bernoulli(0.3); y | z ~ Bernoulli(0.9 if z else 0.2), observed y = 1.
# p(y=1) = 0.3 * 0.9 + 0.7 * 0.2 = 0.41 and p(z=1 | y=1) = 0.27 / 0.41 = 0.6585: the optimum of q.
Q_STAR = 0.27 / 0.41
LOG_EVIDENCE = math.log(0.41)


def switch():
    z = pyro.sample("z", dist.Bernoulli(0.3))
    pyro.sample("y", dist.Bernoulli(0.2 + 0.7 * z), obs=torch.tensor(1.0))


def switch_guide():
    q = pyro.param("q", torch.tensor(0.2), constraint=constraints.unit_interval)
    pyro.sample("z", dist.Bernoulli(q))


def switch_tolerance(tail_steps):
    """5 standard errors of the tail-averaged q without a baseline.

    In the logit t of q the score-function gradient is (log p(y, z) - log q(z)) * (z - q); at the optimum the
    first factor is log p(y) for both z, so g = |log p(y)| sqrt(q (1 - q)). The curvature of KL(q || posterior)
    in t is the Fisher information q (1 - q). The standard error of t is g / (H sqrt(T)); mapped to q
    (dq/dt = q (1 - q)) it is |log p(y)| sqrt(q (1 - q) / T).
    """
    return 5 * abs(LOG_EVIDENCE) * math.sqrt(Q_STAR * (1 - Q_STAR) / tail_steps)


def exact_switch_gradient(q):
    """d(-ELBO)/d(logit q), by enumerating z: -sum_z q(z) (log p(y, z) - log q(z)) (z - q)."""
    total, second_moment = 0.0, 0.0
    for z, qz in ((1.0, q), (0.0, 1 - q)):
        log_joint = math.log(0.3 if z else 0.7) + math.log(0.9 if z else 0.2)
        per_draw = -(log_joint - math.log(qz)) * (z - q)
        total += qz * per_draw
        second_moment += qz * per_draw**2
    return total, math.sqrt(second_moment - total**2)


def test_score_function_gradient_is_unbiased():
    n = 20000
    pyro.param("q", torch.tensor(0.2), constraint=constraints.unit_interval)
    loss = Trace_ELBO(num_particles=n, vectorize_particles=True).differentiable_loss(switch, switch_guide)
    loss.backward()
    estimate = pyro.get_param_store().get_unconstrained("q").grad.item()
    exact, per_draw_sd = exact_switch_gradient(0.2)
    # The estimate is a mean of n independent per-draw gradients, whose sd is computed exactly above.
    assert estimate == pytest.approx(exact, abs=5 * per_draw_sd / math.sqrt(n))


def test_discrete_latent_learns_the_posterior_by_the_score_function():
    svi = SVI(switch, switch_guide, SGD({"lr": 0.5}), Trace_ELBO())
    steps, burn_in = 3000, 1000  # in the logit, SGD contracts by lr * q(1-q) ~ 0.1 per step: burn-in is ample
    (q,) = tail_average(svi, (), steps, burn_in, lambda: (pyro.param("q").item(),))
    assert abs(q - Q_STAR) < switch_tolerance(steps - burn_in)  # 0.047; q started 0.46 away


def test_decaying_average_baseline_removes_the_noise_at_the_optimum():
    # At the optimum the cost log p(y, z) - log q(z) equals log p(y) for both z, and the baseline learns that
    # constant: the gradient noise vanishes there, so the average settles on q* far inside the no-baseline bound.
    svi = SVI(switch, switch_guide, Adam({"lr": 0.05}), Trace_ELBO(baseline_beta=0.9))
    steps, burn_in = 1500, 1000
    (q,) = tail_average(svi, (), steps, burn_in, lambda: (pyro.param("q").item(),))
    assert abs(q - Q_STAR) < switch_tolerance(steps - burn_in) / 5


def test_baseline_per_site_in_pyro_spelling_is_honoured():
    def guide():
        q = pyro.param("q", torch.tensor(0.2), constraint=constraints.unit_interval)
        pyro.sample("z", dist.Bernoulli(q), infer={"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}})

    elbo = Trace_ELBO()
    svi = SVI(switch, guide, Adam({"lr": 0.05}), elbo)
    for _ in range(5):
        svi.step()
    # The running average of the cost is kept per site, and is a plain float.
    assert set(elbo._baselines) == {"z"} and isinstance(elbo._baselines["z"], float)


def test_plate_elements_are_charged_only_for_their_own_cost():
    # Two independent coins in a plate, each with its own guide probability. Rao-Blackwellizing by the plate,
    # element i's score-function gradient uses only element i's cost, so its gradient is exact per element:
    # compare with enumeration, element by element, with per-element standard errors.
    ys = torch.tensor([1.0, 0.0])

    def model():
        with pyro.plate("coins", 2):
            z = pyro.sample("z", dist.Bernoulli(0.3))
            pyro.sample("y", dist.Bernoulli(0.2 + 0.7 * z), obs=ys)

    def guide():
        q = pyro.param("q", torch.tensor([0.2, 0.6]), constraint=constraints.unit_interval)
        with pyro.plate("coins", 2):
            pyro.sample("z", dist.Bernoulli(q))

    n = 20000
    Trace_ELBO(num_particles=n, vectorize_particles=True).differentiable_loss(model, guide).backward()
    grad = pyro.get_param_store().get_unconstrained("q").grad
    for i, (q, y) in enumerate(((0.2, 1.0), (0.6, 0.0))):
        total, second = 0.0, 0.0
        for z, qz in ((1.0, q), (0.0, 1 - q)):
            lik = (0.9 if z else 0.2) if y else (0.1 if z else 0.8)
            per_draw = -(math.log(0.3 if z else 0.7) + math.log(lik) - math.log(qz)) * (z - q)
            total += qz * per_draw
            second += qz * per_draw**2
        sd = math.sqrt(second - total**2)
        assert grad[i].item() == pytest.approx(total, abs=5 * sd / math.sqrt(n))


# ---- optimizers ---------------------------------------------------------------------------------
def test_one_optimizer_per_parameter_created_when_it_first_appears():
    optim = Adam({"lr": 0.01})
    svi = SVI(scale, scale_guide, optim, Trace_ELBO())
    assert optim.optim_objs == {}
    svi.step(8.5)
    assert sorted(optim.optim_objs) == ["a", "b"]
    assert all(len(opt.param_groups[0]["params"]) == 1 for opt in optim.optim_objs.values())


def test_per_parameter_optim_args():
    optim = SGD(lambda name: {"lr": 0.0 if name == "a" else 0.01})
    svi = SVI(scale, scale_guide, optim, Trace_ELBO())
    for _ in range(3):
        svi.step(8.5)
    assert pyro.param("a").item() == 8.5 and pyro.param("b").item() != 1.0


def test_a_parameter_recreated_after_clearing_gets_a_fresh_optimizer():
    optim = Adam({"lr": 0.01})
    svi = SVI(scale, scale_guide, optim, Trace_ELBO())
    svi.step(8.5)
    first = optim.optim_objs["a"]
    pyro.clear_param_store()
    svi.step(8.5)
    assert optim.optim_objs["a"] is not first
    assert optim.optim_objs["a"].param_groups[0]["params"][0] is pyro.get_param_store().get_unconstrained("a")


def test_clipped_adam_clips_and_decays():
    optim = ClippedAdam({"lr": 0.1, "clip_norm": 0.5, "lrd": 0.9})
    x = pyro.param("x", torch.tensor(0.0))
    (x * 1000.0).backward()
    optim({"x": pyro.get_param_store().get_unconstrained("x")})
    # Adam's first step is lr * sign(grad) whatever the (clipped) size; lr was decayed once before it.
    assert pyro.param("x").item() == pytest.approx(-0.09, abs=1e-6)
    assert optim.optim_objs["x"].param_groups[0]["lr"] == pytest.approx(0.09)


def test_clip_args_clip_each_gradient():
    optim = SGD({"lr": 1.0}, clip_args={"clip_value": 0.25})
    x = pyro.param("x", torch.tensor(0.0))
    (x * 10.0).backward()
    optim({"x": pyro.get_param_store().get_unconstrained("x")})
    assert pyro.param("x").item() == pytest.approx(-0.25)


def test_exponential_lr_schedule_decays_every_parameter():
    scheduler = ExponentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.01}, "gamma": 0.5})
    svi = SVI(scale, scale_guide, scheduler, Trace_ELBO())
    svi.step(8.5)
    scheduler.step()
    scheduler.step()
    assert {name: opt.param_groups[0]["lr"] for name, opt in scheduler.optim_objs.items()} == {"a": 0.0025, "b": 0.0025}


def test_scheduler_without_optimizer_says_what_it_needs():
    with pytest.raises(ValueError, match=r"'optimizer' \(a torch.optim class\) and 'optim_args'"):
        ExponentialLR({"lr": 0.01, "gamma": 0.5})


def test_optimizer_state_saves_and_loads_by_name(tmp_path):
    optim = Adam({"lr": 0.01})
    svi = SVI(scale, scale_guide, optim, Trace_ELBO())
    for _ in range(3):
        svi.step(8.5)
    path = tmp_path / "optim.pt"
    optim.save(path)
    fresh = Adam({"lr": 0.01})
    fresh.load(path)
    SVI(scale, scale_guide, fresh, Trace_ELBO()).step(8.5)
    # Adam's step counter continued from the saved 3.
    assert fresh.optim_objs["a"].state_dict()["state"][0]["step"].item() == 4


class _RunsCodeWhenUnpickled:
    ran = []

    def __reduce__(self):
        return (_RunsCodeWhenUnpickled.ran.append, ("code ran",))


def test_optimizer_load_refuses_arbitrary_objects_without_running_them(tmp_path):
    path = tmp_path / "optim.pt"
    torch.save({"a": _RunsCodeWhenUnpickled()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"PyroOptim.load: .*optim.pt holds objects other than tensors"):
        Adam({"lr": 0.01}).load(path)
    assert _RunsCodeWhenUnpickled.ran == []


def test_scheduler_state_saves_and_loads_weights_only(tmp_path):
    optim = ExponentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "gamma": 0.5})
    svi = SVI(scale, scale_guide, optim, Trace_ELBO())
    svi.step(8.5)
    optim.step()
    path = tmp_path / "sched.pt"
    optim.save(path)
    fresh = ExponentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "gamma": 0.5})
    fresh.load(path)
    SVI(scale, scale_guide, fresh, Trace_ELBO()).step(8.5)
    assert fresh.optim_objs["a"].param_groups[0]["lr"] == pytest.approx(0.05)


def test_bad_optim_args_name_the_parameter():
    svi = SVI(scale, scale_guide, Adam({"learning_rate": 0.01}), Trace_ELBO())
    with pytest.raises(TypeError, match=r"Adam rejected the optim_args for parameter '(a|b)'"):
        svi.step(8.5)


def test_custom_loss_function_is_minimised():
    # Pyro allows any callable loss(model, guide, *args) returning a differentiable tensor.
    def loss(model, guide, guess):
        return (pyro.param("a", torch.tensor(guess)) - 3.0) ** 2

    svi = SVI(scale, scale_guide, SGD({"lr": 0.1}), loss=loss)
    for _ in range(100):
        svi.step(8.5)
    assert pyro.param("a").item() == pytest.approx(3.0, abs=1e-3)


# ---- errors -------------------------------------------------------------------------------------
def test_guide_site_missing_from_the_model_is_an_error_naming_both():
    def guide(guess):
        pyro.sample("wieght", dist.Normal(pyro.param("a", torch.tensor(guess)), 1.0))

    svi = SVI(scale, guide, Adam({"lr": 0.01}), Trace_ELBO())
    with pytest.raises(GuideError) as err:
        svi.step(8.5)
    text = str(err.value)
    assert "guide 'guide'" in text and "site 'wieght'" in text and "model 'scale'" in text
    assert "its latent sites: weight" in text and "Rename the guide's site" in text


def test_guide_sampling_an_observed_site_is_an_error():
    def guide(guess):
        pyro.sample("weight", dist.Normal(pyro.param("a", torch.tensor(guess)), 1.0))
        pyro.sample("measurement", dist.Normal(9.0, 1.0))

    with pytest.raises(GuideError) as err:
        SVI(scale, guide, Adam({"lr": 0.01}), Trace_ELBO()).step(8.5)
    text = str(err.value)
    assert "samples site 'measurement', which model 'scale' observes" in text
    assert "remove 'measurement' from the guide" in text


def test_auxiliary_guide_sites_need_no_model_site():
    def guide(guess):
        shift = pyro.sample("shift", dist.Normal(0.0, 0.1), infer={"is_auxiliary": True})
        pyro.sample("weight", dist.Normal(pyro.param("a", torch.tensor(guess)) + shift, 1.0))

    assert math.isfinite(SVI(scale, guide, Adam({"lr": 0.01}), Trace_ELBO()).step(8.5))


def test_a_model_site_the_guide_lacks_is_a_warning_naming_it():
    def model():
        pyro.sample("a", dist.Normal(0.0, 1.0))
        pyro.sample("b", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("a", dist.Normal(pyro.param("m", torch.tensor(0.0)), 1.0))

    svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
    with pytest.warns(UserWarning, match=r"model 'model' samples 'b', which guide 'guide' does not"):
        svi.step()


def test_constraint_broken_by_the_initial_value_surfaces_from_the_guide():
    def guide(guess):
        b = pyro.param("b", torch.tensor(-1.0), constraint=constraints.positive)
        pyro.sample("weight", dist.Normal(guess, b))

    with pytest.raises(pyro.InvalidParameterError, match=r"param 'b': the initial value -1 breaks its constraint"):
        SVI(scale, guide, Adam({"lr": 0.01}), Trace_ELBO()).step(8.5)


def test_nan_loss_warns_with_the_likely_fix():
    def model(guess):
        scale(guess)
        pyro.factor("broken", torch.tensor(float("nan")))

    svi = SVI(model, scale_guide, SGD({"lr": 0.01}), Trace_ELBO())
    with pytest.warns(UserWarning, match=r"SVI step 1: the loss of model 'model' with guide 'scale_guide' is nan.*"
                                         r"give it a constraint"):
        assert math.isnan(svi.step(8.5))


def _params_now():
    return {name: value.detach().clone() for name, value in pyro.get_param_store().items()}


def test_a_step_whose_loss_is_nan_changes_no_parameter_and_names_the_site():
    def model(guess):
        scale(guess)
        pyro.factor("broken", torch.tensor(float("nan")))

    svi = SVI(scale, scale_guide, Adam({"lr": 0.1}), Trace_ELBO())
    svi.step(8.5)  # creates the parameters and the optimizers' state
    before = _params_now()
    broken = SVI(model, scale_guide, svi.optim, Trace_ELBO())
    with pytest.warns(SkippedStepWarning, match=r"SVI step 1: .* is nan, so the step was skipped .*"
                                                r"Cause: factor 'broken' is nan"):
        broken.step(8.5)
    after = _params_now()
    assert broken.skipped_steps == [1]
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_a_step_whose_gradient_is_not_finite_changes_no_parameter_and_names_the_param():
    def guide(guess):
        a = pyro.param("a", torch.tensor(1.0))
        pyro.sample("weight", dist.Normal(guess + torch.sqrt(a - 1.0), 1.0))  # d sqrt(x)/dx is inf at 0

    svi = SVI(scale, guide, SGD({"lr": 0.01}), Trace_ELBO())
    with pytest.warns(SkippedStepWarning, match=r"the loss .* is finite .* but its gradient is not.*gradient of "
                                                r"param 'a'"):
        loss = svi.step(8.5)
    assert math.isfinite(loss) and svi.skipped_steps == [1]
    assert pyro.param("a").item() == 1.0


def test_an_infinite_observation_skips_the_step_and_points_at_the_data():
    def model(measured):
        weight = pyro.sample("weight", dist.Normal(8.5, 1.0))
        pyro.sample("measurement", dist.Normal(weight, 0.75), obs=measured)

    def guide(measured):
        pyro.sample("weight", dist.Normal(pyro.param("a", torch.tensor(8.5)), 1.0))

    svi = SVI(model, guide, Adam({"lr": 0.1}), Trace_ELBO())
    svi.step(torch.tensor(9.5))
    before = _params_now()
    with pytest.warns(SkippedStepWarning, match=r"site 'measurement' \(Normal, observed\) has value inf.*Check the data"):
        svi.step(torch.tensor(float("inf")))
    assert all(torch.equal(before[name], value) for name, value in _params_now().items())


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss=None), r"SVI needs a loss: SVI\(model, guide, optim, loss=Trace_ELBO\(\)\)"),
    (dict(loss="KL"), r"unknown loss 'KL'"),
    (dict(loss="ELBO", trace_graph=True), r"trace_graph=True\) is not supported"),
    (dict(loss=Trace_ELBO(), num_particles=3), r"give them to the loss"),
])
def test_bad_loss_arguments_say_what_to_write(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        SVI(scale, scale_guide, Adam({"lr": 0.01}), **kwargs)


def test_model_that_is_not_callable_is_refused():
    with pytest.raises(TypeError, match=r"the model must be a callable stochastic function"):
        SVI(scale(8.5), scale_guide, Adam({"lr": 0.01}), Trace_ELBO())


def test_optim_that_is_a_torch_class_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"optim must be a ppl_kernel.optim optimizer such as Adam"):
        SVI(scale, scale_guide, {"lr": 0.01}, Trace_ELBO())
