"""Device helpers: bf16 autocast only where it runs in hardware (CUDA, CPUs with native bf16)."""

import pytest
import torch

from fundiff import device as dev
from fundiff.diffusion import step_timing, train


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx2\n")
    assert dev.cpu_has_native_bf16(str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx2\nbugs\t: avx512_bf16\n")
    assert not dev.cpu_has_native_bf16(str(info))  # only the flags line counts
    info.write_text("flags\t: amx_bf16 amx_tile\n")
    assert dev.cpu_has_native_bf16(str(info))
    assert not dev.cpu_has_native_bf16(str(tmp_path / "missing"))  # not Linux: fp32


def test_bf16_autocast_only_where_wanted_and_native(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda native=native: native)
        assert dev.bf16_autocast_enabled(True, cpu) is native
        assert dev.bf16_autocast_enabled(True, cuda)
        assert not dev.bf16_autocast_enabled(False, cpu)
        assert not dev.bf16_autocast_enabled(False, cuda)

        # training autocasts on the resolved flag (the calibration rule measured it faster)
        cfg = train.TrainConfig(task="class", hidden=4, batch_size=2, epochs=1, lr=1e-3,
                                amp_bf16=True)  # fmt: skip
        model = torch.nn.Conv2d(1, 1, 3)
        with train.autocast_for(cfg, cpu):
            assert model(torch.randn(1, 1, 5, 5)).dtype == torch.bfloat16
        with train.autocast_for(train.TrainConfig(**{**cfg.__dict__, "amp_bf16": False}), cpu):
            assert model(torch.randn(1, 1, 5, 5)).dtype == torch.float32


def test_precision_candidates_run_as_many_side_by_side_as_the_plan_does():
    c = dev.precision_candidates(cores=2, jobs=3, bf16=True, threads=1)
    assert [(x["amp_bf16"], x["threads"], x["concurrent"]) for x in c] == [
        (False, 1, 2), (True, 1, 2)
    ]  # fmt: skip
    assert [x["amp_bf16"] for x in dev.precision_candidates(2, 3, False, 1)] == [False]
    assert dev.precision_candidates(16, 3, False, 4) == [
        {"amp_bf16": False, "threads": 4, "concurrent": 3}
    ]
    # more threads than cores: lowered to the cores, one at a time
    assert dev.precision_candidates(2, 3, False, 8) == [
        {"amp_bf16": False, "threads": 2, "concurrent": 1}
    ]


def test_choose_fastest_picks_the_fastest_measured_precision():
    # an EPYC-like machine: bf16 faster
    m = [
        {"amp_bf16": False, "threads": 1, "concurrent": 2, "images_per_s": 520.0},
        {"amp_bf16": True, "threads": 1, "concurrent": 2, "images_per_s": 780.0},
    ]
    assert dev.choose_fastest(m) is True
    # a Xeon-like machine: bf16 slower than fp32
    m[1]["images_per_s"] = 300.0
    assert dev.choose_fastest(m) is False
    # within 3%: the exact fp32 wins the tie
    tie = [dict(m[0], images_per_s=100.0), dict(m[1], images_per_s=102.0)]
    assert dev.choose_fastest(tie) is False
    with pytest.raises(ValueError):
        dev.choose_fastest([])


def test_time_candidate_times_real_training_steps(tmp_path):
    """Two 1-thread worker processes train side by side: a positive total rate, also when the
    caller is a script run as __main__ (as Snakemake runs the calibration rule's script)."""
    import subprocess
    import sys

    cfg = train.TrainConfig(task="class", hidden=4, batch_size=8, epochs=1, lr=1e-3)
    for concurrent in (2, 1):
        rate, full = step_timing.time_candidate(cfg, threads=1, concurrent=concurrent)
        assert rate > 0 and full
        # a floor no warm-up reaches: the warm-up's rate, not timed in full (workers stop)
        rate, full = step_timing.time_candidate(cfg, threads=1, concurrent=concurrent, floor=1e12)
        assert 0 < rate < 1e12 and not full
    script = tmp_path / "calibrate_like.py"
    script.write_text(
        "from fundiff.diffusion import step_timing, train\n"
        "cfg = train.TrainConfig(task='time', hidden=4, batch_size=8, epochs=1, lr=1e-3)\n"
        "print(step_timing.time_candidate(cfg, threads=1, concurrent=2)[0])\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    assert float(out.stdout.strip().splitlines()[-1]) > 0
