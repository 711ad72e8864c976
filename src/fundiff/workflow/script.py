"""Glue for the Part A Snakemake scripts: backend from rule params, cells and table specs.

A section writes each image as a PNG cell (small MNIST cells enlarged with nearest-neighbour
pixels) and, per table, one JSON table spec (:func:`fundiff.report.tables.write_table`) with a sibling
``.npz`` holding the raw arrays: ``<cell>`` uint8 H x W (x 3) and ``<cell>_float`` float32
C x H x W in [0, 1] before clipping. Sections split over several rules (one per image or prompt
pair) write *parts* (same JSON/NPZ, rows only) that the ``parta_table`` rule merges.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from fundiff import plotting as viz
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.io import save_npz, write_json
from fundiff.parta.backends import Backend, load_backend
from fundiff.parta.images import load_image  # noqa: F401 (the scripts' import)
from fundiff.parta.layout import array_key
from fundiff.parta.loops import generator
from fundiff.report import tables as figures
from fundiff.seeds import derived_seed


def backend_from_rule(smk) -> Backend:
    """The backend named in ``params.backend``, on ``params.device``, with the rule's inputs.

    The backends load their model on first use, so a rule that never calls it (forward
    noising, the blur baseline) may leave out the model inputs it does not read: deepfloyd's
    ``prompt_embeds`` (needed only to encode prompts), mnist's ``calibration`` (fp32 then)."""
    setup_torch(smk.threads)
    device = resolve_device(smk.params.device)
    cfg = dict(smk.params.backend)
    if cfg.get("name") == "mnist":  # the measured sampling precision (calibration rule)
        cfg["bf16"] = calibrated(getattr(smk.input, "calibration", None), "sample_bf16")
    if cfg.get("name") == "deepfloyd":
        embeds = getattr(smk.input, "prompt_embeds", None)
        return load_backend(cfg, device, prompt_embeds=embeds)
    return load_backend(cfg, device, checkpoint=cfg.get("checkpoint"))


def seeded_generator(seed: int, *names) -> torch.Generator:
    """A CPU generator seeded :func:`derived_seed` (``seed``, ``*names``): per-image noise.

    SDEdit uses ("sdedit", image, i_start), inpainting ("inpaint", image) and
    ("inpaint", image, "known") for the re-noised original, anagrams / hybrids
    ("anagram" | "hybrid", pair). So rows of different images differ, while the same image
    gets the same noise in every run and in every section that edits it.
    """
    return generator(derived_seed(seed, *names))


class Table:
    """Rows of image cells saved as PNGs plus their raw arrays."""

    def __init__(self, backend: Backend, out_dir, upscale: int = 1):
        self.backend, self.out_dir, self.upscale = backend, Path(out_dir), upscale
        self.rows: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}

    def cell(self, name: str, x: torch.Tensor, caption: str = "", turn=None, model=True):
        """Save x (C, H, W; model space if ``model`` else [0, 1]) as ``<out_dir>/<name>.png``."""
        x01 = (self.backend.from_model(x) if model else x).detach().float().cpu()
        path = self.out_dir / f"{name}.png"
        viz.save_image(x01.clamp(0, 1), path, upscale=self.upscale)
        self.arrays[array_key(name, raw=False)] = viz.to_uint8_image(x01)
        self.arrays[array_key(name)] = x01.numpy().astype(np.float32)
        return figures.cell(path, caption, turn)

    def row(self, label: str, cells: list[dict]) -> None:
        self.rows.append({"label": label, "cells": cells})

    def write(self, json_path, section, title, columns=(), params=None) -> None:
        figures.write_table(json_path, section, title, self.rows, columns, params)
        save_npz(Path(json_path).with_suffix(".npz"), **self.arrays)

    def write_part(self, json_path) -> None:
        """Rows only (paths as given, relative to the workdir), merged by ``merge_parts``."""
        write_json(json_path, {"rows": self.rows})
        save_npz(Path(json_path).with_suffix(".npz"), **self.arrays)


def merge_parts(parts, json_path, section, title, columns=(), params=None) -> None:
    rows, arrays = [], {}
    for p in parts:
        rows += json.loads(Path(p).read_text())["rows"]
        with np.load(Path(p).with_suffix(".npz")) as z:
            arrays.update({k: z[k] for k in z.files})
    figures.write_table(json_path, section, title, rows, columns, params)
    save_npz(Path(json_path).with_suffix(".npz"), **arrays)
