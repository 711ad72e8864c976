"""Measured results: a small digit classifier trained on real MNIST, and the metrics built on it.

The classifier is trained on the real *training* digits only (never on generated ones) and
reports its own accuracy on the real held-out digits. Generated digits are then scored with it:

* class accuracy    a sample generated for class c is classified as c
* confidence        mean softmax probability of the predicted (or requested) class
* classifier-feature FD
                    Frechet distance between Gaussians fitted to the classifier's penultimate
                    features of two image sets (the FID recipe with our MNIST classifier instead
                    of Inception, so NOT comparable to published FID numbers). Its small-sample
                    bias is large, so every FD is reported next to a *floor*: the FD of a second,
                    disjoint set of real held-out digits of the same size vs the same reference.
* class entropy     entropy (nats) of the predicted-class histogram; log 10 = 2.303 is uniform
* diversity ratio   mean pairwise feature distance within each class, divided by the same for
                    real digits of that class (1 = as varied as real digits, 0 = mode collapse)

Part A metrics (pure functions on images in [0, 1]): PSNR, SSIM (scikit-image), errors inside /
outside an inpainting mask, and success rates of visual anagrams and hybrid images judged by
the digit classifier.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import functional as TF

from .parta import rotate180

# ----------------------------------------------------------------------------- classifier


class DigitClassifier(nn.Module):
    """LeNet-like: [conv5(w) BN ReLU pool] [conv5(2w) BN ReLU pool] fc(feat_dim) ReLU | fc(10).

    ``features`` is the fc(feat_dim) output (after ReLU): the space the FD is measured in.
    """

    def __init__(self, width: int = 16, feat_dim: int = 64):
        super().__init__()
        self.width, self.feat_dim = width, feat_dim
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, 1, 2),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5, 1, 2),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 49, feat_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feat_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def config(self) -> dict:
        return {"width": self.width, "feat_dim": self.feat_dim}


@dataclass
class ClassifierConfig:
    width: int = 16
    feat_dim: int = 64
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    augment: bool = True  # small random affine (rotate / scale / shift) of each training digit
    seed: int = 0


def _to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) or float (N, 1, 28, 28) in [0, 1] -> float (N, 1, 28, 28)."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div(255.0).unsqueeze(1)
    x = images.to(torch.float32)
    return x if x.ndim == 4 else x.unsqueeze(1)


def random_affine(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Rotate +-10 deg, scale 0.9-1.1, shift +-2 px (per image, from ``g``); zero padding."""
    n = x.shape[0]
    u = torch.rand((n, 4), generator=g) * 2 - 1
    ang = u[:, 0] * math.radians(10)
    s = 1 + 0.1 * u[:, 1]
    tx, ty = u[:, 2] * 2 / 14, u[:, 3] * 2 / 14  # +-2 px in [-1, 1] grid units
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def train_classifier(
    cfg: ClassifierConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device | str = "cpu",
) -> tuple[DigitClassifier, list[dict]]:
    """Train on real digits (uint8 (N, 28, 28), int64 labels); seeded and deterministic."""
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    model = DigitClassifier(cfg.width, cfg.feat_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n = len(labels)
    steps = cfg.epochs * ((n + cfg.batch_size - 1) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    x_all, y_all = _to_float(images), labels.to(torch.int64)
    g = torch.Generator().manual_seed(cfg.seed)
    history = []
    model.train()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            x, y = x_all[idx], y_all[idx]
            if cfg.augment:
                x = random_affine(x, g)
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
        history.append(
            {"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total}
        )
    recalibrate_batchnorm(model, x_all, cfg.batch_size, device)
    return model.eval(), history


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int, device) -> None:
    """Recompute BatchNorm running statistics as exact averages over the (unaugmented) training
    digits with the final weights: the running averages of a short training lag its weights."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    for i in range(0, len(x), batch_size):
        model.features(x[i : i + batch_size].to(device))
    for bn in bns:
        bn.momentum = 0.1


def save_classifier(model: DigitClassifier, info: dict, path) -> None:
    from .io import torch_save

    torch_save(
        {"model_config": model.config(), "state_dict": model.state_dict(), "info": info}, path
    )


def load_classifier(path, device: torch.device | str = "cpu") -> DigitClassifier:
    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = DigitClassifier(**ckpt["model_config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


@torch.no_grad()
def embed(
    model: DigitClassifier, images: torch.Tensor, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (N, feat_dim) float64 and softmax probabilities (N, 10)."""
    dev = next(model.parameters()).device
    x = _to_float(images)
    feats, probs = [], []
    for i in range(0, len(x), batch_size):
        f = model.features(x[i : i + batch_size].to(dev))
        feats.append(f.double().cpu())
        probs.append(model.head(f).softmax(1).double().cpu())
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


# ----------------------------------------------------------------------------- distributions


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    feats = np.asarray(feats, dtype=np.float64)
    return feats.mean(0), np.cov(feats, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^1/2), with tr (C1 C2)^1/2 computed as the trace of
    (C1^1/2 C2 C1^1/2)^1/2 (a symmetric PSD matrix: stable even for rank-deficient covariances)."""
    s1 = _sqrtm_psd(cov1)
    w = np.linalg.eigvalsh(s1 @ cov2 @ s1)
    tr_covmean = np.sqrt(np.clip(w, 0, None)).sum()
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * tr_covmean, 0.0))


def feature_fd(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(feats_a), *gaussian_stats(feats_b))


def split_reference(labels: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split held-out digits per class into two disjoint halves: (reference, floor pool)."""
    g = torch.Generator().manual_seed(seed)
    ref, pool = [], []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        ref.append(idx[: len(idx) // 2])
        pool.append(idx[len(idx) // 2 :])
    return torch.cat(ref).sort().values, torch.cat(pool).sort().values


def fd_floor(
    pool_feats: np.ndarray, ref_feats: np.ndarray, n: int, seed: int, repeats: int = 5
) -> dict:
    """FD of ``n`` real digits (drawn from the floor pool, disjoint from the reference) vs the
    reference: what a perfect generator would score at this sample count. Mean and std over
    ``repeats`` draws (one draw when n covers the whole pool)."""
    n_eff = min(n, len(pool_feats))
    rng = np.random.default_rng(seed)
    reps = 1 if n_eff == len(pool_feats) else repeats
    fds = [
        feature_fd(pool_feats[rng.choice(len(pool_feats), n_eff, replace=False)], ref_feats)
        for _ in range(reps)
    ]
    return {"fd_floor": float(np.mean(fds)), "fd_floor_std": float(np.std(fds)), "n_floor": n_eff}


def class_entropy(pred: np.ndarray, num_classes: int = 10) -> float:
    """Entropy (nats) of the predicted-class histogram; log(num_classes) when uniform."""
    counts = np.bincount(np.asarray(pred), minlength=num_classes).astype(np.float64)
    p = counts / max(counts.sum(), 1)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum()) + 0.0  # + 0.0: no "-0" for a single class


def mean_pairwise_distance(feats: np.ndarray) -> float:
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) < 2:
        return float("nan")
    sq = (feats**2).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * feats @ feats.T, 0, None)
    iu = np.triu_indices(len(feats), 1)
    return float(np.sqrt(d2[iu]).mean())


def diversity_ratio(
    feats: np.ndarray, labels: np.ndarray, ref_feats: np.ndarray, ref_labels: np.ndarray
) -> float:
    """Mean over classes of (within-class mean pairwise feature distance of the samples) /
    (the same for real reference digits of that class). Classes with < 2 samples are skipped."""
    ratios = []
    for c in range(10):
        a, b = feats[labels == c], ref_feats[ref_labels == c]
        if len(a) >= 2 and len(b) >= 2:
            ratios.append(mean_pairwise_distance(a) / mean_pairwise_distance(b))
    return float(np.mean(ratios)) if ratios else float("nan")


BORDER = 4  # MNIST digits are centred in a 20 x 20 box: the outer 4 pixels are background


def background_intensity(images) -> float:
    """Mean absolute intensity in [0, 1] of the ``BORDER``-pixel frame of 28 x 28 digits (uint8
    0-255 or float 0-1, (N, 28, 28) or (N, 1, 28, 28)). Real MNIST is ~0.01 there; sampler
    grain raises it."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = x.reshape(-1, 28, 28).abs()
    frame = torch.ones(28, 28, dtype=torch.bool)
    frame[BORDER:-BORDER, BORDER:-BORDER] = False
    return float(x[:, frame].mean())


@dataclass
class SampleScores:
    n: int
    accuracy: float | None  # class-conditioned only
    confidence: float  # mean max softmax probability
    class_entropy: float
    fd: float
    fd_floor: float
    fd_floor_std: float
    n_floor: int
    fd_ratio: float  # fd / fd_floor
    diversity: float | None  # class-conditioned only

    def as_dict(self) -> dict:
        return asdict(self)


def score_samples(
    feats: np.ndarray,
    probs: np.ndarray,
    ref_feats: np.ndarray,
    pool_feats: np.ndarray,
    labels: np.ndarray | None = None,
    ref_labels: np.ndarray | None = None,
    seed: int = 0,
) -> SampleScores:
    """All metrics of one set of generated digits against the real reference (see module doc)."""
    pred = probs.argmax(1)
    floor = fd_floor(pool_feats, ref_feats, len(feats), seed)
    fd = feature_fd(feats, ref_feats)
    acc = div = None
    if labels is not None:
        labels = np.asarray(labels)
        acc = float((pred == labels).mean())
        if ref_labels is not None:
            div = diversity_ratio(feats, labels, ref_feats, np.asarray(ref_labels))
    return SampleScores(
        n=len(feats),
        accuracy=acc,
        confidence=float(probs.max(1).mean()),
        class_entropy=class_entropy(pred),
        fd=fd,
        fd_floor=floor["fd_floor"],
        fd_floor_std=floor["fd_floor_std"],
        n_floor=floor["n_floor"],
        fd_ratio=fd / floor["fd_floor"] if floor["fd_floor"] > 0 else float("inf"),
        diversity=div,
    )


# ----------------------------------------------------------------------------- Part A metrics


def _np01(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float64)


def psnr(a, b, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    mse = float(((_np01(a) - _np01(b)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def ssim(a, b, data_range: float = 1.0) -> float:
    """Structural similarity (scikit-image). Images (H, W), (C, H, W) with C <= 4, or (H, W, C)."""
    from skimage.metrics import structural_similarity

    a, b = _np01(a), _np01(b)
    if a.shape != b.shape:
        raise ValueError(f"ssim needs equal shapes, got {a.shape} and {b.shape}")
    if a.ndim == 3 and a.shape[0] <= 4 and a.shape[-1] > 4:  # CHW -> HWC
        a, b = a.transpose(1, 2, 0), b.transpose(1, 2, 0)
    channel_axis = -1 if a.ndim == 3 else None
    win = min(7, *(s if s % 2 else s - 1 for s in a.shape[:2]))
    return float(
        structural_similarity(
            a, b, data_range=data_range, channel_axis=channel_axis, win_size=max(win, 3)
        )
    )


def masked_errors(a, b, mask) -> dict:
    """Inpainting: mean squared / absolute error inside (mask = 1, regenerated) and outside
    (mask = 0, must equal the original) the mask. ``mask`` broadcasts against the images."""
    a, b = _np01(a), _np01(b)
    m = np.broadcast_to(_np01(mask) > 0.5, a.shape)
    d = a - b
    out = {}
    for name, sel in (("inside", m), ("outside", ~m)):
        out[f"mse_{name}"] = float((d[sel] ** 2).mean()) if sel.any() else float("nan")
        out[f"mae_{name}"] = float(np.abs(d[sel]).mean()) if sel.any() else float("nan")
    return out


def success_rate(pred, target) -> float:
    pred, target = np.asarray(pred), np.asarray(target)
    return float((pred == target).mean()) if len(pred) else float("nan")


@torch.no_grad()
def predict(model: DigitClassifier, images) -> np.ndarray:
    return embed(model, torch.as_tensor(images))[1].argmax(1)


def anagram_success(
    model: DigitClassifier, images, upright_labels, flipped_labels, flip=rotate180
) -> dict:
    """Visual anagrams on MNIST: the image reads as ``upright_labels`` and, turned by ``flip``
    (default: rotated 180 degrees; pass ``fundiff.parta.flip``, the vertical flip the sampling
    loop uses, to judge the view the model was asked for), as ``flipped_labels``; success =
    both views classified correctly."""
    x = _to_float(torch.as_tensor(images))
    up, down = predict(model, x), predict(model, flip(x))
    ok_up, ok_down = up == np.asarray(upright_labels), down == np.asarray(flipped_labels)
    return {
        "upright": float(ok_up.mean()),
        "flipped": float(ok_down.mean()),
        "both": float((ok_up & ok_down).mean()),
    }


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """torchvision's Gaussian blur (kernel 2 * ceil(3 sigma) + 1, reflect padding) of (N, C, H, W)."""
    k = 2 * max(1, math.ceil(3 * sigma)) + 1
    return TF.gaussian_blur(x, [k, k], [sigma, sigma])


def hybrid_success(
    model: DigitClassifier, images, far_labels, near_labels, blur_sigma: float = 2.0
) -> dict:
    """Hybrid images on MNIST: seen from afar (low-pass: Gaussian blur ``blur_sigma``) the image
    should read as ``far_labels``; seen up close (the image itself) as ``near_labels``."""
    x = _to_float(torch.as_tensor(images))
    far, near = predict(model, gaussian_blur(x, blur_sigma)), predict(model, x)
    ok_far, ok_near = far == np.asarray(far_labels), near == np.asarray(near_labels)
    return {
        "far": float(ok_far.mean()),
        "near": float(ok_near.mean()),
        "both": float((ok_far & ok_near).mean()),
    }


# ----------------------------------------------------------------------------- Part A tables


def _batch01(x, name: str) -> np.ndarray:
    """(N, C, H, W) float64 clipped to [0, 1]."""
    a = _np01(x)
    if a.ndim != 4:
        raise ValueError(f"{name}: expected (N, C, H, W) images, got shape {a.shape}")
    return np.clip(a, 0.0, 1.0)


def denoising_metrics(originals, estimates: dict, names=None) -> list[dict]:
    """PSNR and SSIM of every denoised estimate against its clean original.

    ``originals`` (N, C, H, W) in [0, 1]; ``estimates`` {(method, t): (N, C, H, W)} (e.g. the
    noisy x_t, Gaussian blur, one-step and iterative estimates at each noise level). Estimates
    are clipped to [0, 1] first, as when they are saved as images. One row per (method, t,
    image): {"image", "t", "method", "psnr", "ssim"}.
    """
    ref = _batch01(originals, "originals")
    names = list(names) if names is not None else [str(k) for k in range(len(ref))]
    if len(names) != len(ref):
        raise ValueError(f"{len(names)} names for {len(ref)} images")
    rows = []
    for (method, t), est in estimates.items():
        est = _batch01(est, f"estimate ({method}, t = {t})")
        if est.shape != ref.shape:
            raise ValueError(
                f"estimate ({method}, t = {t}) has shape {est.shape}, originals {ref.shape}"
            )
        for name, e, r in zip(names, est, ref, strict=True):
            rows.append(
                {
                    "image": name,
                    "t": int(t),
                    "method": str(method),
                    "psnr": psnr(e, r),
                    "ssim": ssim(e, r),
                }
            )
    return rows


def mean_std(df, by: list[str], values: list[str]):
    """Mean, std (ddof 0) and count of ``values`` per group: columns <v>_mean, <v>_std, n."""
    g = df.groupby(by, sort=False)[values]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=0).add_suffix("_std"))
    out["n"] = g.size()
    return out.reset_index()


def sdedit_distances(original, edits: dict) -> list[dict]:
    """Distance of SDEdit results to their original: {i_start: image} -> rows (sorted by
    i_start) {"i_start", "psnr", "mse"}. Images (C, H, W) or (H, W) in [0, 1] (clipped). A
    larger i_start starts from less noise, so the PSNR should rise (roughly) with it."""
    ref = np.clip(_np01(original), 0.0, 1.0)
    rows = []
    for i in sorted(edits):
        if int(i) != i or i < 0:
            raise ValueError(f"i_start must be a non-negative integer, got {i!r}")
        e = np.clip(_np01(edits[i]), 0.0, 1.0)
        if e.shape != ref.shape:
            raise ValueError(f"SDEdit at i_start {i} has shape {e.shape}, original {ref.shape}")
        rows.append(
            {"i_start": int(i), "psnr": psnr(e, ref), "mse": float(((e - ref) ** 2).mean())}
        )
    return rows


def rising_fraction(values) -> float:
    """Fraction of consecutive pairs that rise (ties count half): 1 = increasing, 0 = falling."""
    v = np.asarray(list(values), dtype=np.float64)
    if len(v) < 2:
        return float("nan")
    d = np.diff(v)
    return float(((d > 0) + 0.5 * (d == 0)).mean())


# ----------------------------------------------------------------------------- plots


def plot_cfg_sweep(df, path, floor: float | None = None) -> None:
    """Quality / diversity trade-off of classifier-free guidance: one panel per metric vs gamma."""
    import matplotlib.pyplot as plt

    from .viz import _save_fig

    panels = [
        ("accuracy", "class accuracy"),
        ("fd", "classifier-feature FD"),
        ("diversity", "within-class diversity (real = 1)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (col, title) in zip(axes, panels, strict=True):
        ax.plot(df["guidance_scale"], df[col], "o-")
        if col == "fd":
            ax.plot(df["guidance_scale"], df["fd_floor"], "k--", label="real vs real (floor)")
            ax.legend(fontsize=8)
        if col == "diversity":
            ax.axhline(1.0, color="k", ls="--", lw=1)
        ax.set_xlabel("guidance scale gamma")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save_fig(fig, path)


def plot_epochs(df, path) -> None:
    """Sample-grid metrics vs training epoch for the time- and class-conditioned models."""
    import matplotlib.pyplot as plt

    from .viz import _save_fig

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for model, sub in df.groupby("model", sort=True):
        sub = sub.sort_values("epoch")
        axes[0].plot(sub["epoch"], sub["fd_ratio"], "o-", label=model)
        axes[1].plot(sub["epoch"], sub["confidence"], "o-", label=model)
        if sub["accuracy"].notna().any():
            axes[2].plot(sub["epoch"], sub["accuracy"], "o-", label=f"{model} accuracy")
        else:
            axes[2].plot(
                sub["epoch"],
                sub["class_entropy"] / math.log(10),
                "s--",
                label=f"{model} H / log 10",
            )
    titles = ["FD / real-vs-real floor (1 = real)", "mean classifier confidence", "class score"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save_fig(fig, path)


def plot_denoising(summary, path) -> None:
    """Mean PSNR and SSIM (+- std over images) vs t, one line per denoising method."""
    import matplotlib.pyplot as plt

    from .viz import _save_fig

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric, title in zip(axes, ("psnr", "ssim"), ("PSNR (dB)", "SSIM"), strict=True):
        for method, sub in summary.groupby("method", sort=False):
            sub = sub.sort_values("t")
            ax.errorbar(
                sub["t"], sub[f"{metric}_mean"], yerr=sub[f"{metric}_std"], fmt="o-",
                capsize=3, label=method,
            )  # fmt: skip
        ax.set_xlabel("noise level t")
        ax.set_title(f"{title} to the clean image", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save_fig(fig, path)


def plot_sdedit(df, path) -> None:
    """PSNR to the original vs i_start, one line per (section, image)."""
    import matplotlib.pyplot as plt

    from .viz import _save_fig

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for (section, image), sub in df.groupby(["section", "image"], sort=False):
        sub = sub.sort_values("i_start")
        ax.plot(sub["i_start"], sub["psnr"], "o-", label=f"{section} {image}")
    ax.set_xlabel("i_start (larger = less noise added)")
    ax.set_ylabel("PSNR to the original (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save_fig(fig, path)


def plot_inpaint(df, path) -> None:
    """Mean squared error inside vs outside the mask, per image."""
    import matplotlib.pyplot as plt

    from .viz import _save_fig

    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(df), 3.2))
    x = np.arange(len(df))
    ax.bar(x - 0.2, df["mse_inside"], 0.4, label="inside the mask (generated)")
    ax.bar(x + 0.2, df["mse_outside"], 0.4, label="outside (kept)")
    ax.set_xticks(x, df["image"])
    ax.set_ylabel("MSE to the original")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_fig(fig, path)


def plot_illusions(df, path) -> None:
    """Success rates of the visual anagrams and hybrid images per prompt pair."""
    import matplotlib.pyplot as plt

    from .viz import _save_fig

    kinds = list(dict.fromkeys(df["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        sub = df[df["kind"] == kind].reset_index(drop=True)
        cols = ["view1", "view2", "both"]
        names = {
            "anagram": ["upright = p1", "flipped = p2", "both"],
            "hybrid": ["blurred = p1 (low)", "as is = p2 (high)", "both"],
        }[kind]
        x = np.arange(len(sub))
        for j, (col, name) in enumerate(zip(cols, names, strict=True)):
            ax.bar(x + (j - 1) * 0.27, sub[col], 0.27, label=name)
        ax.set_xticks(x, sub["pair"])
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{kind}s: classifier success rate", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save_fig(fig, path)
