"""The CS180 fa24 Part B UNet, exactly as specified, in one readable file.

Operations (spec Figure 2)::

    Conv       Conv2d(k3, s1, p1) + BN + GELU          (D_in, H, W)  -> (D_out, H, W)
    DownConv   Conv2d(k3, s2, p1) + BN + GELU          (D_in, H, W)  -> (D_out, H/2, W/2)
    UpConv     ConvTranspose2d(k4, s2, p1) + BN + GELU (D_in, H, W)  -> (D_out, 2H, 2W)
    Flatten    AvgPool2d(7) + GELU                     (D, 7, 7)     -> (D, 1, 1)
    Unflatten  ConvTranspose2d(k7, s7) + BN + GELU     (D, 1, 1)     -> (D, 7, 7)
    ConvBlock  Conv -> Conv;  DownBlock  DownConv -> ConvBlock;  UpBlock  UpConv -> ConvBlock
    FCBlock    Linear(F_in, F_out) + GELU -> Linear(F_out, F_out)

Architecture (spec Figures 1 and 8), input (1, 28, 28)::

    x0 = ConvBlock(1 -> D)            (D, 28, 28)
    x1 = DownBlock(D -> D)            (D, 14, 14)
    x2 = DownBlock(D -> 2D)           (2D, 7, 7)
    u0 = Unflatten(Flatten(x2))       (2D, 7, 7)     u0 = c1 * u0 + t1   (conditioning)
    u1 = UpBlock(4D -> D)([x2, u0])   (D, 14, 14)    u1 = c2 * u1 + t2   (conditioning)
    u2 = UpBlock(2D -> D)([x1, u1])   (D, 28, 28)
    out = Conv2d(D -> 1)(ConvBlock(2D -> D)([x0, u2]))   plain final conv, no BN / GELU

Time conditioning feeds t/T through ``t1 = FCBlock(1, 2D)``, ``t2 = FCBlock(1, D)``; class
conditioning feeds a one-hot c (all zeros = unconditional) through ``c1 = FCBlock(10, 2D)``,
``c2 = FCBlock(10, D)``. (The spec page prints ``c2 * up1 + t1``; that is a typo for ``+ t2``.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fundiff.diffusion.ddpm import cfg_batched


class Conv(nn.Sequential):
    def __init__(self, d_in: int, d_out: int):
        super().__init__(nn.Conv2d(d_in, d_out, 3, 1, 1), nn.BatchNorm2d(d_out), nn.GELU())


class DownConv(nn.Sequential):
    def __init__(self, d_in: int, d_out: int):
        super().__init__(nn.Conv2d(d_in, d_out, 3, 2, 1), nn.BatchNorm2d(d_out), nn.GELU())


class UpConv(nn.Sequential):
    def __init__(self, d_in: int, d_out: int):
        super().__init__(nn.ConvTranspose2d(d_in, d_out, 4, 2, 1), nn.BatchNorm2d(d_out), nn.GELU())


class Flatten(nn.Sequential):
    def __init__(self):
        super().__init__(nn.AvgPool2d(7), nn.GELU())


class Unflatten(nn.Sequential):
    def __init__(self, d: int):
        super().__init__(nn.ConvTranspose2d(d, d, 7, 7, 0), nn.BatchNorm2d(d), nn.GELU())


class ConvBlock(nn.Sequential):
    def __init__(self, d_in: int, d_out: int):
        super().__init__(Conv(d_in, d_out), Conv(d_out, d_out))


class DownBlock(nn.Sequential):
    def __init__(self, d_in: int, d_out: int):
        super().__init__(DownConv(d_in, d_out), ConvBlock(d_out, d_out))


class UpBlock(nn.Sequential):
    def __init__(self, d_in: int, d_out: int):
        super().__init__(UpConv(d_in, d_out), ConvBlock(d_out, d_out))


class FCBlock(nn.Sequential):
    def __init__(self, f_in: int, f_out: int):
        super().__init__(nn.Linear(f_in, f_out), nn.GELU(), nn.Linear(f_out, f_out))


class UNet(nn.Module):
    """Spec UNet; ``time_cond`` / ``num_classes`` switch on the FCBlock conditioning.

    * ``UNet(1, D)``                                  single-step denoiser (Part B 1)
    * ``UNet(1, D, time_cond=True)``                  time-conditioned eps_theta(x_t, t) (Part B 2.1)
    * ``UNet(1, D, time_cond=True, num_classes=10)``  class-conditioned eps_theta(x_t, t, c) (B 2.4)
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_hiddens: int = 64,
        time_cond: bool = False,
        num_classes: int = 0,
    ):
        super().__init__()
        d = num_hiddens
        self.in_channels, self.num_hiddens = in_channels, d
        self.time_cond, self.num_classes = time_cond, num_classes
        self.conv_in = ConvBlock(in_channels, d)
        self.down1 = DownBlock(d, d)
        self.down2 = DownBlock(d, 2 * d)
        self.flatten = Flatten()
        self.unflatten = Unflatten(2 * d)
        self.up1 = UpBlock(4 * d, d)
        self.up2 = UpBlock(2 * d, d)
        self.conv_out = ConvBlock(2 * d, d)
        self.final = nn.Conv2d(d, in_channels, 3, 1, 1)
        if time_cond:
            self.fc1_t, self.fc2_t = FCBlock(1, 2 * d), FCBlock(1, d)
        if num_classes:
            self.fc1_c, self.fc2_c = FCBlock(num_classes, 2 * d), FCBlock(num_classes, d)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor | None = None,
        c: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x: (N, C, 28, 28); t: (N,) normalised time t/T in [0, 1]; c: (N, num_classes) one-hot
        (a zero row means "no class") or (N,) int64 labels, where -1 means "no class"."""
        if x.shape[-2:] != (28, 28):
            raise ValueError(f"UNet expects 28 x 28 inputs, got {tuple(x.shape[-2:])}")
        x0 = self.conv_in(x)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        u0 = self.unflatten(self.flatten(x2))
        if self.num_classes:
            c1, c2 = self._class_embeddings(c, x.shape[0], x.dtype)
            u0 = c1 * u0
        if self.time_cond:
            t1, t2 = self._time_embeddings(t, x.dtype)
            u0 = u0 + t1
        u1 = self.up1(torch.cat([x2, u0], dim=1))
        if self.num_classes:
            u1 = c2 * u1
        if self.time_cond:
            u1 = u1 + t2
        u2 = self.up2(torch.cat([x1, u1], dim=1))
        return self.final(self.conv_out(torch.cat([x0, u2], dim=1)))

    def _time_embeddings(self, t, dtype):
        if t is None:
            raise ValueError("this UNet is time-conditioned: pass t (normalised t/T)")
        t = t.to(dtype).reshape(-1, 1)
        return self.fc1_t(t)[..., None, None], self.fc2_t(t)[..., None, None]

    def _class_embeddings(self, c, n, dtype):
        if c is None:
            raise ValueError("this UNet is class-conditioned: pass c (one-hot, or labels)")
        if c.ndim == 1:  # integer labels, -1 = unconditional (zero vector)
            # one-hot by comparison (not F.one_hot, which checks bounds with a device sync and
            # so cannot run inside a CUDA graph); label -1 matches no class: the zero row
            c = c[:, None] == torch.arange(self.num_classes, device=c.device)
        c = c.to(dtype)
        return self.fc1_c(c)[..., None, None], self.fc2_c(c)[..., None, None]

    def config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "num_hiddens": self.num_hiddens,
            "time_cond": self.time_cond,
            "num_classes": self.num_classes,
        }


# Sampling on a CPU: a forward of a few hundred 28 x 28 rows (a CFG batch is 2N) no longer fits
# in cache and costs more per image than chunks of a few dozen rows (docs/benchmarks.md, CFG on
# the CPU; benchmarks/run.py "cfg_chunked"). On a GPU one big batch is best, so chunking is
# CPU-only. Rows are independent: the result is the same.
CPU_MAX_ROWS = 50


def forward_chunked(
    model: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor | None = None,
    c: torch.Tensor | None = None,
    max_rows: int | None = -1,
    bf16: bool = False,
) -> torch.Tensor:
    """``model(x, t, c)`` evaluated over row chunks of at most ``max_rows`` (None: one forward;
    -1: ``CPU_MAX_ROWS`` on a CPU, one forward elsewhere), concatenated. ``bf16``: under bf16
    autocast (where measured faster, see the calibration rule), returned as float32."""
    if bf16:
        with torch.autocast(x.device.type, torch.bfloat16):
            return forward_chunked(model, x, t, c, max_rows).float()
    if max_rows == -1:
        max_rows = CPU_MAX_ROWS if x.device.type == "cpu" else None
    n = x.shape[0]
    if max_rows is None or n <= max_rows:
        return model(x, t, c)
    parts = [
        model(
            x[i : i + max_rows],
            None if t is None else t[i : i + max_rows],
            None if c is None else c[i : i + max_rows],
        )
        for i in range(0, n, max_rows)
    ]
    return torch.cat(parts)


def guided(
    model: UNet,
    labels: torch.Tensor | None,
    guidance_scale: float,
    device: torch.device | str = "cpu",
    bf16: bool = False,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``net(x_t, t_in)``: the model's output (noise for a DDPM, velocity for a flow model), in
    row chunks on a CPU (:func:`forward_chunked`). With ``labels``, CFG
    out = out_u + gamma (out_c - out_u) over ONE batched forward of both halves; gamma = 0 is
    out_u and gamma = 1 is out_c, for which one half suffices."""

    def forward(x_t, t_in, c=None):
        return forward_chunked(model, x_t, t_in, c, bf16=bf16)

    if labels is None:
        return forward
    labels = labels.to(device)
    uncond = torch.full_like(labels, -1)
    if guidance_scale in (0.0, 1.0):
        c = uncond if guidance_scale == 0.0 else labels
        return lambda x_t, t_in: forward(x_t, t_in, c)
    return lambda x_t, t_in: cfg_batched(forward, x_t, t_in, labels, uncond, guidance_scale)
