"""Part A backends: one interface over our MNIST model and DeepFloyd IF.

The sampling loops in :mod:`fundiff.parta.loops` only talk to a :class:`Backend`:

* ``schedule``        :class:`fundiff.diffusion.ddpm.Schedule` built from the model's own alpha_bar
* ``image_size``, ``channels``  model image shape (read from the model, never hard-coded)
* ``variance_type``   "fixed_large" (MNIST, spec Algorithm B.2) or "learned_range" (IF)
* ``to_model(x01)`` / ``from_model(x)``  images in [0, 1] <-> model space
* ``encode(prompts)`` -> cond batched along dim 0;  ``uncond(n)`` -> the "" condition
* ``predict(x_t, t, cond)`` -> (eps_hat, predicted_variance or None), batched
* ``text_to_image(prompts, steps, scale, generator)`` -> A0's stage-I images in model space
  (DeepFloyd: diffusers' ``IFPipeline``, as the spec calls it; mnist: ``loops.sample_a0``)
* ``upsample(x, prompts, ...)`` -> stage-II images, or None when the backend has no stage II

``load_backend(config)`` builds one from the plain-dict ``parta.backend`` config plus the paths
the rule passes (``checkpoint`` for mnist, ``prompt_embeds`` for deepfloyd). Building one reads
only the schedule and the image shape; the model (and the prompt cache, stage II) is loaded at
its first use, so a step that never calls it (forward noising, the blur baseline) loads none.
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

import torch

from fundiff.diffusion.ddpm import Schedule
from fundiff.errors import UserError

BACKENDS = ("mnist", "deepfloyd")


class MissingDependency(UserError, ImportError):
    """An optional package a backend needs is not installed (one line saying what to install)."""


def require(modules: tuple[str, ...], backend: str, extra: str) -> None:
    """Import ``modules`` or raise :class:`MissingDependency` naming the ``extra`` to install."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependency(
            f"the {backend} backend (parta.backend.name) needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install them with "
            f"\"pip install -e '.[{extra}]'\", or set "
            "parta.backend.name: mnist"
        )


@runtime_checkable
class Backend(Protocol):
    name: str
    schedule: Schedule
    image_size: int
    channels: int
    variance_type: str
    device: torch.device
    has_stage2: bool

    def to_model(self, x01: torch.Tensor) -> torch.Tensor: ...

    def from_model(self, x: torch.Tensor) -> torch.Tensor: ...

    def encode(self, prompts: list[str]) -> torch.Tensor: ...

    def uncond(self, n: int) -> torch.Tensor: ...

    def predict(
        self, x_t: torch.Tensor, t: int, cond: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def text_to_image(
        self,
        prompts: list[str],
        num_inference_steps: int,
        guidance_scale: float,
        generator: torch.Generator,
    ) -> torch.Tensor: ...

    def upsample(
        self,
        x: torch.Tensor,
        prompts: list[str],
        num_inference_steps: int,
        generator: torch.Generator,
    ) -> torch.Tensor | None: ...


def load_backend(config: dict, device: torch.device | str = "cpu", **paths) -> Backend:
    """Build the backend named by ``config["name"]``.

    mnist:     ``checkpoint=`` a class-conditioned epoch file written by Part B's training;
               ``config["bf16"]``: run the UNet under bf16 autocast (the measured sampling precision).
    deepfloyd: ``prompt_embeds=`` the cache written by the ``encode_prompts`` rule (left out by
               the steps that encode no prompt); the model ids (or local directories) come
               from ``config["stage1"]`` / ``config["stage2"]``.
    """
    name = config.get("name")
    if name not in BACKENDS:
        raise UserError(f"parta.backend.name must be one of {BACKENDS}, got {name!r}")
    # loaded by name: the workflow adds the configured backend's files to the rules' inputs
    # (fundiff.workflow.deps cannot see an import made from a string)
    module = importlib.import_module(f"fundiff.parta.backends.{name}")
    return module.load(config, torch.device(device), **paths)
