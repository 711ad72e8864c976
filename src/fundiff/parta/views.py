"""Image views of visual anagrams (``parta.anagrams.view``, ``beyond.views.views``).

A view V is an orthogonal linear map of the image (NCHW, in the backend's model space), given
with its inverse V^-1: the anagram estimate is eps = (eps_1(x_t) + V^-1(eps_2(V(x_t)))) / 2
(:func:`fundiff.parta.loops.anagram_eps_fn`). Orthogonal (a permutation of pixels, possibly
with signs) means ||V(z)|| = ||z|| and V(z) ~ N(0, I) for z ~ N(0, I), so the noisy image
seen through V is still a valid x_t of the same noise level (Geng et al. 2024, "Visual
Anagrams"):

* flip        reverse H (the spec's view)                            self-inverse
* rotate180   reverse H and W (a 6 turned round is a 9)              self-inverse
* rotate90    turn 90 degrees counter-clockwise (torch.rot90 k = 1)  inverse: rotate -90
* negate      x -> -x (photo negative in [-1, 1] model space)        self-inverse
* jigsaw      a fixed permutation of the 4 x 4 grid of square tiles  inverse permutation
              (tile = H / 4: 7 px on 28 px MNIST, 16 px on 64 px IF)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

View = Callable[[torch.Tensor], torch.Tensor]


def flip(x: torch.Tensor) -> torch.Tensor:
    """Upside down: reverse the H axis of NCHW (spec: torch.flip(x, dims=[2]))."""
    return torch.flip(x, dims=[-2])


def rotate180(x: torch.Tensor) -> torch.Tensor:
    """Turned round: reverse H and W (how a handwritten 6 becomes a 9)."""
    return torch.flip(x, dims=[-2, -1])


def rotate90(x: torch.Tensor) -> torch.Tensor:
    """Turned a quarter counter-clockwise (torch.rot90, k = 1, over H and W)."""
    return torch.rot90(x, 1, dims=(-2, -1))


def rotate270(x: torch.Tensor) -> torch.Tensor:
    """Turned a quarter clockwise: the inverse of :func:`rotate90`."""
    return torch.rot90(x, -1, dims=(-2, -1))


def negate(x: torch.Tensor) -> torch.Tensor:
    """x -> -x: the photo negative when the model's pixels are in [-1, 1]."""
    return -x


# The jigsaw's tiles in row-major order, 0 .. 15 on a 4 x 4 grid: tile k of the view is tile
# JIGSAW[k] of the image. A fixed derangement (no tile stays in place), chosen by hand:
# every row of tiles is moved to another row and shifted.
JIGSAW_GRID = 4
JIGSAW = (5, 10, 15, 0, 9, 14, 3, 4, 13, 2, 7, 8, 1, 6, 11, 12)


def _tiles(x: torch.Tensor, grid: int) -> tuple[torch.Tensor, int]:
    """(N, C, grid*grid, tile, tile) tiles of x in row-major order, and the tile size."""
    n, c, h, w = x.shape
    if h != w or h % grid:
        raise ValueError(f"jigsaw view needs a square image divisible by {grid}, got {h} x {w}")
    s = h // grid
    tiles = x.reshape(n, c, grid, s, grid, s).permute(0, 1, 2, 4, 3, 5)
    return tiles.reshape(n, c, grid * grid, s, s), s


def _untile(tiles: torch.Tensor, grid: int) -> torch.Tensor:
    n, c, _, s, _ = tiles.shape
    x = tiles.reshape(n, c, grid, grid, s, s).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(n, c, grid * s, grid * s)


def permute_tiles(x: torch.Tensor, order, grid: int) -> torch.Tensor:
    """Tile k of the result is tile ``order[k]`` of x (tiles of a grid x grid split)."""
    tiles, _ = _tiles(x, grid)
    return _untile(tiles[:, :, list(order)], grid)


def inverse_permutation(order) -> tuple[int, ...]:
    """The permutation q with q[order[k]] = k, so permuting by order then by q is the identity."""
    out = [0] * len(order)
    for k, j in enumerate(order):
        out[j] = k
    return tuple(out)


def jigsaw(x: torch.Tensor) -> torch.Tensor:
    """The 4 x 4 tile permutation :data:`JIGSAW`."""
    return permute_tiles(x, JIGSAW, JIGSAW_GRID)


def unjigsaw(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`jigsaw` (the inverse permutation of its tiles)."""
    return permute_tiles(x, inverse_permutation(JIGSAW), JIGSAW_GRID)


# The second view of a visual anagram, by name, and its inverse (the map the anagram loop
# applies to the second noise estimate).
VIEWS: dict[str, View] = {
    "flip": flip,
    "rotate180": rotate180,
    "rotate90": rotate90,
    "negate": negate,
    "jigsaw": jigsaw,
}
INVERSES: dict[str, View] = {
    "flip": flip,
    "rotate180": rotate180,
    "rotate90": rotate270,
    "negate": negate,
    "jigsaw": unjigsaw,
}


def view(name: str) -> View:
    """The view named ``name`` (ValueError naming the known views otherwise)."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; known: {', '.join(VIEWS)}")
    return VIEWS[name]


def inverse(name: str) -> View:
    """The inverse of the view named ``name``."""
    view(name)
    return INVERSES[name]
