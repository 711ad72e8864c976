"""Part B rule settings from the config (fundiff.diffusion.settings), without a DAG: the values and
key order the rules pass as params (compared by repr: a change reruns every job that takes them)."""

import dataclasses
import json
import subprocess
import sys

import pytest
import yaml

from fundiff.config import deep_merge, validate
from fundiff.diffusion import settings
from tests.helpers.workflow import REPO

SCHEMA = REPO / "schemas/config.schema.yaml"


def load(preset: str | None = None) -> dict:
    """config.yaml (+ configs/<preset>.yaml), validated: schema defaults filled."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    if preset:
        cfg = deep_merge(cfg, yaml.safe_load((REPO / "configs" / f"{preset}.yaml").read_text()))
    return validate(cfg, SCHEMA)


# the embedded preset (config.yaml) as the rules passed it before the settings moved here
DENOISER = {
    "task": "denoiser",
    "hidden": 32,
    "batch_size": 64,
    "epochs": 5,
    "lr": 1e-3,
    "lr_decay_to": None,
    "lr_warmup_steps": 0,
    "ema_decay": 0.0,
    "ema_warmup": False,
    "min_snr_gamma": None,
    "sigma": 0.5,
    "p_uncond": 0.1,
    "num_timesteps": 300,
    "beta_start": 1e-4,
    "beta_end": 0.02,
    "seed": 180,
    "channels_last": True,
    "cuda_graph": True,
    "threads": 1,  # planned (partb.train_threads: auto on a CPU preset)
}
# (updating a dict keeps its key order: the same order for every model)
CLASS_COND = DENOISER | {"task": "class", "batch_size": 32, "epochs": 20, "lr": 2e-3}
CLASS_COND |= {"lr_decay_to": 0.05, "lr_warmup_steps": 200, "ema_decay": 0.995}
CLASS_COND |= {"ema_warmup": True, "min_snr_gamma": 5.0}
DEFAULT_TRAIN = {"denoiser": DENOISER, "class_cond": CLASS_COND}


@pytest.mark.parametrize("model", sorted(DEFAULT_TRAIN))
def test_train_settings_of_the_embedded_preset_keep_values_and_key_order(model):
    got = settings.train_settings(load(), model)
    assert got == DEFAULT_TRAIN[model] and list(got) == list(DEFAULT_TRAIN[model])
    assert list(got) == list(DEFAULT_TRAIN[model])  # repr (and so the rerun set) depends on it
    assert repr(got) == repr(DEFAULT_TRAIN[model])


@pytest.mark.parametrize("preset", [None, "fa24", "tiny", "deepfloyd"])
def test_train_settings_build_a_train_config_for_every_model(preset):
    from fundiff.diffusion.train import TrainConfig

    cfg = load(preset)
    for model in settings.MODELS:
        s = settings.train_settings(cfg, model)
        assert s["hidden"] == cfg["partb"][model]["hidden"]
        assert s["epochs"] == cfg["partb"][model]["epochs"]
        assert s["seed"] == cfg["seed"]
        tc = TrainConfig(**{**s, "amp_bf16": False})
        assert tc.task == settings.TASK[model] and tc.threads == settings.train_threads(cfg)


def test_fa24_trains_the_spec_widths_without_beyond_the_spec_options():
    cfg = load("fa24")
    for model in settings.MODELS:
        s = settings.train_settings(cfg, model)
        assert (s["lr_warmup_steps"], s["ema_warmup"], s["min_snr_gamma"]) == (0, False, None)
    assert settings.train_settings(cfg, "denoiser")["hidden"] == 128
    assert settings.train_settings(cfg, "class_cond")["hidden"] == 64


def test_unset_values_are_train_configs_defaults():
    from fundiff.diffusion.train import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert settings.UNSET == {k: defaults[k] for k in settings.UNSET}
    # a model that configures a setting gets its own value, not the default
    cfg = load()
    cfg["partb"]["denoiser"]["sigma"] = 0.3
    assert settings.train_settings(cfg, "denoiser")["sigma"] == 0.3
    assert settings.train_settings(cfg, "time_cond")["sigma"] == 0.5


def test_train_threads_are_planned_from_the_config():
    cfg = load()
    assert cfg["partb"]["train_threads"] == "auto" and settings.train_threads(cfg) == 1  # CPU
    gpu = deep_merge(cfg, {"device": "cuda", "threads_per_job": 6})
    assert settings.train_threads(gpu) == 6  # a GPU preset: the cap
    assert settings.train_threads(deep_merge(cfg, {"partb": {"train_threads": 3}})) == 3
    capped = deep_merge(cfg, {"threads_per_job": 2, "partb": {"train_threads": 5}})
    assert settings.train_threads(capped) == 2
    assert settings.train_settings(capped, "class_cond")["threads"] == 2
    assert settings.sample_threads(capped) == settings.train_threads(capped)


def test_precision_is_read_from_the_calibration_and_appended_last(tmp_path):
    s = settings.train_settings(load(), "time_cond")
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"choice": {"amp_bf16": True, "threads": 4, "sample_bf16": False}}))
    full = settings.with_precision(s, str(path))
    assert list(full)[-1] == "amp_bf16" and full["amp_bf16"] is True
    assert {k: v for k, v in full.items() if k != "amp_bf16"} == s  # threads stay the plan's


def test_calibration_times_only_speed_settings_of_the_class_model():
    cfg = load()
    got = settings.calibration_settings(cfg)
    assert repr(got) == repr(
        {
            "task": "class",
            "hidden": 32,
            "batch_size": 32,
            "channels_last": True,
            "p_uncond": 0.1,
            "min_snr_gamma": 5.0,
            "seed": 180,
        }
    )
    cfg["partb"]["class_cond"]["epochs"] = 3  # not a speed setting: no re-measurement
    cfg["partb"]["class_cond"]["lr"] = 1e-4
    assert settings.calibration_settings(cfg) == got


def test_sample_settings_per_model():
    cfg = load("tiny")
    assert repr(settings.sample_settings(cfg, "class_cond")) == repr(
        {"hidden": 8, "samples_per_class": 1, "guidance_scale": 5.0}
    )
    assert repr(settings.sample_settings(cfg, "time_cond")) == repr(
        {"hidden": 8, "num_samples": 10}
    )


def test_gif_guidance_only_for_the_class_model():
    cfg = load()
    assert settings.gif_guidance_scale(cfg, "class_cond") == 3.0
    cfg["partb"]["class_cond"]["guidance_scale"] = 7.5
    assert settings.gif_guidance_scale(cfg, "class_cond") == 7.5
    assert settings.gif_guidance_scale(cfg, "time_cond") == 1.0


@pytest.mark.parametrize(
    "preset, scales, per_class",
    [
        (None, ["0", "1", "3", "5", "7"], [3, 3, 20, 3, 3]),
        ("tiny", ["0", "5"], [2, 2]),
        ("fa24", ["0", "1", "3", "5", "7", "10"], [50, 50, 50, 20, 50, 50]),
    ],
)
def test_sweep_always_includes_the_grid_scale_with_its_own_count(preset, scales, per_class):
    cfg = load(preset)
    got = settings.sweep_scales(cfg)
    assert got == scales
    grid = f"{cfg['partb']['class_cond']['guidance_scale']:g}"
    assert grid in got
    counts = [settings.sweep_samples_per_class(cfg, s) for s in got]
    assert counts == per_class
    sweep = cfg["eval"]["cfg_sweep"]
    assert counts[got.index(grid)] == (
        sweep["guided_samples_per_class"] or sweep["samples_per_class"]
    )


def test_sweep_adds_an_unlisted_grid_scale_as_a_wildcard_string():
    cfg = load()
    cfg["partb"]["class_cond"]["guidance_scale"] = 7.5
    assert settings.sweep_scales(cfg) == ["0", "1", "3", "5", "7", "7.5"]


def test_eval_seeds_are_offsets_of_the_global_seed():
    cfg = load()
    assert settings.eval_seed(cfg, "time_cond") == 180 + 10_000
    assert settings.eval_seed(cfg, "class_cond") == 180 + 20_000


def test_settings_import_no_torch():
    code = "import sys, fundiff.diffusion.settings; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("model", ["time_cond", "class_cond"])
def test_flow_trains_with_its_ddpms_settings(model):
    """beyond.flow: the flow model's run is the DDPM's (equal training steps by construction)
    with the flow task; the noise schedule and Min-SNR (DDPM-only) are left out."""
    from fundiff.diffusion.train import TrainConfig

    cfg = deep_merge(load(), {"beyond": {"flow": {"enabled": True}}})
    ddpm, fl = settings.train_settings(cfg, model), settings.flow_train_settings(cfg, model)
    assert fl["task"] == settings.FLOW_TASK[model]
    assert set(ddpm) - set(fl) == {"num_timesteps", "beta_start", "beta_end", "min_snr_gamma"}
    assert {k: v for k, v in ddpm.items() if k in fl and k != "task"} == {
        k: v for k, v in fl.items() if k != "task"
    }
    TrainConfig(**fl | {"amp_bf16": False})
    cfg["partb"]["schedule"]["num_timesteps"] = 100  # a DDPM-only edit: flow's run is unchanged
    assert settings.flow_train_settings(cfg, model) == fl


def test_flow_files_only_when_enabled():
    cfg = load("beyond")
    figures = settings.flow_files(cfg, "figures")
    assert "results/beyond/flow/class_cond/sampling/epoch_20.gif" in figures
    assert all(f.endswith((".png", ".gif")) for f in figures)
    assert "results/beyond/flow/compare_time_cond.json" in settings.flow_files(cfg, "tables")
    assert settings.flow_files(load(), "figures") == []


def test_partb_files_follow_the_configured_epochs():
    cfg = deep_merge(load(), {"partb": {"class_cond": {"sample_epochs": [2, 7]}}})
    figures, tables = settings.partb_files(cfg, "figures"), settings.partb_files(cfg, "tables")
    assert [f.rsplit(".", 1)[0] for f in figures] == [t.rsplit(".", 1)[0] for t in tables]
    assert all(t.endswith(".json") for t in tables) and len(set(figures)) == len(figures)
    assert "results/partb/class_cond/sampling/epoch_7.gif" in figures
    assert settings.partb_files(cfg, "grids")[-2:] == [
        "results/partb/class_cond/samples/epoch_2.npz",
        "results/partb/class_cond/samples/epoch_7.npz",
    ]
    assert "benchmarks/rules/sampling_gif_class_cond_7.tsv" in settings.partb_files(
        cfg, "benchmarks"
    )
    assert len(settings.partb_files(cfg, "checkpoints")) == len(settings.MODELS)
    with pytest.raises(ValueError, match="unknown kind"):
        settings.partb_files(cfg, "movies")
