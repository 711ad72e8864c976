"""Every random stream's seed: the config ``seed`` plus a named offset, or a name-derived seed.

One table, so that two streams never share a seed by accident and a reader can see which draw
uses which. ``seed`` is the config's ``seed``; ``+ t`` / ``+ epoch`` add the value named.

=====================  ======================  ===============================================
name                   seed                    stream
=====================  ======================  ===============================================
``noisy``              seed + t                x_t = forward(x_0, t) of the Part A test image
                                               (A1.1 - A1.4, and A2's denoising metrics)
``iterative``          seed + 1000 + i         iterative denoising from timesteps[i] (A1.4) /
                                               from t (A2: i is the noise level t)
``stage2``             seed + 1                A0's stage II upsampler (DeepFloyd)
``anagram_eval``       seed + 0                A2: the batch of visual anagrams judged
``hybrid_eval``        seed + 1                A2: the batch of hybrid images judged
``train_noise``        seed + 1                Part B training: the noise / timestep draws
                                               (the batch order uses ``seed`` itself)
``grid``               seed + epoch            Part B: the sample grid of one epoch
``eval_time_cond``     seed + 10000            measured results: the time-conditioned sample
``eval_class_cond``    seed + 20000            measured results: the CFG sweep's samples
(by name)              :func:`derived_seed`    Part A per image / pair: SDEdit ("sdedit", image,
                                               i_start), inpainting ("inpaint", image[,
                                               "known"]), anagrams / hybrids (kind, pair);
                                               beyond the spec: X3's judged batch
                                               ("views_eval", view), X4's inpaintings
                                               ("repaint", image[, "known"])
=====================  ======================  ===============================================

Every other stream (A0's stage I, A1.5 / A1.6 samples, the classifier, Part B's noising figure)
uses ``seed`` itself. Torch-free.
"""

from __future__ import annotations

import hashlib
import json

OFFSETS = {
    "noisy": 0,
    "iterative": 1000,
    "stage2": 1,
    "anagram_eval": 0,
    "hybrid_eval": 1,
    "train_noise": 1,
    "grid": 0,
    "eval_time_cond": 10_000,
    "eval_class_cond": 20_000,
}


def offset_seed(seed: int, name: str, plus: int = 0) -> int:
    """``seed + OFFSETS[name] + plus`` (``plus``: the t, i_start or epoch the table names)."""
    return int(seed) + OFFSETS[name] + int(plus)


def derived_seed(seed: int, *names) -> int:
    """A generator seed for ``names`` under the base ``seed``, e.g. ("sdedit", image, i_start).

    The first 8 bytes of the SHA-256 of the JSON list ``[seed, *map(str, names)]``, shifted
    right by one bit: a 63-bit integer, inside ``torch.Generator.manual_seed``'s range. Unlike
    Python's ``hash()`` it is the same in every process, platform and Python version, so a rule
    run alone or in any order gets the same noise; different names (images, pairs, i_start)
    get independent seeds. Names are compared as strings: 7 and "7" are the same name.
    """
    key = json.dumps([int(seed), *(str(n) for n in names)], ensure_ascii=True)
    return int.from_bytes(hashlib.sha256(key.encode("ascii")).digest()[:8], "big") >> 1
