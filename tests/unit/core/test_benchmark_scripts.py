import json
import sys
from pathlib import Path

import yaml

from tests.helpers.workflow import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


def _positive(d):
    return all(isinstance(v, float | int) and v > 0 for v in d.values())


def test_quick_benchmarks_json_shape(tmp_path):
    import run

    res = run.main(["--quick", "--cpu-only", "--out-dir", str(tmp_path)])
    on_disk = json.loads((tmp_path / "quick.json").read_text())
    assert on_disk["name"] == "quick" and on_disk["quick"] is True
    assert {"machine", "training", "cfg", "benchmark_seconds"} <= set(res)
    (tr,) = res["training"]
    assert set(tr["images_per_s"]) == {"naive", "ours"} and _positive(tr["images_per_s"])
    assert tr["speedup_ours_vs_naive"] > 0
    assert [cf["batch"] for cf in res["cfg"]] == [2, 40]
    for cf in res["cfg"]:
        assert _positive(cf["seconds_per_eps"]) and cf["speedup_batched_vs_two"] > 0
        assert cf["max_abs_diff"] < 1e-4  # the two CFG variants compute the same eps
    # 2 x 40 rows > CPU_MAX_ROWS: the samplers' chunked forward is measured too, and agrees
    small, big = res["cfg"]
    assert "batched_chunked" not in small["seconds_per_eps"]
    assert big["max_rows"] == run.CPU_MAX_ROWS and big["speedup_batched_chunked_vs_two"] > 0
    assert big["max_abs_diff_chunked"] < 1e-4


def test_fa24_settings_match_the_preset():
    import run

    fa24 = yaml.safe_load(Path(REPO / "configs/fa24.yaml").read_text())["partb"]
    base = yaml.safe_load(Path(REPO / "config.yaml").read_text())["partb"]
    for name, kw in run.FA24_PARTB.items():
        merged = {**base[name], **fa24[name]}
        for key in ("hidden", "batch_size", "epochs", "lr", "lr_decay_to", "sigma", "p_uncond"):
            if key in kw:
                assert kw[key] == merged[key], (name, key)
        assert (merged.get("lr_decay_to") or None) == kw.get("lr_decay_to"), name
        assert not merged.get("ema_decay"), name  # the spec has no EMA
