"""Each beyond-the-spec table states its measured effect in one sentence, computed from its
scores (never from wall times, which differ between runs of the same commit)."""

from __future__ import annotations

import pandas as pd

from fundiff.evaluation import beyond_parta, flow_compare, samplers


def _samplers_frame(seconds):  # the wall times the plot joins in (samplers.with_seconds)
    rows = []
    fd = {("ddpm", 300): 2.0, ("ddpm", 50): 2.6, ("ddpm", 10): 9.0,
          ("ddim", 300): 2.0, ("ddim", 50): 2.1, ("ddim", 10): 3.0}  # fmt: skip
    for (sampler, steps), r in fd.items():
        rows.append({"sampler": sampler, "steps": steps, "fd_ratio": r, "accuracy": 0.99,
                     "confidence": 0.9, "seconds": seconds * steps, "n": 100})  # fmt: skip
    return pd.DataFrame(rows)


def test_samplers_effect_names_the_fewest_steps_within_tolerance():
    text = samplers.effect(_samplers_frame(0.1))
    assert "ddpm at 300 steps (the reference): FD ratio 2.00" in text
    assert "ddim within 10% of its FD ratio down to 50 steps" in text and "6x fewer" in text
    assert "ddpm within 10% of its FD ratio down to 300 steps" in text
    assert "ddim at 10 steps: FD ratio 3.00" in text
    assert samplers.effect(_samplers_frame(7.0)) == text  # wall times do not enter it


def _flow_table():
    # model, sampler, steps, accuracy, confidence, FD ratio (flow_compare.COLUMNS: no wall time)
    return [
        ["DDPM", "strided", 10, 0.77, 0.8, 17.4],
        ["DDPM", "strided", 50, 0.96, 0.9, 3.6],
        ["DDPM", "ancestral", 300, 0.95, 0.9, 3.27],
        ["flow", "Euler", 10, 1.0, 0.95, 3.19],
        ["flow", "Euler", 50, 0.99, 0.95, 3.29],
    ]


def test_flow_effect_compares_at_equal_steps():
    assert all(len(r) == len(flow_compare.COLUMNS) for r in _flow_table())
    assert not any("second" in c for c in flow_compare.COLUMNS)
    text = flow_compare.effect(_flow_table(), conditioned=True)
    assert "at 10 steps flow FD ratio 3.19, accuracy 1.00 vs DDPM FD ratio 17.40" in text
    assert "at 50 steps flow FD ratio 3.29" in text
    assert "own 300-step sampler FD ratio 3.27" in text and "(10 Euler steps)" in text
    assert "confidence 0.95" in flow_compare.effect(_flow_table(), conditioned=False)


def test_views_effect_ranks_views_by_mean_success():
    rows = [
        {"view": "rotate90", "both": 0.1}, {"view": "rotate90", "both": 0.3},
        {"view": "negate", "both": 0.0}, {"view": "flip", "both": 0.5},
    ]  # fmt: skip
    text = beyond_parta.views_effect(rows)
    assert text.index("flip 0.50") < text.index("rotate90 0.20") < text.index("negate 0.00")
    assert beyond_parta.views_effect([]) == ""


def test_repaint_effect_compares_means_over_images():
    def row(method, band, seam, acc):
        return {"method": method, "band_error": band, "seam": seam, "accuracy": acc,
                "original_seam": 0.05}  # fmt: skip

    rows = [row("one_pass", 0.2, 0.3, 0.5), row("repaint", 0.1, 0.2, 1.0),
            row("one_pass", 0.4, 0.1, 1.0), row("repaint", 0.3, 0.1, 1.0)]  # fmt: skip
    text = beyond_parta.repaint_effect(rows)
    assert "band error 0.200 vs 0.300" in text and "accuracy 1.000 vs 0.750" in text
    assert "seam 0.150 vs 0.200" in text and "own seam: 0.050" in text
    no_judge = [r | {"accuracy": None} for r in rows]
    assert "accuracy" not in beyond_parta.repaint_effect(no_judge)
