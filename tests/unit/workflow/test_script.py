"""fundiff.workflow.script: the Part A scripts' glue (backend from rule params, cells, tables)."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from fundiff.parta import images
from fundiff.parta.backends.mnist import MnistBackend
from fundiff.report.tables import read_table
from fundiff.seeds import derived_seed
from fundiff.workflow import script
from fundiff.workflow.script import Table, backend_from_rule, merge_parts, seeded_generator
from tests.helpers.fake_backend import FakeBackend
from tests.helpers.training import tiny_class_checkpoint


def rule(backend: dict, threads=1, **inputs):
    return SimpleNamespace(
        threads=threads,
        input=SimpleNamespace(**inputs),
        params=SimpleNamespace(device="cpu", backend=backend),
    )


def calibration(tmp_path, sample_bf16):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"choice": {"sample_bf16": sample_bf16}}))
    return str(path)


# ------------------------------------------------------------------ backend_from_rule


@pytest.fixture
def recorded(monkeypatch):
    calls = []

    def fake_load(cfg, device, **paths):
        calls.append((cfg, device, paths))
        return "backend"

    monkeypatch.setattr(script, "load_backend", fake_load)
    return calls


def test_backend_from_rule_mnist_gets_checkpoint_and_measured_precision(
    recorded, tmp_path, restore_torch
):
    cfg = {"name": "mnist", "checkpoint": "results/partb/class/epoch_005.pt"}
    smk = rule(cfg, threads=1, calibration=calibration(tmp_path, True))
    assert backend_from_rule(smk) == "backend"
    (got, device, paths), *rest = recorded
    assert rest == []
    assert got == {**cfg, "bf16": True}
    assert device == torch.device("cpu")
    assert paths == {"checkpoint": "results/partb/class/epoch_005.pt"}
    assert cfg == {"name": "mnist", "checkpoint": "results/partb/class/epoch_005.pt"}  # not mutated
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()

    backend_from_rule(rule(cfg, calibration=calibration(tmp_path, False)))
    assert recorded[-1][0]["bf16"] is False
    backend_from_rule(rule(cfg))  # no calibration input: fp32
    assert recorded[-1][0]["bf16"] is False


def test_backend_from_rule_deepfloyd_gets_prompt_embeds(recorded, restore_torch):
    cfg = {"name": "deepfloyd", "stage1": "DeepFloyd/IF-I-XL-v1.0"}
    backend_from_rule(rule(cfg, prompt_embeds="results/parta/prompt_embeds.pt"))
    got, _, paths = recorded[-1]
    assert got == cfg and "bf16" not in got
    assert paths == {"prompt_embeds": "results/parta/prompt_embeds.pt"}


def test_backend_from_rule_loads_a_real_mnist_checkpoint(tmp_path, restore_torch):
    ckpt = tmp_path / "epoch_001.pt"
    cfg, model = tiny_class_checkpoint(ckpt)
    smk = rule({"name": "mnist", "checkpoint": str(ckpt)}, calibration=calibration(tmp_path, True))
    b = backend_from_rule(smk)
    assert isinstance(b, MnistBackend) and b.bf16 is True
    assert b.schedule.num_timesteps == cfg.num_timesteps
    for k, v in model.state_dict().items():
        assert torch.equal(b.model.state_dict()[k], v)


def test_backend_from_rule_unknown_backend_is_a_user_error(restore_torch):
    from fundiff.errors import UserError

    with pytest.raises(UserError, match="backend.name"):
        backend_from_rule(rule({"name": "stable-diffusion"}))


# ------------------------------------------------------------------ seeds, images


def test_seeded_generator_is_the_derived_seed_stream():
    a = torch.randn(5, generator=seeded_generator(180, "sdedit", "campanile", 7))
    ref = torch.Generator().manual_seed(derived_seed(180, "sdedit", "campanile", 7))
    assert torch.equal(a, torch.randn(5, generator=ref))
    assert torch.equal(
        a, torch.randn(5, generator=seeded_generator(180, "sdedit", "campanile", "7"))
    )
    for other in [
        (181, "sdedit", "campanile", 7),
        (180, "sdedit", "campanile", 8),
        (180, "inpaint", "campanile"),
    ]:
        assert not torch.equal(a, torch.randn(5, generator=seeded_generator(*other)))


def test_load_image_is_the_parta_loader_and_cells_round_trip(tmp_path):
    assert script.load_image is images.load_image
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "src.png")
    backend = FakeBackend(channels=3, size=8)
    x = script.load_image(backend, tmp_path / "src.png")
    assert x.shape == (1, 3, 8, 8)
    assert x.min() >= -1 and x.max() <= 1  # model space of the fake backend: [-1, 1]
    table = Table(backend, tmp_path / "out")
    table.cell("copy", x[0])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "copy.png")), pixels)


# ------------------------------------------------------------------ Table


def test_table_cell_png_and_arrays(tmp_path):
    backend = FakeBackend(channels=3, size=4)
    table = Table(backend, tmp_path / "out", upscale=3)
    x = torch.linspace(-1.5, 1.5, 48).reshape(3, 4, 4)  # model space, partly out of range
    c = table.cell("campanile/t250", x, "t = 250", turn="flip")
    png = tmp_path / "out" / "campanile" / "t250.png"
    assert c == {"src": str(png), "caption": "t = 250", "turn": "flip"}
    x01 = x / 2 + 0.5
    raw = table.arrays["campanile__t250_float"]
    assert raw.dtype == np.float32 and raw.shape == (3, 4, 4)
    np.testing.assert_allclose(raw, x01.numpy())  # before clipping
    assert raw.min() < 0 and raw.max() > 1
    img = table.arrays["campanile__t250"]
    assert img.dtype == np.uint8 and img.shape == (4, 4, 3)
    expected = (x01.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(img, expected)
    on_disk = np.asarray(Image.open(png))
    assert on_disk.shape == (12, 12, 3)  # nearest-neighbour x3
    assert np.array_equal(on_disk[::3, ::3], expected)
    assert np.array_equal(on_disk[1::3, 2::3], expected)


def test_table_cell_not_in_model_space(tmp_path):
    table = Table(FakeBackend(channels=1, size=4), tmp_path)
    x01 = torch.rand(1, 4, 4, generator=torch.Generator().manual_seed(0))
    table.cell("a", x01, model=False)
    np.testing.assert_array_equal(table.arrays["a_float"], x01.numpy())
    assert table.arrays["a"].shape == (4, 4)  # one channel: H x W


def test_table_write_json_and_npz_siblings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = Table(FakeBackend(channels=3, size=4), "results/a1_1")
    g = torch.Generator().manual_seed(1)
    cells = [table.cell(n, torch.rand(3, 4, 4, generator=g) * 2 - 1, n) for n in ("x/t1", "x/t2")]
    table.row("x", cells)
    table.write("results/a1_1/table.json", "A1.1", "Forward", ["t1", "t2"], {"t": [1, 2]})
    spec = read_table("results/a1_1/table.json")
    assert spec["section"] == "A1.1" and spec["params"] == {"t": [1, 2]}
    assert spec["columns"] == ["t1", "t2"]
    assert [c["src"] for c in spec["rows"][0]["cells"]] == ["x/t1.png", "x/t2.png"]
    assert all((tmp_path / c["path"]).is_file() for c in spec["rows"][0]["cells"])
    with np.load(tmp_path / "results/a1_1/table.npz") as z:
        assert sorted(z.files) == sorted(table.arrays)
        for k in z.files:
            assert np.array_equal(z[k], table.arrays[k])


def test_table_parts_merge_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = FakeBackend(channels=3, size=4)
    parts = []
    for i, name in enumerate(["b_img", "a_img"]):  # merge keeps the parts' order, not sorted
        t = Table(backend, "results/a1_7")
        t.row(name, [t.cell(f"{name}/i{i}", torch.full((3, 4, 4), 0.25 * i))])
        part = f"results/a1_7/parts/{name}.json"
        t.write_part(part)
        assert json.loads((tmp_path / part).read_text()) == {"rows": t.rows}
        assert (tmp_path / part).with_suffix(".npz").is_file()
        parts.append(part)
    merge_parts(parts, "results/a1_7/table.json", "A1.7", "SDEdit", ["i"], {"i_start": [0, 1]})
    spec = read_table("results/a1_7/table.json")
    assert [r["label"] for r in spec["rows"]] == ["b_img", "a_img"]
    assert [r["cells"][0]["src"] for r in spec["rows"]] == ["b_img/i0.png", "a_img/i1.png"]
    assert spec["params"] == {"i_start": [0, 1]}
    with np.load(tmp_path / "results/a1_7/table.npz") as z:
        assert sorted(z.files) == ["a_img__i1", "a_img__i1_float", "b_img__i0", "b_img__i0_float"]
        np.testing.assert_allclose(z["a_img__i1_float"], np.full((3, 4, 4), 0.625, np.float32))
        np.testing.assert_allclose(z["b_img__i0_float"], np.full((3, 4, 4), 0.5, np.float32))


LAZY = ("torchvision", "torch._dynamo", "matplotlib", "diffusers", "transformers", "scipy")


def test_the_scripts_common_imports_leave_torchvision_out():
    """Every job imports the scripts' glue; torchvision (about 2 s of start-up per job: it
    loads its models, ops and torch._dynamo), matplotlib (pyplot: its fonts and axes), diffusers
    and transformers are imported only by the functions that use them, and a Part A backend
    module imports them only when it loads a model."""
    code = (
        "import sys\n"
        "import fundiff.workflow.runner, fundiff.workflow.script, fundiff.report.render\n"
        "import fundiff.evaluation.metrics, fundiff.parta.loops, fundiff.plotting\n"
        "import fundiff.parta.images, fundiff.parta.backends.mnist\n"
        "import fundiff.parta.backends.deepfloyd\n"
        f"print(sorted(m for m in {LAZY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pyplot_is_imported_on_first_drawing_on_agg(tmp_path):
    """plotting imports pyplot when a figure is drawn (not to save a PNG cell), on Agg."""
    code = (
        "import sys\n"
        "import torch\n"
        "from fundiff import plotting\n"
        f"plotting.save_image(torch.zeros(1, 2, 2), {str(tmp_path / 'a.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
        f"plotting.save_loss_curve([{{'step': 1, 'loss': 1.0}}], {str(tmp_path / 'b.png')!r}, 't')\n"
        "import matplotlib\n"
        "print('matplotlib.pyplot' in sys.modules, matplotlib.get_backend().lower())"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["False", "True", "agg"]
    assert (tmp_path / "b.png").is_file()
