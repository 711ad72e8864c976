# Part A: sampling loops over a pretrained model (spec sections A0 - A1.9). Every model rule
# loads the backend named by parta.backend.name: mnist depends on Part B's class_cond weights,
# deepfloyd on the prompt-embedding cache. Outputs: results/parta/<section dir>/ (see README).


rule parta_image:
    """An input image from its configured source (url / skimage / file / mnist) as a PNG, and
    its provenance record (source, sha256 and size of what was read) for the report."""
    input:
        unpack(lambda w: {**PA.source_inputs(w.image), **pa_after_fetch()}),
        lib=script_lib("parta_image"),
    output:
        png=layout.image_path("{image}"),
        record=layout.image_record("{image}"),
    log:
        "logs/parta/image_{image}.log",
    benchmark:
        "benchmarks/rules/parta_image_{image}.tsv"
    wildcard_constraints:
        image="|".join(PARTA["images"]),
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_image"),
    params:
        image=lambda w: dict(PARTA["images"][w.image]),
    script:
        "../scripts/parta_image.py"


rule encode_prompts:
    """DeepFloyd: every configured prompt through the T5 encoder once (max_length 77)."""
    input:
        models=PA_MODELS,
        lib=script_lib("parta_encode"),
    output:
        f"{PA_DIR}/prompt_embeds.pt",
    log:
        "logs/parta/encode_prompts.log",
    benchmark:
        "benchmarks/rules/encode_prompts.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: THREADS
    resources:
        **sized("encode_prompts", gpu=True),
    params:
        backend=PA.backend(),
        prompts=PA.prompts(),
        device=config["device"],
    script:
        "../scripts/parta_encode.py"


rule parta_a0:
    """A0: text-to-image for the configured prompts with {steps} steps (+ stage II for IF)."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_a0"),
    output:
        cells=parta_report_cells("a0", "{steps}"),
        part=f"{PA_DIR}/a0/parts/{{steps}}.json",
        npz=f"{PA_DIR}/a0/parts/{{steps}}.npz",
    log:
        "logs/parta/a0_{steps}.log",
    benchmark:
        "benchmarks/rules/parta_a0_{steps}.tsv"
    wildcard_constraints:
        steps="[0-9]+",
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_a0", gpu=True),
    params:
        **PA.model_params(),
        a0=PARTA["a0"],
    script:
        "../scripts/parta_a0.py"


rule parta_forward:
    """A1.1: the test image noised to each configured t (A1.2, A1.3: the same rule, below).
    A1.1 and A1.2 never call the model: the backend reads only its schedule and image shape
    (mnist: the checkpoint's configs, deepfloyd: the fetched configs), so they run on the CPU
    and take neither the prompt cache nor the measured sampling precision."""
    input:
        unpack(
            pa_inputs(
                lambda w: PA.image_inputs(PARTA["forward"]["image"], mask=False),
                pa_schedule_inputs,
            )
        ),
        lib=script_lib("parta_noisy"),
    output:
        cells=parta_report_cells("a1_1"),
        table=f"{PA_DIR}/a1_1/table.json",
        npz=f"{PA_DIR}/a1_1/table.npz",
    log:
        "logs/parta/a1_1.log",
    benchmark:
        "benchmarks/rules/parta_a1_1.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_forward"),
    params:
        **PA.model_params(guidance=False) | {"device": "cpu"},  # A1.3 below: the model's
        **PA.forward_image(),
        section="A1.1",
        title=PA.title("a1_1"),
        t=PARTA["forward"]["t"],
    script:
        "../scripts/parta_noisy.py"


# A1.2: Gaussian-blur denoising of the noisy test images.
use rule parta_forward as parta_blur with:
    output:
        cells=parta_report_cells("a1_2"),
        table=f"{PA_DIR}/a1_2/table.json",
        npz=f"{PA_DIR}/a1_2/table.npz",
    log:
        "logs/parta/a1_2.log",
    benchmark:
        "benchmarks/rules/parta_a1_2.tsv"
    params:
        section="A1.2",
        title=PA.title("a1_2"),
        blur=PARTA["blur"],


# A1.3: one-step denoising of the noisy test images with the pretrained UNet (its inputs,
# GPU and device, where A1.1 and A1.2 have none).
use rule parta_forward as parta_one_step with:
    input:
        unpack(pa_inputs(lambda w: PA.image_inputs(PARTA["forward"]["image"], mask=False))),
        lib=script_lib("parta_noisy"),
    output:
        cells=parta_report_cells("a1_3"),
        table=f"{PA_DIR}/a1_3/table.json",
        npz=f"{PA_DIR}/a1_3/table.npz",
    log:
        "logs/parta/a1_3.log",
    benchmark:
        "benchmarks/rules/parta_a1_3.tsv"
    resources:
        **sized("parta_one_step", gpu=True),
    params:
        device=config["device"],
        section="A1.3",
        title=PA.title("a1_3"),


rule parta_iterative:
    """A1.4: iterative denoising from i_start (every k-th step) + the comparison row."""
    input:
        unpack(pa_inputs(lambda w: PA.image_inputs(PARTA["forward"]["image"], mask=False))),
        lib=script_lib("parta_iterative"),
    output:
        cells=parta_report_cells("a1_4"),
        iterative=f"{PA_DIR}/a1_4/iterative.json",
        iterative_npz=f"{PA_DIR}/a1_4/iterative.npz",
        compare=f"{PA_DIR}/a1_4/compare.json",
        compare_npz=f"{PA_DIR}/a1_4/compare.npz",
    log:
        "logs/parta/a1_4.log",
    benchmark:
        "benchmarks/rules/parta_a1_4.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_iterative", gpu=True),
    params:
        **PA.model_params(guidance=False),
        **PA.forward_image(),
        iterative=PARTA["iterative"],
        blur=PARTA["blur"],
        titles={t: PA.title("a1_4", t) for t in ("iterative", "compare")},
    script:
        "../scripts/parta_iterative.py"


rule parta_sample:
    """A1.5: samples from pure noise (no guidance; A1.6, with guidance: the same rule, below)."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_sample"),
    output:
        cells=parta_report_cells("a1_5"),
        table=f"{PA_DIR}/a1_5/table.json",
        npz=f"{PA_DIR}/a1_5/table.npz",
    log:
        "logs/parta/a1_5.log",
    benchmark:
        "benchmarks/rules/parta_a1_5.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_sample", gpu=True),
    params:
        **PA.model_params(guidance=False),
        section="A1.5",
        title=PA.title("a1_5"),
        samples=PARTA["sample"],
    script:
        "../scripts/parta_sample.py"


# A1.6: samples with classifier-free guidance.
use rule parta_sample as parta_cfg with:
    output:
        cells=parta_report_cells("a1_6"),
        table=f"{PA_DIR}/a1_6/table.json",
        npz=f"{PA_DIR}/a1_6/table.npz",
    log:
        "logs/parta/a1_6.log",
    benchmark:
        "benchmarks/rules/parta_a1_6.tsv"
    params:
        guidance_scale=PARTA["guidance_scale"],
        section="A1.6",
        title=PA.title("a1_6"),
        samples=PARTA["cfg"],


rule parta_sdedit:
    """A1.7 / A1.7.1 / A1.7.3: SDEdit of one {image} at every configured i_start."""
    input:
        unpack(pa_inputs(lambda w: PA.image_inputs(w.image, mask=False))),
        lib=script_lib("parta_sdedit"),
    output:
        cells=parta_report_cells("a1_7", "{image}", under="{sdir}"),
        part=f"{PA_DIR}/{{sdir}}/parts/{{image}}.json",
        npz=f"{PA_DIR}/{{sdir}}/parts/{{image}}.npz",
    log:
        "logs/parta/{sdir}_{image}.log",
    benchmark:
        "benchmarks/rules/parta_{sdir}_{image}.tsv"
    wildcard_constraints:
        sdir="|".join(layout.SDEDIT),
        image="|".join(PARTA["images"]),
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_sdedit", gpu=True),
    params:
        **PA.model_params(),
        i_start=PARTA["sdedit"]["i_start"],
        prompt=lambda w: PA.sdedit_prompt(w.sdir),
        invert=lambda w: PA.invert(w.image),
        resize=lambda w: PA.resize(w.image),
    script:
        "../scripts/parta_sdedit.py"


rule parta_inpaint:
    """A1.7.2: inpaint one {image} inside its configured mask."""
    input:
        unpack(pa_inputs(lambda w: PA.image_inputs(w.image))),
        lib=script_lib("parta_inpaint"),
    output:
        cells=parta_report_cells("a1_7_2", "{image}"),
        part=f"{PA_DIR}/a1_7_2/parts/{{image}}.json",
        npz=f"{PA_DIR}/a1_7_2/parts/{{image}}.npz",
    log:
        "logs/parta/a1_7_2_{image}.log",
    benchmark:
        "benchmarks/rules/parta_a1_7_2_{image}.tsv"
    wildcard_constraints:
        image="|".join(PARTA["images"]),
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_inpaint", gpu=True),
    params:
        **PA.model_params(),
        mask=lambda w: PA.inpaint_spec(w.image),
        prompt=PARTA["null_prompt"],
        invert=lambda w: PA.invert(w.image),
        resize=lambda w: PA.resize(w.image),
    script:
        "../scripts/parta_inpaint.py"


rule parta_pair:
    """A1.8 visual anagram / A1.9 hybrid image for one prompt {pair}."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_pair"),
    output:
        cells=parta_report_cells("a1_8", "{pair}", under="{sdir}"),
        part=f"{PA_DIR}/{{sdir}}/parts/{{pair}}.json",
        npz=f"{PA_DIR}/{{sdir}}/parts/{{pair}}.npz",
    log:
        "logs/parta/{sdir}_{pair}.log",
    benchmark:
        "benchmarks/rules/parta_{sdir}_{pair}.tsv"
    wildcard_constraints:
        sdir="|".join(layout.PAIRS),
        pair="[A-Za-z0-9][A-Za-z0-9_-]*",
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_pair", gpu=True),
    params:
        **PA.model_params(),
        kind=pa_pair_param("kind"),
        prompts=pa_pair_param("prompts"),
        view=pa_pair_param("view"),
        hybrid=pa_pair_param("hybrid"),
    script:
        "../scripts/parta_pair.py"


rule parta_table:
    """Merge a parted section's rows (one per step count / image / pair) into its table."""
    input:
        parts=lambda w: PA.part_paths(w.sdir),
        lib=script_lib("parta_table"),
    output:
        table=f"{PA_DIR}/{{sdir}}/table.json",
        npz=f"{PA_DIR}/{{sdir}}/table.npz",
    log:
        "logs/parta/table_{sdir}.log",
    benchmark:
        "benchmarks/rules/parta_table_{sdir}.tsv"
    wildcard_constraints:
        sdir="|".join(layout.PARTED),
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("parta_table"),
    params:
        section=lambda w: layout.record(w.sdir).id,
        title=lambda w: PA.title(w.sdir),
        columns=lambda w: PA.columns(w.sdir),
        table_params=lambda w: PA.table_params(w.sdir),
    script:
        "../scripts/parta_table.py"


rule parta_all:
    """Part A only: every table (and so every figure) of the configured backend."""
    input:
        parta_tables(),
