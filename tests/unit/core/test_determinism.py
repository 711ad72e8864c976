"""What decides determinism is set (CUBLAS_WORKSPACE_CONFIG) and recorded (determinism_facts)."""

import os

import torch

from fundiff import device as dev


def test_setup_torch_sets_the_cublas_workspace(monkeypatch, restore_torch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    dev.setup_torch(1)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # the user's choice is kept
    dev.setup_torch(1)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_setup_torch_without_determinism_leaves_the_environment(monkeypatch, restore_torch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    dev.setup_torch(1, deterministic=False)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_determinism_facts(monkeypatch, restore_torch):
    dev.setup_torch(1)
    facts = dev.determinism_facts(torch.device("cpu"), False)
    assert facts == {
        "device": "cpu",
        "device_name": dev.cpu_model_name(),
        "threads": 1,
        "precision": "fp32",
        "torch": str(torch.__version__),
        "deterministic_algorithms": True,
        "deterministic": True,
    }
    assert type(facts["torch"]) is str  # not TorchVersion: checkpoints load with weights_only
    assert dev.determinism_facts("cpu", True)["precision"] == "bf16 autocast"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Some GPU")
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    cuda = dev.determinism_facts(torch.device("cuda"), True)
    assert cuda["device_name"] == "Some GPU" and cuda["deterministic"] is True
    assert cuda["cublas_workspace_config"] == ":4096:8"
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    assert dev.determinism_facts(torch.device("cuda"), True)["deterministic"] is False
