"""Fun With Diffusion Models: the library behind the Snakemake workflow."""
