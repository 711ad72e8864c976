"""fundiff.progress: throttled tqdm lines in the rule's log (stderr), never on stdout; and the
loops that report through it (Part A, Part B sampling, the A2 metric samples)."""

import io
import sys
import time

import pytest
import torch

from fundiff import progress as prog
from fundiff.diffusion import ddpm
from fundiff.diffusion.sample import sample
from fundiff.evaluation import samples as parta_eval
from fundiff.parta import loops
from tests.helpers.fake_backend import FakeBackend

TS = ddpm.strided_timesteps(990, 110)  # 10 entries, 9 steps


def lines(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert "\r" not in text  # one redraw per line: readable with cat / less
    return text.splitlines()


def test_a_slow_loop_with_a_short_interval_writes_a_line_per_interval():
    out = io.StringIO()
    with prog.progress(total=5, desc="slow loop", file=out, mininterval=0.001) as bar:
        for _ in range(5):
            time.sleep(0.01)
            bar.update()
    got = lines(out)
    assert len(got) >= 6  # the start, every step, the final line
    assert all(line.startswith("slow loop:") for line in got)
    assert "0/5" in got[0] and "5/5" in got[-1] and "100%" in got[-1]


def test_the_default_throttle_keeps_a_fast_loop_to_two_lines():
    out = io.StringIO()
    assert sum(prog.progress(range(100), desc="fast", file=out)) == sum(range(100))
    got = lines(out)
    assert 1 <= len(got) <= 2 and "100/100" in got[-1]
    assert prog.MININTERVAL >= 30


def test_bars_write_to_the_current_stderr_not_stdout(monkeypatch, capsys):
    log = io.StringIO()  # what fundiff.io.setup_logging makes sys.stderr: the rule's log
    monkeypatch.setattr(sys, "stderr", log)
    list(prog.progress(range(3), desc="into the log"))
    assert "into the log" in log.getvalue()
    assert capsys.readouterr().out == ""


def test_without_tqdm_loops_run_silently(monkeypatch, capsys):
    monkeypatch.setattr(prog, "tqdm", None)
    with prog.progress(total=2, desc="x") as bar:
        bar.update()
    assert list(prog.progress(range(3), desc="x")) == [0, 1, 2]
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "run, desc",
    [
        (lambda be, g: loops.sample(be, be.encode(["a"]), TS, g), "sampling, batch 1"),
        (
            lambda be, g: loops.sample_cfg(be, be.encode(["a", "b"]), be.uncond(2), TS, g),
            "CFG sampling, batch 2",
        ),
        (
            lambda be, g: loops.sdedit(
                be, torch.zeros(1, 3, 8, 8), 2, TS, be.encode(["a"]), be.uncond(1), g
            ),
            "SDEdit from i_start 2, batch 1",
        ),
        (
            lambda be, g: loops.visual_anagram(
                be, be.encode(["a"]), be.encode(["b"]), be.uncond(1), TS, g
            ),
            "visual anagram, batch 1",
        ),
        (
            lambda be, g: loops.hybrid(
                be, be.encode(["a"]), be.encode(["b"]), be.uncond(1), TS, g, kernel_size=3
            ),
            "hybrid image, batch 1",
        ),
        (
            lambda be, g: loops.inpaint(
                be,
                torch.zeros(1, 3, 8, 8),
                torch.ones(1, 1, 8, 8),
                TS,
                be.encode(["a"]),
                be.uncond(1),
                g,
                loops.generator(1),
            ),
            "inpainting, batch 1",
        ),
    ],
)
def test_part_a_loops_report_their_steps(monkeypatch, capsys, run, desc):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    run(FakeBackend(), loops.generator(0))
    got = [line for line in lines(log) if line.startswith(desc + ":")]
    steps = len(TS) - 1 - (2 if desc.startswith("SDEdit") else 0)
    assert got and f"{steps}/{steps}" in got[-1]
    assert capsys.readouterr().out == ""


def test_part_b_and_metric_sampling_report_their_steps(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    schedule = ddpm.Schedule.linear(1e-4, 0.02, 6)

    def model(x, t, c=None):
        return 0.1 * x

    sample(model, schedule, 2, seed=0)
    sample(model, schedule, 3, seed=0, labels=torch.arange(3), guidance_scale=5.0)
    be = FakeBackend()
    x_0 = be.to_model(torch.rand(2, 3, 8, 8))
    blur = {"kernel_size": 3, "sigma": 1.0}
    parta_eval.denoise_estimates(be, x_0, [250], TS, be.encode(["a"]), blur, seed=0)
    text = "\n".join(lines(log))
    assert "DDPM sampling, batch 2:" in text and "6/6" in text
    assert "DDPM sampling, CFG 5, batch 3:" in text
    assert "iterative denoising from t 250, batch 2:" in text


def test_a_resumed_bar_starts_at_initial_and_a_disabled_one_writes_nothing():
    import io

    from fundiff.progress import progress

    buf = io.StringIO()
    with progress(total=10, initial=4, desc="train class", file=buf, mininterval=0) as bar:
        bar.update(6)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("train class:") and "4/10" in lines[0] and "10/10" in lines[-1]
    quiet = io.StringIO()
    with progress(total=10, file=quiet, disable=True) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""
