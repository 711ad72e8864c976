# Beyond the spec, item: views (config beyond.views; section X3 of the writeup).
# Anagrams of every configured pair under each view (fundiff.parta.views: rotate90, negate,
# jigsaw, and the spec's flip / rotate180 as baselines), and on the mnist backend their success
# rates judged by the digit classifier. Files and params: fundiff.parta.beyond.
BEYOND_VIEWS = config["beyond"]["views"]


BEYOND["views"] = partial(BY.views_files, config)


rule beyond_views_anagram:
    """X3: the anagram of every configured pair under one {view} (A1.8's loop and seeds)."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("beyond_views_anagram"),
    output:
        cells=beyond_views_cells(),
        table=f"{BY.VIEWS_DIR}/{{view}}/table.json",
        npz=f"{BY.VIEWS_DIR}/{{view}}/table.npz",
    log:
        "logs/beyond/views_{view}.log",
    benchmark:
        "benchmarks/rules/beyond_views_{view}.tsv"
    wildcard_constraints:
        view="flip|rotate180|rotate90|negate|jigsaw",
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("beyond_views_anagram", gpu=True),
    params:
        **PA.model_params(),
        pairs=BY.view_pairs(config),
        title=lambda w: BY.views_title(config, w.view),
    script:
        "../scripts/beyond_views_anagram.py"


rule beyond_views_judge:
    """X3, mnist backend: success rates of N anagrams per pair under every configured view."""
    input:
        unpack(pa_model_inputs),
        classifier="results/eval/classifier.pt",
        lib=script_lib("beyond_views_judge"),
    output:
        csv=BY.views_judge(config, "csv"),
        png=report(
            BY.views_judge(config, "png"),
            caption="../report/beyond_views.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("views")),
            labels={"view": "all", "pair": "all", "cell": "success rates"},
        ),
        table=BY.views_judge(config, "json"),
        npz=BY.views_judge(config, "npz"),
    log:
        "logs/beyond/views_judge.log",
    benchmark:
        "benchmarks/rules/beyond_views_judge.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("beyond_views_judge", gpu=True),
    params:
        **PA.model_params(upscale=False),
        views=BY.views_params(config),
        title=BY.views_title(config, "success"),
    script:
        "../scripts/beyond_views_judge.py"
