"""Incremental reruns, proven on a finished tiny run: each edit reruns exactly its dependents.

Every case is a dry run (``snakemake -n``) on a copy of the finished tiny workflow (the library
cases on two copies side by side); config edits are an extra ``--configfile`` overlay, source
edits are undone (content and mtime) afterwards, so the cases are independent. Expected jobs are exact ``{rule: count}`` maps from the "Job stats"
table. Adding a case is one entry in CONFIG_CASES or SOURCE_CASES.
"""

from __future__ import annotations

import os
import queue
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fundiff.workflow.deps import closure, module_closure
from tests.helpers.rules import rule_scripts
from tests.helpers.tiers import full_tier
from tests.helpers.workflow import REPO, planned_jobs, run_snakemake

pytestmark = pytest.mark.e2e

TINY = ["--cores", "1", "--configfile", "configs/tiny.yaml"]

# Jobs of the tiny preset, by what they depend on.
TRAIN = {"train": 3, "loss_curve": 3, "denoise_test": 2, "denoise_ood": 1}
CALIBRATE = {"calibrate": 1}  # the measured precision (its params: device, model width, batch)
SAMPLE = {"sample": 4, "sampling_gif": 4}  # a grid and a GIF per model and sample epoch
# beyond the spec on the Part A model (tiny: 2 anagram views, their judge, RePaint)
BEYOND_VIEWS = {"beyond_views_anagram": 2, "beyond_views_judge": 1}
BEYOND_PARTA = {**BEYOND_VIEWS, "beyond_repaint": 1}
# every Part A model job (they all run on Part B's final class_cond weights) + its table merges
PARTA_MODEL = {
    "parta_a0": 2,
    "parta_forward": 1,
    "parta_blur": 1,
    "parta_one_step": 1,
    "parta_iterative": 1,
    "parta_sample": 1,
    "parta_cfg": 1,
    "parta_sdedit": 3,
    "parta_inpaint": 1,
    "parta_pair": 2,
    "parta_table": 7,
    # Part A in numbers: the denoising metrics and illusion samples run the model; the SDEdit
    # and inpainting metrics read the tables' arrays; the summary gathers them
    "eval_parta_denoise": 1,
    "eval_parta_illusions": 1,
    "eval_parta_sdedit": 1,
    "eval_parta_inpaint": 1,
    "eval_parta_summary": 1,
    **BEYOND_PARTA,
}
EVAL_CLASS = {"eval_sample_cfg": 1, "eval_partb": 1}  # CFG-sweep samples (one job) + scores
EVAL_TIME = {"eval_sample_time": 1}
# beyond.flow (on in the tiny preset): a flow model beside each DDPM, its loss curve, grids + GIFs
# per sample epoch, and the DDPM-vs-flow comparison of each (which also reads the DDPMs)
FLOW = {"flow_train": 2, "flow_loss_curve": 2, "flow_sample": 2, "flow_compare": 2}
# beyond.samplers (on in the tiny preset): per conditioned model, its final weights sampled with
# every sampler and step count (one job) and scored (one job)
SAMPLERS_CLASS = {"beyond_samplers_sample": 1, "beyond_samplers_eval": 1}
SAMPLERS = {"beyond_samplers_sample": 2, "beyond_samplers_eval": 2}
MODELS_DOWNSTREAM = {
    **TRAIN,
    **SAMPLE,
    **PARTA_MODEL,
    **EVAL_CLASS,
    **EVAL_TIME,
    **FLOW,
    **SAMPLERS,
}
PAGE = {"report": 1, "all": 1}

# (id, config overlay in YAML, expected jobs)
CONFIG_CASES = [
    (
        "class_cond.guidance_scale",
        "partb: {class_cond: {guidance_scale: 3.0}}",
        # the grids, the class GIFs, and the sweep sample at the new scale (the sweep always
        # includes the grids' scale) + the scores; not training, not Part A
        # (and the class-conditioned flow's grids and comparison: its gamma defaults to this one)
        {
            "sample": 2,
            "sampling_gif": 2,
            "eval_sample_cfg": 1,
            "eval_partb": 1,
            "flow_sample": 1,
            "flow_compare": 1,
            **SAMPLERS_CLASS,
            **PAGE,
        },
    ),
    (
        "class_cond.epochs",
        "partb: {class_cond: {epochs: 3}}",
        {
            "train": 1,
            "loss_curve": 1,
            "sample": 2,
            "sampling_gif": 2,
            **PARTA_MODEL,
            **EVAL_CLASS,
            # the class flow model trains with the DDPM's settings (equal training steps)
            "flow_train": 1,
            "flow_loss_curve": 1,
            "flow_sample": 1,
            "flow_compare": 1,
            **SAMPLERS_CLASS,
            **PAGE,
        },
    ),
    (
        "denoiser.lr",
        "partb: {denoiser: {lr: 0.002}}",
        {"train": 1, "loss_curve": 1, "denoise_test": 2, "denoise_ood": 1, **PAGE},
    ),
    ("noising.sigmas", "partb: {noising: {sigmas: [0.0, 0.5, 1.0]}}", {"noising_grid": 1, **PAGE}),
    ("gif.fps", "partb: {gif: {fps: 10}}", {"sampling_gif": 4, "flow_sample": 2, **PAGE}),
    (
        "schedule.num_timesteps",
        "partb: {schedule: {num_timesteps: 280}}",
        # flow has no noise schedule: only the comparisons (they sample the DDPMs) rerun
        {
            **{k: n for k, n in MODELS_DOWNSTREAM.items() if k not in FLOW},
            "flow_compare": 2,
            **PAGE,
        },
    ),
    (
        "data.mnist.test_per_class",
        "data: {mnist: {test_per_class: 30}}",
        {
            "mnist": 1,
            "noising_grid": 1,
            "parta_image": 2,  # the two mnist:INDEX images
            "train_classifier": 1,
            **MODELS_DOWNSTREAM,
            **PAGE,
        },
    ),
    # The device is a parameter of the rules that run models (results may differ across devices).
    # (the calibration is measured for a device: it reruns, and with it every training)
    ("device", "device: cpu", {"train_classifier": 1, **CALIBRATE, **MODELS_DOWNSTREAM, **PAGE}),
    # A resource, not a parameter: nothing to do.
    ("gpus_per_job", "gpus_per_job: 1", {}),
    # Guidance reruns the CFG rules (A0, A1.6, SDEdit, inpainting, anagrams, hybrids) and their
    # tables, not forward / blur / one-step / iterative / unguided sampling.
    (
        "parta.guidance_scale",
        "parta: {guidance_scale: 5.0}",
        {
            "parta_a0": 2,
            "parta_cfg": 1,
            "parta_sdedit": 3,
            "parta_inpaint": 1,
            "parta_pair": 2,
            "parta_table": 7,
            # the metrics of the guided sections (not the denoising metrics)
            "eval_parta_sdedit": 1,
            "eval_parta_inpaint": 1,
            "eval_parta_illusions": 1,
            "eval_parta_summary": 1,
            **BEYOND_PARTA,
            **PAGE,
        },
    ),
    # Adding an anagram pair runs only that pair, its table, its success rate, X3's views of the
    # pairs and the report.
    (
        "parta.anagrams.pairs + one",
        'parta: {anagrams: {pairs: [{name: six_nine, prompts: ["6", "9"]}, '
        '{name: one_one, prompts: ["1", "1"]}]}}',
        {
            "parta_pair": 1,
            "parta_table": 1,
            "eval_parta_illusions": 1,
            "eval_parta_summary": 1,
            **BEYOND_VIEWS,  # X3 makes A1.8's pairs under every view (beyond.views.pairs: null)
            **PAGE,
        },
    ),
    # An image's resize (an image rule param): that image, the one section that edits it (A1.7.1),
    # its table and the SDEdit metrics; the image's record is a report input.
    (
        "parta.images.drawn_house.resize",
        "parta: {images: {drawn_house: {resize: squash}}}",
        {
            "parta_image": 1,
            "parta_sdedit": 1,
            "parta_table": 1,
            "eval_parta_sdedit": 1,
            "eval_parta_summary": 1,
            **PAGE,
        },
    ),
    # A fast-sampler setting: only the item's jobs (its params carry exactly its keys).
    ("beyond.samplers.eta", "beyond: {samplers: {eta: 0.5}}", {**SAMPLERS, **PAGE}),
    # More illusion samples: only their success rates (no figure reruns).
    (
        "eval.parta.illusion_samples",
        "eval: {parta: {illusion_samples: 4}}",
        {"eval_parta_illusions": 1, "eval_parta_summary": 1, **PAGE},
    ),
]

# (id, file, how it is edited, expected jobs)
SOURCE_CASES = [
    # every model job, and the noising grid: its script imports fundiff.diffusion.sample (for
    # add_noise), which imports the UNet (the hand-kept lists of old missed such indirect imports)
    (
        "unet.py edited",
        "src/fundiff/diffusion/unet.py",
        "append",
        {**CALIBRATE, **MODELS_DOWNSTREAM, "noising_grid": 1, **PAGE},
    ),
    # mtime newer, content unchanged: Snakemake 9 compares the recorded checksum of small inputs,
    # so a pure touch of a library module reruns nothing ...
    ("unet.py touched", "src/fundiff/diffusion/unet.py", "touch", {}),
    # ... but a `script:` is tracked by mtime only ("Code has changed since last execution").
    (
        "loss curve script touched",
        "scripts/partb_loss_curve.py",
        "touch",
        {"loss_curve": 3, "flow_loss_curve": 2, **PAGE},
    ),
    (
        "loss curve script edited",
        "scripts/partb_loss_curve.py",
        "append",
        {"loss_curve": 3, "flow_loss_curve": 2, **PAGE},
    ),
]


def dry_run(wd: Path, *extra: str) -> dict[str, int]:
    out = run_snakemake(wd, "-n", *TINY, *extra)
    return planned_jobs(out.stdout + out.stderr)


@pytest.fixture(scope="module")
def done(tiny_run, tmp_path_factory) -> Path:
    """A private copy of the finished tiny run (results, logs, .snakemake metadata, mtimes kept)."""
    wd = tmp_path_factory.mktemp("incremental") / "wf"
    shutil.copytree(tiny_run, wd, symlinks=True)
    return wd


def test_copied_finished_run_has_nothing_to_do(done):
    """Also proves the library inputs are recorded relative to the checkout, not absolute."""
    assert dry_run(done) == {}


@pytest.mark.parametrize(
    "overlay,expected", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_config_edit_reruns_exactly_its_dependents(done, overlay, expected):
    cfg = done / "edit.yaml"
    cfg.write_text(overlay + "\n")
    assert dry_run(done, str(cfg)) == expected


@pytest.mark.parametrize(
    "path,how,expected", [c[1:] for c in SOURCE_CASES], ids=[c[0] for c in SOURCE_CASES]
)
def test_source_edit_reruns_exactly_its_dependents(done, path, how, expected):
    f = done / path
    before, st = f.read_bytes(), f.stat()
    try:
        if how == "append":
            f.write_bytes(before + b"\n# edited by test_incremental\n")
        now = time.time()  # as an editor or `touch` would: newer than every output
        os.utime(f, (now, now))
        assert dry_run(done) == expected
    finally:
        f.write_bytes(before)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))


# ------------------------------------------------------------ every library module, computed
LIBRARY = sorted(str(f.relative_to(REPO)) for f in (REPO / "src/fundiff").rglob("*.py"))
# The default tier edits a sample that spans every package, the module every rule imports and the
# run-time backend; the full tier (tests/helpers/tiers.py) edits every module.
SAMPLE = [
    "src/fundiff/workflow/runner.py",
    "src/fundiff/diffusion/ddpm.py",
    "src/fundiff/diffusion/calibration.py",
    "src/fundiff/parta/loops.py",
    "src/fundiff/parta/backends/mnist.py",
    "src/fundiff/evaluation/metrics.py",
    "src/fundiff/report/render.py",
    "src/fundiff/plotting.py",
]
EDITED = LIBRARY if full_tier() else [m for m in LIBRARY if m in SAMPLE]
BACKEND = "fundiff.parta.backends.mnist"  # the tiny preset's Part A backend (loaded by name)


def importers(wd: Path, module: str) -> set[str]:
    """Rules of the workflow in ``wd`` whose script imports ``module`` (a path relative to it),
    directly or not; a script that reaches the backend interface also runs the configured
    backend (a run-time plugin)."""
    src = wd / "src"
    out = set()
    for rule, script in rule_scripts(wd).items():
        files = set(closure(wd / "scripts" / f"{script}.py", src))
        if src / "fundiff/parta/backends/__init__.py" in files:
            files |= set(module_closure(BACKEND, src))
        if wd / module in files:
            out.add(rule)
    return out


@pytest.fixture(scope="module")
def dag_rules(done) -> set[str]:
    """The rules with jobs in the tiny preset's DAG (e.g. not the deepfloyd prompt cache): the
    rule column of ``snakemake --summary`` (one row per output file)."""
    out = run_snakemake(done, "--summary", *TINY)
    rows = [line.split("\t") for line in out.stdout.splitlines()[1:] if "\t" in line]
    return {row[2] for row in rows} - {"-"}


def _edited_dry_run(wd: Path, module: str) -> dict[str, int]:
    """The jobs of a dry run after appending a comment to ``module`` in ``wd`` (then undone)."""
    f = wd / module
    before, st = f.read_bytes(), f.stat()
    try:
        f.write_bytes(before + b"\n# edited by test_incremental\n")
        return dry_run(wd)
    finally:
        f.write_bytes(before)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))


def _in_parallel(copies: list[Path], tasks: list, work) -> dict:
    """``{task: work(copy, task)}``, the copies taking tasks side by side (a dry run keeps one
    core busy: two copies on two cores halve the wall time). Each copy serves one dry run at a
    time, so a file edited for one dry run is never seen by another."""
    free: queue.Queue[Path] = queue.Queue()
    for c in copies:
        free.put(c)

    def one(task):
        wd = free.get()
        try:
            return task, work(wd, task)
        finally:
            free.put(wd)

    with ThreadPoolExecutor(len(copies)) as pool:
        return dict(pool.map(one, tasks))


@pytest.fixture(scope="module")
def library_plans(done, dag_rules, tmp_path_factory) -> dict[str, tuple]:
    """Per library module: (the jobs planned after editing it, the rules whose scripts import
    it, the jobs planned when forcing those rules). The dry runs are made up front, on ``done``
    and, when the machine has a second core, on a second copy of it (mtimes kept)."""
    copies = [done]
    if (os.cpu_count() or 1) > 1:
        second = tmp_path_factory.mktemp("incremental_2") / "wf"
        shutil.copytree(done, second, symlinks=True)
        copies.append(second)
    edited = _in_parallel(copies, EDITED, _edited_dry_run)
    expected = {m: frozenset(importers(done, m) & dag_rules) for m in EDITED}
    forced = _in_parallel(
        copies,
        sorted(set(expected.values()), key=sorted),
        lambda wd, rules: dry_run(wd, "--forcerun", *sorted(rules)) if rules else {},
    )
    return {m: (edited[m], set(expected[m]), forced[expected[m]]) for m in EDITED}


def test_the_default_tiers_sample_is_in_the_library():
    assert set(SAMPLE) <= set(LIBRARY), set(SAMPLE) - set(LIBRARY)


@pytest.mark.parametrize("module", EDITED)
def test_library_edit_reruns_the_rules_whose_scripts_import_it(library_plans, module):
    """Appending a comment to a library module reruns exactly the rules whose scripts import it
    (directly or through other modules) and what depends on their outputs: the same jobs as
    forcing those rules (``--forcerun``), job for job."""
    jobs, expected, forced = library_plans[module]
    assert jobs == forced
    # and the importers are planned (the plan is static: nothing waits for a checkpoint)
    assert expected <= set(jobs)
