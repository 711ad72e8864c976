"""The report's provenance names the DeepFloyd weights Part A used: the fetch_models manifest's
repositories, resolved commits and requested revisions (no local paths)."""

import json

from fundiff.report import render as report
from fundiff.report.tables import write_table
from tests.helpers.workflow import REPO

SHA = "5d1c0ffee5d1c0ffee5d1c0ffee5d1c0ffee5d1c"
MANIFEST = {
    "stage1": {"repo": "DeepFloyd/IF-I-L-v1.0", "revision": None, "commit": SHA,
               "path": "/home/u/.cache/huggingface/hub/x", "variant": "fp16"},
    "stage2": {"repo": "DeepFloyd/IF-II-L-v1.0", "revision": "v1.0", "commit": "c" * 40,
               "path": "/home/u/.cache/huggingface/hub/y", "variant": "fp16"},
    "text_encoder": {"repo": "resources/t5", "revision": None, "commit": None,
                     "path": "resources/t5", "variant": "auto"},
}  # fmt: skip


def context(tmp_path, section, models):
    spec = tmp_path / "results/parta/t.json"
    write_table(spec, section, "t", [], params={"backend": "deepfloyd"})
    out = tmp_path / "results/report"
    sections = REPO / "src/fundiff/report/sections.yaml"
    return report.build_context([spec], out, sections, preset="p", seed=1, models=models)


def test_the_resolved_revisions_are_in_the_provenance(tmp_path):
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MANIFEST))
    ctx = context(tmp_path, "A1.5", models)
    line = ctx["provenance"]["backend"]
    assert line.startswith("Part A backend: deepfloyd.")
    assert f"stage I: DeepFloyd/IF-I-L-v1.0 at commit {SHA} (revision main, fp16 weights)" in line
    assert f"stage II: DeepFloyd/IF-II-L-v1.0 at commit {'c' * 40} (revision v1.0" in line
    assert "T5 text encoder: local directory resources/t5" in line
    assert "/home/u" not in line  # the same report on any machine
    page, md = report.render(ctx, REPO / "report")
    assert SHA in page and SHA in md


def test_no_manifest_or_no_part_a_no_weights_line(tmp_path):
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MANIFEST))
    assert "Weights" not in context(tmp_path, "A1.5", None)["provenance"]["backend"]
    assert "Weights" not in context(tmp_path, "A1.5", tmp_path / "missing")["provenance"]["backend"]
    no_part_a = context(tmp_path, "C1", models)["provenance"]["backend"]
    assert "not part of this build" in no_part_a and SHA not in no_part_a
