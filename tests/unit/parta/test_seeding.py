"""Per-image noise in Part A: SDEdit, inpainting and illusion seeds derive from the image / pair
name, so rows of different images differ and the same image reproduces bit-identically."""

import hashlib
import logging
import runpy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from fundiff import seeds as seed_table
from fundiff.diffusion import ddpm
from fundiff.parta import loops
from fundiff.workflow import runner
from fundiff.workflow import script as parta_run
from fundiff.workflow.script import derived_seed, seeded_generator
from tests.helpers.fake_backend import FakeBackend
from tests.helpers.workflow import REPO

TORCH_SEED_MAX = 0xFFFF_FFFF_FFFF_FFFF  # torch.Generator.manual_seed accepts up to 2**64 - 1


def test_derived_seed_is_stable_distinct_and_in_range():
    # pinned (computed in another process): sha256 of the JSON list, not Python's hash(),
    # which is salted per process for strings
    key = b'[0, "sdedit", "test", "1"]'
    assert derived_seed(0, "sdedit", "test", 1) == 3610372471016390415
    assert derived_seed(0, "sdedit", "test", 1) == (
        int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1
    )
    assert derived_seed(180, "sdedit", "a", 3) == derived_seed(180, "sdedit", "a", 3)
    assert derived_seed(180, "sdedit", "a", 3) == derived_seed(180, "sdedit", "a", "3")
    images = ["test", "digit_a", "digit_b", "campanile", "drawing_1"]
    i_starts = [1, 3, 5, 7, 10, 20]
    seeds = {derived_seed(180, "sdedit", im, i) for im in images for i in i_starts}
    assert len(seeds) == len(images) * len(i_starts)  # across images and across i_start
    others = [
        derived_seed(181, "sdedit", "test", 1),  # the base seed matters
        derived_seed(180, "inpaint", "test"),
        derived_seed(180, "inpaint", "test", "known"),
        derived_seed(180, "anagram", "pair_1"),
        derived_seed(180, "hybrid", "pair_1"),
        derived_seed(180, "ab", "c"),  # no clash from joining: ("ab", "c") != ("a", "bc")
        derived_seed(180, "a", "bc"),
    ]
    assert len(seeds | set(others)) == len(seeds) + len(others)
    for s in seeds | set(others):
        assert isinstance(s, int) and 0 <= s < 2**63 <= TORCH_SEED_MAX
        torch.Generator().manual_seed(s)  # accepted


def test_seeded_generator_draws_per_name():
    a = torch.randn(4, generator=seeded_generator(7, "inpaint", "a"))
    assert torch.equal(a, torch.randn(4, generator=seeded_generator(7, "inpaint", "a")))
    assert not torch.equal(a, torch.randn(4, generator=seeded_generator(7, "inpaint", "b")))


# ------------------------------------------------------------------ the loops, one x_0


def _setup():
    b = FakeBackend()
    ts = ddpm.strided_timesteps(990, 30)
    x_0 = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(11)) * 2 - 1
    return b, ts, x_0, b.encode(["p"]), b.uncond(1)


@pytest.mark.parametrize("i_start", [1, 7, 20])
def test_sdedit_rows_differ_per_image_and_reproduce(i_start):
    b, ts, x_0, c, u = _setup()

    def edit(image):
        g = seeded_generator(180, "sdedit", image, i_start)
        return loops.sdedit(b, x_0, i_start, ts, c, u, g)

    a, other = edit("digit_a"), edit("digit_b")
    assert not torch.allclose(a, other, atol=1e-3)  # same x_0, different name: different noise
    assert torch.equal(a, edit("digit_a"))  # same name: bit-identical
    # ... and every i_start gets its own noise (not only a different starting t)
    x_t = [
        loops.forward(b, x_0, ts[i_start], seeded_generator(180, "sdedit", "digit_a", i))
        for i in (i_start, i_start + 1)
    ]
    assert not torch.equal(x_t[0], x_t[1])


def test_inpaint_rows_differ_per_image_and_reproduce():
    b, ts, x_0, c, u = _setup()
    m = torch.zeros(1, 1, 8, 8)
    m[..., 2:6, 2:6] = 1

    def fill(image):
        g = seeded_generator(180, "inpaint", image)
        known = seeded_generator(180, "inpaint", image, "known")
        return loops.inpaint(b, x_0, m, ts, c, u, g, known)

    a, other = fill("digit_a"), fill("digit_b")
    assert not torch.allclose(m * a, m * other, atol=1e-3)
    assert torch.equal((1 - m) * a, (1 - m) * other)  # outside the mask both are the original
    assert torch.equal(a, fill("digit_a"))


# ------------------------------------------------------------------ the rule scripts


def _run_script(monkeypatch, tmp_path, script, image, **params):
    """Run scripts/<script> as Snakemake would, on the fake backend, for one {image}."""
    monkeypatch.setattr(parta_run, "backend_from_rule", lambda smk: FakeBackend())
    monkeypatch.setattr(runner, "setup_logging", lambda path: logging.getLogger("test"))
    png = tmp_path / "source.png"  # the same source picture under every name
    if not png.exists():
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(png)
    part = tmp_path / "out" / "parts" / f"{image}.json"
    smk = SimpleNamespace(
        params=SimpleNamespace(
            seed=180,
            timesteps=ddpm.strided_timesteps(990, 30),
            prompt="a photo",
            invert=False,
            resize="crop",
            upscale=1,
            guidance_scale=7.0,
            **params,
        ),
        input=SimpleNamespace(image=str(png)),
        output=SimpleNamespace(part=str(part)),
        wildcards=SimpleNamespace(image=image),
        log=[],
    )
    runpy.run_path(str(REPO / "scripts" / script), init_globals={"snakemake": smk})
    with np.load(part.with_suffix(".npz")) as z:
        return {k: z[k] for k in z.files}


def test_sdedit_rule_rows_differ_for_different_images(monkeypatch, tmp_path):
    i_starts = [1, 3, 5, 7]
    rows = {
        im: _run_script(monkeypatch, tmp_path, "parta_sdedit.py", im, i_start=i_starts)
        for im in ("img_a", "img_b")
    }
    for i in i_starts:
        a = rows["img_a"][f"img_a__i_start_{i}"]
        b = rows["img_b"][f"img_b__i_start_{i}"]
        assert not np.array_equal(a, b), f"i_start {i}: rows are pixel-identical"
    np.testing.assert_array_equal(
        rows["img_a"]["img_a__original"], rows["img_b"]["img_b__original"]
    )
    again = _run_script(monkeypatch, tmp_path, "parta_sdedit.py", "img_a", i_start=i_starts)
    assert all(np.array_equal(again[k], rows["img_a"][k]) for k in again)


def test_inpaint_rule_rows_differ_for_different_images(monkeypatch, tmp_path):
    mask = {"rects": [[2, 2, 4, 4]]}
    a = _run_script(monkeypatch, tmp_path, "parta_inpaint.py", "img_a", mask=mask)
    b = _run_script(monkeypatch, tmp_path, "parta_inpaint.py", "img_b", mask=mask)
    assert not np.array_equal(a["img_a__inpainted"], b["img_b__inpainted"])
    again = _run_script(monkeypatch, tmp_path, "parta_inpaint.py", "img_a", mask=mask)
    assert all(np.array_equal(again[k], a[k]) for k in again)


# ------------------------------------------------------------------ the seed-offset table


def test_seed_offsets_are_the_documented_ones():
    """The offsets are fixed: changing one changes a result. Every name is in the docstring
    table, and the streams that must differ do."""
    pinned = "noisy 0 iterative 1000 stage2 1 anagram_eval 0 hybrid_eval 1 train_noise 1 grid 0"
    pinned += " eval_time_cond 10000 eval_class_cond 20000"
    assert " ".join(f"{k} {v}" for k, v in seed_table.OFFSETS.items()) == pinned
    for name in seed_table.OFFSETS:
        assert f"``{name}``" in seed_table.__doc__
    assert seed_table.offset_seed(180, "noisy", 250) == 430
    assert seed_table.offset_seed(180, "iterative", 10) == 1190
    assert seed_table.offset_seed(180, "anagram_eval") != seed_table.offset_seed(180, "hybrid_eval")
    with pytest.raises(KeyError):
        seed_table.offset_seed(180, "no_such_stream")
    assert derived_seed is seed_table.derived_seed  # one implementation, re-exported for scripts
