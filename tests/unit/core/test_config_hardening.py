"""Issue 13, item 2: every bad config value is one line naming the key and the fix, at validation
(before any job): non-finite numbers, integral floats, upper bounds, guidance scales, duplicate
keys and the cross-checks that used to fail late (blur kernels, timesteps, rectangles)."""

import copy
import math

import pytest
import yaml

from fundiff.config import ConfigError, check_duplicate_keys, deep_merge, validate
from fundiff.diffusion import settings
from tests.helpers.workflow import REPO

SCHEMA = REPO / "schemas/config.schema.yaml"
CONFIGS = [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]


def base():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def overlay(name):
    return yaml.safe_load((REPO / "configs" / name).read_text())


def preset(name):
    return deep_merge(base(), overlay(name))


def deepfloyd():
    return preset("deepfloyd.yaml")


def one_line(cfg) -> str:
    with pytest.raises(ConfigError) as e:
        validate(cfg, SCHEMA)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def edited(edit, cfg=None):
    cfg = copy.deepcopy(base() if cfg is None else cfg)
    edit(cfg)
    return cfg


def _set(path, value):
    """An edit that sets the dotted ``path`` (list indices as ints) to ``value``."""
    keys = path.split(".")

    def edit(cfg):
        node = cfg
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value

    return edit


# ---------------------------------------------------------------- bad values: one line each
BAD = [
    # non-finite numbers, anywhere (YAML .nan / .inf / -.inf)
    ("partb.denoiser.lr", math.nan, "config key 'partb.denoiser.lr' = nan is not a finite number"),
    ("partb.schedule.beta_start", math.nan, "'partb.schedule.beta_start' = nan is not a finite"),
    ("partb.class_cond.guidance_scale", math.inf, "'partb.class_cond.guidance_scale' = inf is not"),
    ("partb.gif.fps", math.nan, "'partb.gif.fps' = nan is not a finite number; give a finite"),
    ("eval.cfg_sweep.scales.1", -math.inf, "'eval.cfg_sweep.scales.1' = -inf is not a finite"),
    ("parta.blur.sigma", math.inf, "'parta.blur.sigma' = inf is not a finite number"),
    # integers must be integers
    ("partb.time_cond.epochs", 20.5, "'partb.time_cond.epochs' = 20.5 must be of type integer"),
    ("parta.inpaint.0.rects", [[0.5, 0, 14, 28]], "'parta.inpaint.0.rects.0.0' = 0.5 must be of"),
    ("partb.class_cond.guidance_scale", "1e-5", "= '1e-5' must be of type number (YAML read it"),
    # upper bounds (schema maximum, documented there)
    ("seed", 2**64 - 1, "'seed' = 18446744073709551615 is above the maximum 4294967295; use a"),
    ("seed", -1, "'seed' = -1 is below the minimum 0; use a value >= 0"),
    ("parta.upscale", 1000, "'parta.upscale' = 1000 is above the maximum 16; use a value <= 16"),
    ("partb.time_cond.num_samples", 10**6, "'partb.time_cond.num_samples' = 1000000 is above"),
    ("partb.class_cond.samples_per_class", 10**5, "'partb.class_cond.samples_per_class' ="),
    ("partb.denoiser.epochs", 10**5, "'partb.denoiser.epochs' = 100000 is above the maximum"),
    ("partb.time_cond.batch_size", 10**6, "'partb.time_cond.batch_size' = 1000000 is above"),
    ("partb.schedule.num_timesteps", 10**6, "'partb.schedule.num_timesteps' = 1000000 is above"),
    ("eval.num_samples", 10**7, "'eval.num_samples' = 10000000 is above the maximum 100000"),
    ("eval.cfg_sweep.samples_per_class", 10**5, "'eval.cfg_sweep.samples_per_class' = 100000"),
    ("parta.sample.num", 10**5, "'parta.sample.num' = 100000 is above the maximum 10000"),
    ("partb.gif.fps", 1000, "'partb.gif.fps' = 1000 is above the maximum 100"),
    # guidance scales: no negative gamma, a generous upper bound
    ("partb.class_cond.guidance_scale", -1.0, "'partb.class_cond.guidance_scale' = -1.0 is below"),
    ("eval.cfg_sweep.scales", [0.0, -3.0], "'eval.cfg_sweep.scales.1' = -3.0 is below the minimum"),
    ("parta.guidance_scale", -7.0, "'parta.guidance_scale' = -7.0 is below the minimum 0"),
    ("parta.guidance_scale", 1e6, "'parta.guidance_scale' = 1000000.0 is above the maximum 1000"),
    # Part A cross-checks that used to fail late (mnist backend: 28 x 28 image, T = 300)
    ("parta.blur.kernel_size", 57, "'parta.blur.kernel_size' = 57 is too large for the 28x28"),
    ("parta.blur.kernel_size", 6, "'parta.blur.kernel_size' = 6 must be odd"),
    ("parta.hybrids.kernel_size", 8, "'parta.hybrids.kernel_size' = 8 must be odd"),
    ("parta.hybrids.kernel_size", 99, "use an odd size <= 55"),
    ("eval.parta.hybrid_far_sigma", 10.0, "'eval.parta.hybrid_far_sigma' = 10.0 is too large"),
    ("parta.timesteps.stride", 0, "'parta.timesteps.stride' = 0 is below the minimum 1"),
    ("parta.timesteps", {"start": 300, "stride": 10}, "'parta.timesteps.start' = 300 must be"),
    ("parta.iterative.i_start", 29, "'parta.iterative.i_start' = 29 is past the strided timestep"),
    ("parta.sdedit.i_start", [1, 40.0], "'parta.sdedit.i_start' = 40 is past the strided"),
    ("parta.inpaint.0.rects", [[0, 0, 0, 28]], "rectangle [0, 0, 0, 28] [top, left, height,"),
    ("parta.inpaint.0.rects", [[-2, 0, 4, 4]], "starts outside the image; use top, left >= 0"),
    ("parta.inpaint.0.rects", [[20.0, 0, 14, 28]], "rectangle [20, 0, 14, 28] [top, left,"),
]


@pytest.mark.parametrize("key, value, message", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_value_is_one_line_naming_the_key(key, value, message):
    assert message in one_line(edited(_set(key, value)))


def test_messages_say_the_fix():
    cfg = edited(_set("parta.inpaint.0.rects", [[0, 0, 0, 28]]))
    assert one_line(cfg).endswith("is empty; give a height and width of at least 1")
    cfg = edited(_set("parta.inpaint.0.rects", [[20, 0, 14, 28]]))
    assert "keep top + height and left + width <= 28" in one_line(cfg)
    cfg = edited(_set("eval.parta.hybrid_far_sigma", 9.5))
    assert one_line(cfg).endswith("use at most 9")
    validate(edited(_set("eval.parta.hybrid_far_sigma", 9.0)), SCHEMA)  # kernel 55: fits
    validate(edited(_set("parta.blur.kernel_size", 55)), SCHEMA)  # the largest that works


# ---------------------------------------------------------------- DeepFloyd: T = 1000
@pytest.mark.parametrize(
    "key, value, message",
    [
        ("parta.timesteps", {"start": 1020, "stride": 30}, "'parta.timesteps.start' = 1020 must"),
        ("parta.forward.t", [250, 1000], "'parta.forward.t' = 1000 must be below the DeepFloyd"),
        ("parta.a0.steps", [20, 2000], "'parta.a0.steps' = 2000 exceeds the DeepFloyd IF"),
        ("parta.inpaint.0.rects", [[2, 24, 18, 0]], "[2, 24, 18, 0] [top, left, height, width]"),
    ],
)
def test_deepfloyd_checks(key, value, message):
    msg = one_line(edited(_set(key, value), deepfloyd()))
    assert message in msg
    if "timesteps" in msg:
        assert "DeepFloyd IF model's 1000 timesteps" in msg


def test_deepfloyd_hub_models_are_64_px_local_ones_are_checked_at_run_time():
    cfg = edited(_set("parta.inpaint.0.rects", [[40, 40, 30, 20]]), deepfloyd())
    msg = one_line(cfg)  # DeepFloyd/IF-I-L-v1.0: 64 x 64
    assert msg.endswith(
        "64x64 DeepFloyd IF stage I image; keep top + height and left + width <= 64"
    )
    msg = one_line(edited(_set("parta.hybrids.kernel_size", 129), deepfloyd()))
    assert "'parta.hybrids.kernel_size' = 129 is too large for the 64x64 image" in msg
    validate(edited(_set("parta.hybrids.kernel_size", 127), deepfloyd()), SCHEMA)
    validate(edited(_set("eval.parta.hybrid_far_sigma", 12.0), deepfloyd()), SCHEMA)  # mnist only
    # a local directory: the image size is read from the model when it is loaded
    tiny = deep_merge(preset("tiny.yaml"), overlay("tiny_deepfloyd.yaml"))
    validate(edited(_set("parta.inpaint.0.rects", [[40, 40, 30, 20]]), tiny), SCHEMA)


# ---------------------------------------------------------------- integral floats become ints
def test_integral_floats_are_read_as_integers_before_any_use():
    cfg = base()
    cfg["seed"] = 180.0
    cfg["partb"]["class_cond"]["epochs"] = 20.0
    cfg["partb"]["class_cond"]["sample_epochs"] = [5.0, 20.0]
    cfg["partb"]["train_threads"] = 2.0  # oneOf [auto, integer]
    cfg["eval"]["cfg_sweep"]["guided_samples_per_class"] = 20.0  # [integer, null]
    cfg["parta"]["timesteps"]["start"] = 290.0
    cfg["parta"]["sdedit"]["i_start"] = [1, 10.0]
    cfg["parta"]["inpaint"][0]["rects"] = [[0.0, 0, 14.0, 28]]
    validate(cfg, SCHEMA)
    pb, pa = cfg["partb"], cfg["parta"]
    got = [cfg["seed"], pb["class_cond"]["epochs"], *pb["class_cond"]["sample_epochs"]]
    got += [pb["train_threads"], cfg["eval"]["cfg_sweep"]["guided_samples_per_class"]]
    got += [pa["timesteps"]["start"], *pa["sdedit"]["i_start"], *pa["inpaint"][0]["rects"][0]]
    assert got == [180, 20, 5, 20, 2, 20, 290, 1, 10, 0, 0, 14, 28]
    assert all(type(v) is int for v in got), [type(v) for v in got]
    # rule params see ints: the same repr as a config that said 20 (no rerun, no epoch_20.0)
    ref = base()
    ref["partb"]["train_threads"] = 2
    assert repr(settings.train_settings(cfg, "class_cond")) == repr(
        settings.train_settings(validate(ref, SCHEMA), "class_cond")
    )


def test_numbers_stay_numbers():
    cfg = base()
    cfg["partb"]["gif"]["fps"] = 20.0
    cfg["partb"]["denoiser"]["lr"] = 1.0
    validate(cfg, SCHEMA)
    assert type(cfg["partb"]["gif"]["fps"]) is float
    assert type(cfg["partb"]["denoiser"]["lr"]) is float
    assert type(cfg["partb"]["class_cond"]["guidance_scale"]) is float  # 3.0 in config.yaml


@pytest.mark.parametrize("name", [p.name for p in CONFIGS[1:]])
def test_presets_validate_to_the_same_values_and_types(name):
    """Validation changes nothing in a valid preset: every value keeps its type (rule params are
    compared by repr, so a changed type would rerun jobs)."""
    raw = preset(name)
    cfg = validate(copy.deepcopy(raw), SCHEMA)

    def same(a, b):
        if isinstance(a, dict):
            return all(same(v, b[k]) for k, v in a.items())
        if isinstance(a, list):
            return len(a) == len(b) and all(map(same, a, b))
        return type(a) is type(b) and a == b

    assert same(raw, cfg)


# ---------------------------------------------------------------- guidance scales: exact
def test_preset_scales_keep_their_wildcard_strings():
    assert settings.sweep_scales(validate(base(), SCHEMA)) == ["0", "1", "3", "5", "7"]
    fa24 = validate(preset("fa24.yaml"), SCHEMA)
    assert settings.sweep_scales(fa24) == ["0", "1", "3", "5", "7", "10"]
    assert [settings.scale_wildcard(s) for s in (0, 1, 3.0, 5, 7.0, 7.5, 10)] == [
        "0", "1", "3", "5", "7", "7.5", "10"
    ]  # fmt: skip


@pytest.mark.parametrize("scale", [0.3333333, 1 / 3, 1e-5, 2.5e-7, 0.1, 987.654321, 999.9999999])
def test_any_scale_round_trips_through_its_wildcard(scale):
    cfg = validate(edited(_set("partb.class_cond.guidance_scale", scale)), SCHEMA)
    wildcards = settings.sweep_scales(cfg)
    assert len(wildcards) == 6
    exact = [w for w in wildcards if float(w) == scale]
    assert len(exact) == 1  # the grids' scale is found exactly, as eval_partb looks it up
    assert settings.sweep_samples_per_class(cfg, exact[0]) == 20  # the guided count
    assert all(settings.sweep_samples_per_class(cfg, w) == 3 for w in wildcards if w != exact[0])


def test_close_scales_get_distinct_wildcards():
    cfg = validate(edited(_set("eval.cfg_sweep.scales", [0.3333333, 0.33333333])), SCHEMA)
    assert settings.sweep_scales(cfg) == ["0.3333333", "0.33333333", "3"]  # `:g`: both 0.333333
    assert settings.scale_wildcard(-0.0) == "0"


def test_final_score_row_is_found_exactly_or_one_clear_line():
    from fundiff.evaluation import scores

    sweep = [{"guidance_scale": float(w), "accuracy": i} for i, w in enumerate(["0", "0.3333333"])]
    final_class, _ = scores.final_rows(sweep, {"n": 1}, 0.3333333)
    assert final_class["accuracy"] == 1
    with pytest.raises(ValueError) as e:
        scores.final_rows(sweep, {"n": 1}, 0.333333)
    assert "no row at the grids' guidance scale 0.333333 (it has 0, 0.3333333)" in str(e.value)
    params = scores.sweep_table_params([{"guidance_scale": 0.3333333}, {"guidance_scale": 3.0}])
    assert list(params) == ["gamma = 0.3333333", "gamma = 3"]


# ---------------------------------------------------------------- duplicate YAML keys
@pytest.mark.parametrize(
    "text, message",
    [
        (
            "seed: 1\npartb:\n  denoiser:\n    epochs: 3\n    lr: 0.1\n    epochs: 4\n",
            "key 'partb.denoiser.epochs' is given twice (lines 4 and 6); keep one",
        ),
        ("seed: 1\nseed: 2\n", "key 'seed' is given twice (lines 1 and 2)"),
        (
            "parta:\n  inpaint:\n    - {image: a, rects: [[0, 0, 1, 1]], image: b}\n",
            "key 'parta.inpaint.0.image' is given twice",
        ),
        ('{"seed": 1, "seed": 2}\n', "key 'seed' is given twice"),  # a JSON configfile
    ],
)
def test_duplicate_keys_are_one_line_naming_file_key_and_lines(tmp_path, text, message):
    path = tmp_path / "over.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        check_duplicate_keys([str(tmp_path / "fine.yaml"), path])  # a missing file is skipped
    assert str(e.value).startswith(f"config file {path}: ")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_shipped_configs_have_no_duplicate_keys(tmp_path):
    check_duplicate_keys(CONFIGS)
    same_key_elsewhere = tmp_path / "ok.yaml"
    same_key_elsewhere.write_text("a: {epochs: 1}\nb: {epochs: 2}\nc: [{x: 1}, {x: 2}]\n")
    check_duplicate_keys([same_key_elsewhere])
