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

from fundiff.evaluation.classifier import DigitClassifier, _to_float, predict
from fundiff.parta.views import rotate180

# ----------------------------------------------------------------------------- classifier


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
    0-255 or float 0-1, (N, 28, 28) or (N, 1, 28, 28)). Real MNIST is close to 0 there; sampler
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


def anagram_success(
    model: DigitClassifier, images, upright_labels, flipped_labels, flip=rotate180
) -> dict:
    """Visual anagrams on MNIST: the image reads as ``upright_labels`` and, turned by ``flip``
    (default: rotated 180 degrees; pass ``fundiff.parta.views.flip``, the vertical flip the sampling
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
    from torchvision.transforms import functional as TF  # here: a slow import

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


def sdedit_stats(df) -> tuple:
    """SDEdit's two summaries of its tidy table (section, image, i_start, psnr, mse): the mean
    PSNR / MSE per i_start (sorted), and per (section, image), in order of appearance, the
    :func:`rising_fraction` of its PSNR over increasing i_start. The A2 table and the Part A
    summary both read them from here."""
    mean = df.groupby("i_start", sort=True)[["psnr", "mse"]].mean()
    rising = {
        key: rising_fraction(sub.sort_values("i_start")["psnr"])
        for key, sub in df.groupby(["section", "image"], sort=False)
    }
    return mean, rising


# ----------------------------------------------------------------------------- plots
