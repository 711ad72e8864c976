# Part A: sampling loops over a pretrained model (spec sections A0 - A1.9). Every model rule
# loads the backend named by parta.backend.name: mnist depends on Part B's class_cond weights,
# deepfloyd on the prompt-embedding cache. Outputs: results/parta/<section dir>/ (see README).


rule parta_image:
    """An input image from its configured source (url / skimage / file / mnist) as a PNG."""
    input:
        unpack(pa_source_inputs),
        lib=script_lib("parta_image"),
    output:
        "results/images/{image}.png",
    log:
        "logs/parta/image_{image}.log",
    wildcard_constraints:
        image="|".join(PARTA["images"]),
    conda:
        "../envs/fundiff.yaml"
    params:
        image=pa_source,
    script:
        "../scripts/parta_image.py"


rule encode_prompts:
    """DeepFloyd: every configured prompt through the T5 encoder once (max_length 77)."""
    input:
        lib=script_lib("parta_encode"),
    output:
        f"{PA_DIR}/prompt_embeds.pt",
    log:
        "logs/parta/encode_prompts.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        backend=PARTA["backend"],
        prompts=pa_prompts(),
        device=config["device"],
    script:
        "../scripts/parta_encode.py"


rule parta_a0:
    """A0: text-to-image for the configured prompts with {steps} steps (+ stage II for IF)."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_a0"),
    output:
        cells=pa_cells("a0", "{steps}"),
        part=f"{PA_DIR}/a0/parts/{{steps}}.json",
        npz=f"{PA_DIR}/a0/parts/{{steps}}.npz",
    log:
        "logs/parta/a0_{steps}.log",
    wildcard_constraints:
        steps="[0-9]+",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(),
        a0=PARTA["a0"],
    script:
        "../scripts/parta_a0.py"


rule parta_forward:
    """A1.1: the test image noised to each configured t."""
    input:
        unpack(pa_test_image_inputs),
        lib=script_lib("parta_noisy"),
    output:
        cells=pa_cells("a1_1"),
        table=f"{PA_DIR}/a1_1/table.json",
        npz=f"{PA_DIR}/a1_1/table.npz",
    log:
        "logs/parta/a1_1.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(cfg=False),
        section="A1.1",
        t=PARTA["forward"]["t"],
        image_name=PARTA["forward"]["image"],
        invert=PARTA["images"][PARTA["forward"]["image"]].get("invert", "auto"),
    script:
        "../scripts/parta_noisy.py"


rule parta_blur:
    """A1.2: Gaussian-blur denoising of the noisy test images."""
    input:
        unpack(pa_test_image_inputs),
        lib=script_lib("parta_noisy"),
    output:
        cells=pa_cells("a1_2"),
        table=f"{PA_DIR}/a1_2/table.json",
        npz=f"{PA_DIR}/a1_2/table.npz",
    log:
        "logs/parta/a1_2.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(cfg=False),
        section="A1.2",
        t=PARTA["forward"]["t"],
        blur=PARTA["blur"],
        image_name=PARTA["forward"]["image"],
        invert=PARTA["images"][PARTA["forward"]["image"]].get("invert", "auto"),
    script:
        "../scripts/parta_noisy.py"


rule parta_one_step:
    """A1.3: one-step denoising of the noisy test images with the pretrained UNet."""
    input:
        unpack(pa_test_image_inputs),
        lib=script_lib("parta_noisy"),
    output:
        cells=pa_cells("a1_3"),
        table=f"{PA_DIR}/a1_3/table.json",
        npz=f"{PA_DIR}/a1_3/table.npz",
    log:
        "logs/parta/a1_3.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(cfg=False),
        section="A1.3",
        t=PARTA["forward"]["t"],
        image_name=PARTA["forward"]["image"],
        invert=PARTA["images"][PARTA["forward"]["image"]].get("invert", "auto"),
    script:
        "../scripts/parta_noisy.py"


rule parta_iterative:
    """A1.4: iterative denoising from i_start (every k-th step) + the comparison row."""
    input:
        unpack(pa_test_image_inputs),
        lib=script_lib("parta_iterative"),
    output:
        cells=pa_cells("a1_4"),
        iterative=f"{PA_DIR}/a1_4/iterative.json",
        iterative_npz=f"{PA_DIR}/a1_4/iterative.npz",
        compare=f"{PA_DIR}/a1_4/compare.json",
        compare_npz=f"{PA_DIR}/a1_4/compare.npz",
    log:
        "logs/parta/a1_4.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(cfg=False),
        iterative=PARTA["iterative"],
        blur=PARTA["blur"],
        image_name=PARTA["forward"]["image"],
        invert=PARTA["images"][PARTA["forward"]["image"]].get("invert", "auto"),
    script:
        "../scripts/parta_iterative.py"


rule parta_sample:
    """A1.5: samples from pure noise (no guidance)."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_sample"),
    output:
        cells=pa_cells("a1_5"),
        table=f"{PA_DIR}/a1_5/table.json",
        npz=f"{PA_DIR}/a1_5/table.npz",
    log:
        "logs/parta/a1_5.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(cfg=False),
        section="A1.5",
        samples=PARTA["sample"],
    script:
        "../scripts/parta_sample.py"


rule parta_cfg:
    """A1.6: samples with classifier-free guidance."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_sample"),
    output:
        cells=pa_cells("a1_6"),
        table=f"{PA_DIR}/a1_6/table.json",
        npz=f"{PA_DIR}/a1_6/table.npz",
    log:
        "logs/parta/a1_6.log",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(),
        section="A1.6",
        samples=PARTA["cfg"],
    script:
        "../scripts/parta_sample.py"


rule parta_sdedit:
    """A1.7 / A1.7.1 / A1.7.3: SDEdit of one {image} at every configured i_start."""
    input:
        unpack(pa_image_inputs),
        lib=script_lib("parta_sdedit"),
    output:
        cells=pa_cells("{sdir}", "{image}"),
        part=f"{PA_DIR}/{{sdir}}/parts/{{image}}.json",
        npz=f"{PA_DIR}/{{sdir}}/parts/{{image}}.npz",
    log:
        "logs/parta/{sdir}_{image}.log",
    wildcard_constraints:
        sdir="|".join(PA_SDEDIT),
        image="|".join(PARTA["images"]),
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(),
        i_start=PARTA["sdedit"]["i_start"],
        prompt=pa_sdedit_prompt,
        invert=pa_invert,
    script:
        "../scripts/parta_sdedit.py"


rule parta_inpaint:
    """A1.7.2: inpaint one {image} inside its configured mask."""
    input:
        unpack(pa_image_inputs),
        lib=script_lib("parta_inpaint"),
    output:
        cells=pa_cells("a1_7_2", "{image}"),
        part=f"{PA_DIR}/a1_7_2/parts/{{image}}.json",
        npz=f"{PA_DIR}/a1_7_2/parts/{{image}}.npz",
    log:
        "logs/parta/a1_7_2_{image}.log",
    wildcard_constraints:
        image="|".join(PARTA["images"]),
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(),
        mask=pa_inpaint_mask,
        prompt=PARTA["null_prompt"],
        invert=pa_invert,
    script:
        "../scripts/parta_inpaint.py"


rule parta_pair:
    """A1.8 visual anagram / A1.9 hybrid image for one prompt {pair}."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("parta_pair"),
    output:
        cells=f"{PA_DIR}/{{sdir}}/{{pair}}.png",
        part=f"{PA_DIR}/{{sdir}}/parts/{{pair}}.json",
        npz=f"{PA_DIR}/{{sdir}}/parts/{{pair}}.npz",
    log:
        "logs/parta/{sdir}_{pair}.log",
    wildcard_constraints:
        sdir="a1_8|a1_9",
        pair="[A-Za-z0-9][A-Za-z0-9_-]*",
    conda:
        "../envs/fundiff.yaml"
    resources:
        gpu=gpus(),
    params:
        **pa_common(),
        kind=pa_pair_kind,
        prompts=pa_pair,
        view=pa_pair_view,
        hybrid=pa_hybrid_filter,
    script:
        "../scripts/parta_pair.py"


rule parta_table:
    """Merge a parted section's rows (one per step count / image / pair) into its table."""
    input:
        parts=pa_part_inputs,
        lib=script_lib("parta_table"),
    output:
        table=f"{PA_DIR}/{{sdir}}/table.json",
        npz=f"{PA_DIR}/{{sdir}}/table.npz",
    log:
        "logs/parta/table_{sdir}.log",
    wildcard_constraints:
        sdir="|".join(PA_PARTED),
    conda:
        "../envs/fundiff.yaml"
    params:
        section=pa_table_section,
        title=pa_table_title,
        columns=pa_table_columns,
        table_params=pa_table_params,
    script:
        "../scripts/parta_table.py"


rule parta_all:
    """Part A only: every table (and so every figure) of the configured backend."""
    input:
        parta_tables(),
