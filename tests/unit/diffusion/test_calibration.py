"""The measured precision (fundiff.diffusion.calibration): what is timed and what is chosen, with
the timing itself replaced by fixed rates. Threads are the plan's, never measured."""

from types import SimpleNamespace

import pytest

from fundiff.device import cpu_has_native_bf16
from fundiff.diffusion import calibration

CPU, CUDA = SimpleNamespace(type="cpu"), SimpleNamespace(type="cuda")
MPS = SimpleNamespace(type="mps")
TRAIN = {"task": "class", "hidden": 8, "batch_size": 16, "seed": 0}


@pytest.fixture
def timed(monkeypatch):
    """time_candidate -> a fixed rate: bf16 twice as fast, per-thread speed flat."""
    calls = []

    def fake(cfg, threads, concurrent, what="train", floor=0.0):
        calls.append((what, cfg.amp_bf16, threads, concurrent, cfg.task, cfg.hidden))
        rate = (2.0 if cfg.amp_bf16 else 1.0) * threads * concurrent
        return rate, rate >= floor

    monkeypatch.setattr(calibration, "time_candidate", fake)
    return calls


def test_cuda_and_mps_time_nothing_and_follow_the_config(timed):
    assert calibration.train_choice(CUDA, 8, 3, "auto", 8, TRAIN) == ([], True)
    assert calibration.train_choice(CUDA, 8, 3, False, 2, TRAIN) == ([], False)
    assert calibration.sample_choice(CUDA, 8, "auto", 8, TRAIN) == ([], False)  # spec: fp32
    assert calibration.sample_choice(CUDA, 8, True, 8, TRAIN) == ([], True)
    assert calibration.train_choice(MPS, 8, 3, "auto", 8, TRAIN) == ([], False)
    assert calibration.sample_choice(MPS, 8, True, 8, TRAIN) == ([], False)
    assert timed == []


def test_fixed_config_times_nothing(timed):
    assert calibration.train_choice(CPU, 4, 3, True, 2, TRAIN) == ([], cpu_has_native_bf16())
    assert calibration.train_choice(CPU, 4, 3, False, 2, TRAIN) == ([], False)
    assert calibration.sample_choice(CPU, 4, True, 2, TRAIN) == ([], True)  # asked: even emulated
    assert calibration.sample_choice(CPU, 4, False, 2, TRAIN) == ([], False)
    assert timed == []


def test_auto_times_each_precision_at_the_planned_threads_and_keeps_the_fastest(timed):
    measured, bf16 = calibration.train_choice(CPU, 4, 3, "auto", 1, TRAIN)
    # three 1-thread trainings side by side on 4 cores
    assert [(m["amp_bf16"], m["threads"], m["concurrent"]) for m in measured] == [
        (False, 1, 3), (True, 1, 3)
    ]  # fmt: skip
    assert all("images_per_s" in m for m in measured) and bf16 is True
    assert {c[0] for c in timed} == {"train"} and {c[4:] for c in timed} == {("class", 8)}
    timed.clear()
    measured, bf16 = calibration.sample_choice(CPU, 4, "auto", 4, TRAIN)
    assert [(m["amp_bf16"], m["threads"], m["concurrent"]) for m in measured] == [
        (False, 4, 1), (True, 4, 1)
    ]  # fmt: skip
    assert bf16 is True and {c[0] for c in timed} == {"sample"}


def test_calibrate_records_machine_measurements_and_the_plans_threads(timed):
    out = calibration.calibrate(CPU, 2, 3, False, False, {"train": 1, "sample": 8}, TRAIN)
    # the sampling jobs' 8 threads are lowered to the 2 cores, as Snakemake lowers them locally
    assert out["choice"] == {
        "amp_bf16": False,
        "threads": 1,
        "sample_bf16": False,
        "sample_threads": 2,
    }
    assert out["measured"] == [] and out["sampling_measured"] == []
    assert {"device", "cores", "cpu_model", "torch", "machine", "seconds"} <= set(out)


def test_a_candidate_slower_than_half_the_best_is_not_timed_in_full(monkeypatch):
    """Emulated bf16 (10x slower here): its warm-up is under WARMUP_CUTOFF x the best full timing
    so far, so it keeps the warm-up rate, is marked, and fp32 is chosen; the floor passed is
    that fraction of the best fully timed candidate before it."""
    floors = []

    def fake(cfg, threads, concurrent, what="train", floor=0.0):
        floors.append(floor)
        rate = (0.1 if cfg.amp_bf16 else 1.0) * threads * concurrent
        return rate, rate >= floor

    monkeypatch.setattr(calibration, "time_candidate", fake)
    measured, bf16 = calibration.train_choice(CPU, 2, 2, "auto", 1, TRAIN)
    assert [(m["amp_bf16"], m.get("warmup_only", False)) for m in measured] == [
        (False, False), (True, True)
    ]  # fmt: skip
    assert floors == [0.0, calibration.WARMUP_CUTOFF * 2.0]
    assert bf16 is False
    # a candidate within the cutoff is timed in full
    monkeypatch.setattr(calibration, "WARMUP_CUTOFF", 0.01)
    measured, _ = calibration.train_choice(CPU, 2, 2, "auto", 1, TRAIN)
    assert not any(m.get("warmup_only") for m in measured)
