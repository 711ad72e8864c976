"""The measured layout (fundiff.diffusion.calibration): what is timed and what is chosen, with the
timing itself replaced by fixed rates."""

from types import SimpleNamespace

import pytest

from fundiff.device import cpu_has_native_bf16
from fundiff.diffusion import calibration

CPU, CUDA = SimpleNamespace(type="cpu"), SimpleNamespace(type="cuda")
TRAIN = {"task": "class", "hidden": 8, "batch_size": 16, "seed": 0}


@pytest.fixture
def timed(monkeypatch):
    """measure_layout -> a fixed rate: bf16 twice as fast, per-thread speed flat."""
    calls = []

    def fake(cfg, threads, concurrent, what="train", floor=0.0):
        calls.append((what, cfg.amp_bf16, threads, concurrent, cfg.task, cfg.hidden))
        rate = (2.0 if cfg.amp_bf16 else 1.0) * threads
        return rate, rate >= floor

    monkeypatch.setattr(calibration, "measure_layout", fake)
    return calls


def test_cuda_times_nothing_and_follows_the_config(timed):
    assert calibration.train_choice(CUDA, 8, 3, "auto", "auto", TRAIN) == (
        [],
        {"amp_bf16": True, "threads": 8},
    )
    assert calibration.train_choice(CUDA, 8, 3, False, 2, TRAIN)[1]["amp_bf16"] is False
    assert calibration.sample_choice(CUDA, 8, "auto", "auto", TRAIN) == (
        [],
        {"sample_bf16": False, "sample_threads": 8},
    )
    assert timed == []


def test_fixed_config_times_nothing(timed):
    measured, choice = calibration.train_choice(CPU, 4, 3, True, 2, TRAIN)
    assert measured == [] and choice == {"amp_bf16": cpu_has_native_bf16(), "threads": 2}
    assert calibration.train_choice(CPU, 4, 3, False, 2, TRAIN)[1]["amp_bf16"] is False
    assert calibration.sample_choice(CPU, 4, True, 2, TRAIN) == (
        [],
        {"sample_bf16": True, "sample_threads": 2},
    )
    assert timed == []


def test_auto_times_every_candidate_and_keeps_the_fastest(timed):
    measured, choice = calibration.train_choice(CPU, 4, 3, "auto", "auto", TRAIN)
    assert len(measured) == 4  # fp32 / bf16 x 4 threads / 1 thread per job
    assert all("images_per_s" in m for m in measured)
    assert choice == {"amp_bf16": True, "threads": 4}
    assert {c[0] for c in timed} == {"train"} and {c[4:] for c in timed} == {("class", 8)}
    timed.clear()
    measured, choice = calibration.sample_choice(CPU, 4, True, "auto", TRAIN)
    assert measured and all(m["amp_bf16"] for m in measured)  # bf16 asked for: only bf16
    assert choice == {"sample_bf16": True, "sample_threads": 4}
    assert {c[0] for c in timed} == {"sample"}


def test_calibrate_records_machine_measurements_and_one_choice(timed):
    out = calibration.calibrate(CPU, 2, 3, False, 1, False, TRAIN)
    assert out["choice"] == {
        "amp_bf16": False,
        "threads": 1,
        "sample_bf16": False,
        "sample_threads": 1,
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

    monkeypatch.setattr(calibration, "measure_layout", fake)
    measured, choice = calibration.train_choice(CPU, 2, 2, "auto", "auto", TRAIN)
    assert [(m["amp_bf16"], m.get("warmup_only", False)) for m in measured] == [
        (False, False), (True, True), (False, False), (True, True)
    ]  # fmt: skip
    assert floors == [0.0, calibration.WARMUP_CUTOFF * 2.0, calibration.WARMUP_CUTOFF * 2.0,
                      calibration.WARMUP_CUTOFF * 2.0]  # fmt: skip
    assert choice == {"amp_bf16": False, "threads": 1}  # the fp32 tie: fewer threads per job
    # a candidate within the cutoff is timed in full, and the fastest wins
    monkeypatch.setattr(calibration, "WARMUP_CUTOFF", 0.01)
    measured, _ = calibration.train_choice(CPU, 2, 2, "auto", "auto", TRAIN)
    assert not any(m.get("warmup_only") for m in measured)
