"""RePaint resampling for inpainting (beyond the spec, item 4): the jump schedule by hand and
against diffusers' RePaintScheduler, the forward jump against its closed form, and r = 1 is the
spec's one-pass inpainting exactly."""

import pytest
import torch
from diffusers import RePaintScheduler

from fundiff.diffusion import ddpm
from fundiff.parta import loops
from tests.helpers.fake_backend import FakeBackend
from tests.helpers.inpaint import one_pass_inpaint


def test_schedule_by_hand():
    """K = 6 steps, jump 2, 2 resamplings: jumps at u = 2 and u = 0 steps to go, once each."""
    assert loops.repaint_schedule(6, 2, 2) == [0, 1, 2, 3, 4, 3, 2, 3, 4, 5, 6, 5, 4, 5, 6]
    assert loops.repaint_schedule(6, 2, 1) == list(range(7))  # no resampling: the plain walk
    assert loops.repaint_schedule(4, 10, 5) == list(range(5))  # jump longer than the chain
    assert loops.repaint_schedule(3, 1, 3) == [0, 1, 2, 1, 2, 1, 2, 3, 2, 3, 2, 3]
    runs = loops.schedule_runs(loops.repaint_schedule(6, 2, 2))
    assert runs == [(0, 4), (4, 2), (2, 6), (6, 4), (4, 6)]
    with pytest.raises(ValueError):
        loops.repaint_schedule(6, 0, 2)


@pytest.mark.parametrize(("k", "j", "r"), [(6, 2, 2), (29, 10, 10), (9, 3, 4), (20, 5, 1)])
def test_schedule_equals_diffusers_repaint_scheduler(k, j, r):
    """diffusers lists the steps-to-go u after every move (times its stride); our walk lists
    the index K - u, starting at 0."""
    ref = RePaintScheduler(num_train_timesteps=1000)
    ref.set_timesteps(k, jump_length=j, jump_n_sample=r)
    stride = 1000 // k
    want = [0] + [k - int(v) // stride for v in ref.timesteps]
    assert loops.repaint_schedule(k, j, r) == want


def test_forward_jump_composes_to_q_of_x0():
    """q(x_t | x_0) then the jump to t_up is q(x_{t_up} | x_0): mean sqrt(abar_up) x_0,
    variance 1 - abar_up (closed form), checked on 200,000 draws."""
    s = ddpm.Schedule.linear(1e-4, 0.02, 300)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000,), 0.7)
    for t, t_up in ((10, 40), (100, 290), (-1, 50)):
        x_t = ddpm.q_sample(s, x0, t, torch.randn(x0.shape, generator=g)) if t >= 0 else x0
        x_up = loops.forward_jump(s, x_t, t, t_up, torch.randn(x0.shape, generator=g))
        abar_up = s.alpha_bar(t_up).item()
        assert abs(x_up.mean().item() - abar_up**0.5 * 0.7) < 0.006
        assert abs(x_up.var().item() - (1 - abar_up)) < 0.006
    # and exactly the formula for one draw
    x, z = torch.randn(4, generator=g), torch.randn(4, generator=g)
    ratio = s.alpha_bar(120) / s.alpha_bar(30)
    torch.testing.assert_close(
        loops.forward_jump(s, x, 30, 120, z), ratio.sqrt() * x + (1 - ratio).sqrt() * z
    )


def _case(seed=7):
    b = FakeBackend()
    x_orig = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    m = torch.zeros(1, 1, 8, 8)
    m[..., 2:5, 3:7] = 1
    return b, x_orig, m, b.encode(["p", "p"]), b.uncond(2)


def test_one_resampling_is_the_spec_inpainting_exactly():
    b, x_orig, m, c, u = _case()
    ts = ddpm.strided_timesteps(990, 30)
    g = lambda k: torch.Generator().manual_seed(k)  # noqa: E731
    spec = one_pass_inpaint(b, x_orig, m, ts, c, u, g(1), g(2))
    assert torch.equal(loops.inpaint(b, x_orig, m, ts, c, u, g(1), g(2)), spec)
    for j in (1, 5, 40):
        got = loops.repaint_inpaint(b, x_orig, m, ts, c, u, g(1), g(2), jump_length=j)
        assert torch.equal(got, spec)


def test_resampling_visits_the_schedule_and_keeps_the_original():
    b, x_orig, m, c, u = _case()
    ts = ddpm.strided_timesteps(270, 30)  # 10 entries, 9 steps
    seen = []
    g = lambda k: torch.Generator().manual_seed(k)  # noqa: E731
    out = loops.repaint_inpaint(
        b, x_orig, m, ts, c, u, g(1), g(2), jump_length=3, resamplings=3,
        on_step=lambda t, x: seen.append(t),
    )  # fmt: skip
    walk = loops.repaint_schedule(9, 3, 3)
    # every state of the walk, except inside a jump up (one draw from its start to its end)
    inside_jump = {k for k in range(1, len(walk) - 1) if walk[k - 1] > walk[k] > walk[k + 1]}
    assert seen == [ts[i] for k, i in enumerate(walk) if k > 0 and k not in inside_jump]
    # 2 jumps of 3 steps up at u = 3 and 2 at u = 0, 2 inner states each
    assert len(inside_jump) == 4 * 2
    b.calls = 0
    loops.repaint_inpaint(b, x_orig, m, ts, c, u, g(1), g(2), jump_length=3, resamplings=3)
    assert b.calls == sum(
        y > x for x, y in zip(walk, walk[1:], strict=False)
    )  # one forward per step down
    assert torch.equal((1 - m) * out, (1 - m) * x_orig)  # the known region is the original
    spec = loops.inpaint(b, x_orig, m, ts, c, u, g(1), g(2))
    assert not torch.allclose(m * out, m * spec)  # resampling changes the generated region
