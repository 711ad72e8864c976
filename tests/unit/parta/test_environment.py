"""Environment errors (issue 13): a device this machine lacks and a backend whose optional
packages are missing are one UserError line saying what to set or install."""

from __future__ import annotations

import sys

import pytest
import torch

from fundiff.device import DeviceError, resolve_device
from fundiff.errors import UserError


def _line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, UserError)
    return msg


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu(no_gpu, name):
    with pytest.raises(DeviceError) as e:
        resolve_device(name)
    msg = _line(e)
    assert f"'device' is '{name}'" in msg and "no CUDA GPU is visible" in msg
    assert "device: auto" in msg and "device: cpu" in msg
    assert isinstance(e.value, RuntimeError)  # report.render.device_info catches RuntimeError
    assert resolve_device("auto") == torch.device("cpu")


def test_cuda_index_beyond_the_device_count(one_gpu):
    with pytest.raises(DeviceError) as e:
        resolve_device("cuda:9")
    msg = _line(e)
    assert "'cuda:9'" in msg and "only 1 CUDA device(s)" in msg and "cuda:0..cuda:0" in msg
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")


def test_mps_absent(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError) as e:
        resolve_device("mps")
    msg = _line(e)
    assert "'mps'" in msg and "MPS is not available" in msg and "device: cpu" in msg
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("mps") == torch.device("mps")


@pytest.mark.parametrize("cuda", [True, False])
def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda" if cuda else "mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cuda" if cuda else "cpu")


def test_mps_runs_fp32(monkeypatch):
    """No bf16 autocast on MPS, even where the CPU has native bf16; DeepFloyd loads its fp32
    weights (no fp16 variant) in fp32 there, as on a CPU."""
    from fundiff import device as dev
    from fundiff.parta.backends.deepfloyd import load_kwargs

    mps = torch.device("mps")
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    assert not dev.bf16_autocast_enabled(True, mps)
    assert dev.bf16_autocast_enabled(True, torch.device("cpu"))  # the patch is in force
    kw = load_kwargs({"variant": "auto"}, mps)
    assert kw["dtype"] == torch.float32 and "variant" not in kw
    assert load_kwargs({"variant": "auto"}, torch.device("cuda"))["variant"] == "fp16"


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "xla"])
def test_not_a_device(name):
    with pytest.raises(DeviceError) as e:
        resolve_device(name)
    assert f"'{name}'" in _line(e) and "auto, cpu, cuda, cuda:N or mps" in str(e.value)


def test_cpu_is_cpu():
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize(
    "missing", [("diffusers",), ("transformers",), ("diffusers", "transformers")]
)
def test_deepfloyd_without_its_packages(monkeypatch, tmp_path, missing):
    from fundiff.parta.backends import MissingDependency, load_backend
    from fundiff.parta.backends.deepfloyd import encode_prompts

    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    cfg = {"name": "deepfloyd", "stage1": "DeepFloyd/IF-I-M-v1.0", "stage2": "x"}
    with pytest.raises(MissingDependency) as e:
        load_backend(cfg, "cpu", prompt_embeds=tmp_path / "embeds.pt")
    msg = _line(e)
    assert " and ".join(missing) in msg and "pip install -e '.[deepfloyd]'" in msg
    assert "parta.backend.name: mnist" in msg
    with pytest.raises(MissingDependency):
        encode_prompts(cfg, ["a"], tmp_path / "embeds.pt", torch.device("cpu"))
    assert not (tmp_path / "embeds.pt").exists()


@pytest.mark.parametrize("name, ok", [("mps", True), ("cuda:1", True), ("mps:0", False)])
def test_config_device_accepts_mps(name, ok):
    import yaml

    from fundiff.config import ConfigError, validate
    from tests.helpers.workflow import REPO

    config = yaml.safe_load((REPO / "config.yaml").read_text()) | {"device": name}
    if ok:
        assert validate(config, REPO / "schemas/config.schema.yaml")["device"] == name
    else:
        with pytest.raises(ConfigError, match="or mps"):
            validate(config, REPO / "schemas/config.schema.yaml")
