"""Config inputs known when the workflow is parsed: each stops the dry run with one
`config error:` line naming the key (or image) and the fix, before anything runs. Checked through
the workflow's own parse-time checks in tests/unit/core/test_parse_time_errors.py; a few of them
also end to end through Snakemake (tests/e2e/test_bad_inputs.py)."""

PARSE_TIME_CASES = {
    "inf-lr": (
        "partb:\n  time_cond:\n    lr: .inf\n",
        "config key 'partb.time_cond.lr' = inf is not a finite number; give a finite value",
    ),
    "minus-inf-scale": (
        "parta:\n  guidance_scale: -.inf\n",
        "config key 'parta.guidance_scale' = -inf is not a finite number",
    ),
    "fractional-epochs": (
        "partb:\n  time_cond:\n    epochs: 20.5\n",
        "config key 'partb.time_cond.epochs' = 20.5 must be of type integer",
    ),
    "seed-too-big": (
        "seed: 18446744073709551615\n",
        "config key 'seed' = 18446744073709551615 is above the maximum 4294967295; use a value",
    ),
    "upscale-too-big": (
        "parta:\n  upscale: 1000\n",
        "config key 'parta.upscale' = 1000 is above the maximum 16; use a value <= 16",
    ),
    "negative-sweep-scale": (
        "eval:\n  cfg_sweep:\n    scales: [0.0, -1.0]\n",
        "config key 'eval.cfg_sweep.scales.1' = -1.0 is below the minimum 0; use a value >= 0",
    ),
    "exponent-read-as-text": (
        "partb:\n  class_cond:\n    guidance_scale: 1e-5\n",
        "(YAML read it as text: drop the quotes, and write an exponent as 1.0e-5)",
    ),
    "blur-kernel-too-big": (
        "parta:\n  blur:\n    kernel_size: 57\n",
        "'parta.blur.kernel_size' = 57 is too large for the 28x28 image (reflect padding needs "
        "a kernel <= 55); use an odd size <= 55",
    ),
    "even-hybrid-kernel": (
        "parta:\n  hybrids:\n    kernel_size: 8\n",
        "config key 'parta.hybrids.kernel_size' = 8 must be odd",
    ),
    "far-sigma-too-big": (
        "eval:\n  parta:\n    hybrid_far_sigma: 10.0\n",
        "config key 'eval.parta.hybrid_far_sigma' = 10.0 is too large for the 28x28 image",
    ),
    "empty-rect": (
        "parta:\n  inpaint:\n    - {image: digit_a, rects: [[0, 0, 0, 28]]}\n",
        "rectangle [0, 0, 0, 28] [top, left, height, width] is empty; give a height and width",
    ),
    "negative-rect": (
        "parta:\n  inpaint:\n    - {image: digit_a, rects: [[-2, 0, 4, 4]]}\n",
        "rectangle [-2, 0, 4, 4] [top, left, height, width] starts outside the image",
    ),
    "rect-outside": (
        "parta:\n  inpaint:\n    - {image: digit_a, rects: [[20, 0, 14, 28]]}\n",
        "does not fit the 28x28 MNIST image; keep top + height and left + width <= 28",
    ),
    "skimage-not-a-photo": (
        'parta:\n  images:\n    bad: {source: "skimage:download_all"}\n',
        "parta.images.bad: skimage:download_all is not one of the photos bundled",
    ),
    "ftp-url": (
        'parta:\n  images:\n    bad: {source: "url:ftp://example.com/x.png"}\n',
        "parta.images.bad: url:ftp://example.com/x.png is not an http(s) URL (scheme 'ftp')",
    ),
    "file-outside-the-repository": (
        'parta:\n  images:\n    bad: {source: "file:../x.png"}\n',
        "or set 'allow_external: true' on the image",
    ),
    "mnist-not-an-index": (
        'parta:\n  images:\n    bad: {source: "mnist:abc"}\n',
        "parta.images.bad: mnist:abc must be mnist:INDEX",
    ),
    "source-without-kind": (
        'parta:\n  images:\n    bad: {source: "http://x"}\n',
        "'parta.images.bad.source' = 'http://x' is not valid: write url:URL, skimage:NAME",
    ),
    "misspelt-key": (
        "parta:\n  guidance_scal: 3.0\n",
        "unknown config key 'parta.guidance_scal' (did you mean 'guidance_scale'?)",
    ),
    "unknown-device": (
        "device: gpu\n",
        "config key 'device' = 'gpu' is not valid: use auto, cpu, cuda or cuda:N",
    ),
    "start-not-a-multiple-of-stride": (
        "parta:\n  timesteps: {start: 290, stride: 30}\n",
        "config key 'parta.timesteps.start' = 290 must be a multiple of 'stride' = 30",
    ),
    "unknown-mnist-prompt": (
        'parta:\n  a0:\n    prompts: ["a rocket ship"]\n',
        "a rocket ship",
    ),
    "rect-past-the-corner": (
        "parta:\n  inpaint:\n    - {image: digit_a, rects: [[20, 20, 14, 14]]}\n",
        "rects of 'digit_a'",
    ),
    "i-start-past-the-list": (
        "parta:\n  sdedit:\n    i_start: [1, 99]\n",
        "config key 'parta.sdedit.i_start' = 99 is past the strided timestep list",
    ),
}
