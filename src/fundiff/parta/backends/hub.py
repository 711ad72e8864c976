"""DeepFloyd IF weights up front (rule fetch_models): check access, download, say where they are.

The deepfloyd backend loads three models: stage I (``parta.backend.stage1``), stage II
(``stage2``) and the T5 text encoder (``text_encoder``, default: stage I's repository). Before any
other Part A job runs, :func:`fetch` makes them local:

1. every hub repository is checked first (``auth_check`` + ``model_info``: gated, not logged in,
   not found, offline), so an access problem is one line (:func:`access_error`) before a single
   byte is downloaded;
2. the files ``from_pretrained`` reads are picked from the repository's listing: model_index.json
   and, in the component folders the backend loads (:data:`FOLDERS`), the configs, tokenizer
   files and the ``*.safetensors`` of one weights variant (fp16 when the config's device can be
   CUDA) -- no ``*.bin``, no safety checker, no other variant;
3. ``snapshot_download`` fetches exactly those at the commit resolved in step 1 (the requested
   ``parta.backend.revision``: a branch, tag or commit; default main) into the Hugging Face cache
   (``parta.backend.cache_dir``, or Hugging Face's default, which honours ``HF_HOME`` /
   ``HF_HUB_CACHE``).

A local directory is checked (model_index.json and the folders) and recorded as it is. Offline
(``HF_HUB_OFFLINE=1`` or ``parta.backend.local_files_only``) the cached snapshot is used.

The result is the manifest the Part A rules take as input: per model its repository, requested
revision, resolved commit, local folder, files, bytes and variant. The backend then loads from
that folder with ``local_files_only``, so no later job asks the hub anything.

This module needs huggingface_hub only (no torch, no diffusers).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fundiff.errors import AccessError, UserError

LICENSE_CARD = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"
ROLES = ("stage1", "stage2", "text_encoder")
KEYS = {role: f"parta.backend.{role}" for role in ROLES}
# The pipeline folders each model is loaded with (deepfloyd.py: stage I and stage II without T5
# and without the safety checker / watermarker; the text encoder with its tokenizer, scheduler).
FOLDERS = {
    "stage1": ("unet", "scheduler", "tokenizer"),
    "stage2": ("unet", "scheduler", "image_noising_scheduler", "tokenizer"),
    "text_encoder": ("text_encoder", "tokenizer", "scheduler"),
}
# ... of which these must exist (a pipeline without a tokenizer or noising scheduler is valid)
REQUIRED = {
    "stage1": ("unet", "scheduler"),
    "stage2": ("unet", "scheduler"),
    "text_encoder": ("text_encoder", "tokenizer"),
}
SMALL_FILES = (".json", ".txt", ".model")  # configs, tokenizer files (spiece.model)
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5", ".onnx")
# name[.variant][-00001-of-00002].safetensors: diffusers' and transformers' weight files
_SAFETENSORS = re.compile(r"^[^.]+(?:\.(?P<variant>[^.-]+))?(?:-\d+-of-\d+)?\.safetensors$")
_TRUE = ("1", "true", "yes", "on")


class FetchError(UserError, RuntimeError):
    """A model folder or repository that lacks what the backend loads (one line)."""


# ----------------------------------------------------------------------------- one-line errors


def _redact(text: str) -> str:
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN"):
        tok = os.environ.get(var)
        if tok:
            text = text.replace(tok, "***")
    return re.sub(r"hf_[A-Za-z0-9]{8,}", "hf_***", text)


def _chain(err: BaseException) -> list[BaseException]:
    chain, e = [], err
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    return chain


def _reason(err: BaseException) -> tuple[str, str]:
    """(what went wrong, how to fix it) for a failed hub access, short enough that the whole
    message fits the 200 characters of a one-line error (fundiff.errors.first_line)."""
    from huggingface_hub import errors as hf

    chain = _chain(err)
    kinds = {type(c).__name__ for c in chain}
    local = "or set it to a local pipeline folder"
    if any(isinstance(c, hf.GatedRepoError) for c in chain):
        return "gated", f"accept the license on {LICENSE_CARD} and run 'hf auth login'"
    if any(isinstance(c, hf.RepositoryNotFoundError) for c in chain):
        return "repository not found", "check the id; if it is private run 'hf auth login'"
    if any(isinstance(c, hf.RevisionNotFoundError) for c in chain):
        return "no such revision", "check parta.backend.revision (a branch, tag or commit)"
    offline = {"LocalEntryNotFoundError", "OfflineModeIsEnabled"} & kinds
    if offline or "not fully cached" in str(err) or "local_files_only" in str(err):
        return "not cached and the hub is off", f"unset HF_HUB_OFFLINE/local_files_only {local}"
    if {"ConnectError", "ConnectTimeout", "ConnectionError", "gaierror"} & kinds:
        return "the Hugging Face hub is not reachable", f"check the network {local}"
    if any(isinstance(c, hf.HFValidationError) for c in chain):
        return "not a model id and no such folder", "give 'owner/name' or an existing folder"
    if "no file named" in str(err) and ".safetensors" in str(err):  # use_safetensors=True
        return (
            "no *.safetensors of the set variant",
            "save its weights as safetensors or set parta.backend.variant",
        )
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {_redact(first)[:60]}", "run 'hf auth login'"


def access_error(model_id: str, err: BaseException, key: str) -> AccessError:
    """One actionable line (within 200 characters) for a model that could not be loaded."""
    why, fix = _reason(err)
    return AccessError(f"cannot load DeepFloyd model '{model_id}' ({key}): {why}; fix: {fix}")


def hub_failure(err: BaseException) -> bool:
    """True for the errors that mean "cannot get it from the hub" (HTTP, network, offline,
    bad repository id), as opposed to a bug: those keep their traceback."""
    from huggingface_hub import errors as hf

    http = getattr(hf, "HTTPError", OSError)  # httpx's base error (requests': an OSError)
    return isinstance(err, (OSError, http, hf.HFValidationError))


# ----------------------------------------------------------------------------- what to fetch


def repo_ids(backend: dict) -> dict[str, str]:
    """{role: model id or local directory} of the three models (text encoder: stage I's repo
    unless ``parta.backend.text_encoder`` names another)."""
    return {
        "stage1": str(backend["stage1"]),
        "stage2": str(backend["stage2"]),
        "text_encoder": str(backend.get("text_encoder") or backend["stage1"]),
    }


def revision(backend: dict, role: str) -> str | None:
    """The requested revision of one model: ``parta.backend.revision`` is one name for all three
    (a branch or tag; null = main) or a mapping {stage1, stage2, text_encoder} (e.g. commits)."""
    rev = backend.get("revision")
    if isinstance(rev, dict):
        rev = rev.get(role)
    return None if rev is None else str(rev)


def weights_variant(backend: dict, device: str) -> str | None:
    """The weights variant to fetch: ``parta.backend.variant``, where "auto" is fp16 unless the
    configured device is the CPU or Apple's MPS (which load fp32 files). fetch_models runs on the
    submit host, which may have no GPU, so the *configured* device decides, not this machine's."""
    variant = backend.get("variant", "auto")
    if variant == "auto":
        return None if str(device) in ("cpu", "mps") else "fp16"
    return variant


def is_local(model: str) -> bool:
    return Path(model).expanduser().is_dir()


def _folders(files: list[str], role: str, model: str) -> dict[str, list[str]]:
    """{folder: its files} of the :data:`FOLDERS` ``role`` loads that the listing has; a missing
    model_index.json or required folder is a :class:`FetchError`."""
    key = KEYS[role]
    if "model_index.json" not in files:
        raise FetchError(
            f"'{model}' ({key}) has no model_index.json: it is not a diffusers pipeline"
        )
    out = {}
    for folder in FOLDERS[role]:
        inside = [f for f in files if f.startswith(folder + "/") and f.count("/") == 1]
        if inside:
            out[folder] = inside
        elif folder in REQUIRED[role]:
            raise FetchError(f"'{model}' ({key}) has no {folder}/ folder")
    return out


def select_files(files, role: str, variant: str | None, model: str) -> list[str]:
    """The files of a repository listing (paths relative to its root) that loading ``role``
    reads: model_index.json, then per folder of :data:`FOLDERS` its configs / tokenizer files
    and, where the folder holds weights, its ``*.safetensors`` of ``variant`` (None: the files
    without a variant). A required folder that is missing, or weights without that variant, is
    a :class:`FetchError` naming the setting to change."""
    files = sorted(set(files))
    out = ["model_index.json"]
    for folder, inside in _folders(files, role, model).items():
        out += [f for f in inside if f.endswith(SMALL_FILES)]
        weights = [f for f in inside if f.endswith(WEIGHTS)]
        chosen = [f for f in weights if _variant_of(f) == (variant or "")]
        if weights and not chosen:
            have = sorted({v or "null" for f in weights if (v := _variant_of(f)) is not None})
            raise FetchError(
                f"'{model}' ({KEYS[role]}) has no {variant or 'default (no variant)'} "
                f"safetensors weights in {folder}/; set parta.backend.variant to one it has "
                f"({', '.join(have) or 'none: it is not a safetensors repository'})"
            )
        out += chosen
    return out


def _variant_of(path: str) -> str | None:
    """ "" for a safetensors file without a variant, its variant ("fp16"), None if not one."""
    m = _SAFETENSORS.match(path.rsplit("/", 1)[-1])
    return None if m is None else (m.group("variant") or "")


def _listing(folder: Path) -> dict[str, int]:
    """{relative path: bytes} of every file under ``folder`` (cache symlinks followed)."""
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _entry(model, path, files: dict[str, int], variant, rev=None, commit=None) -> dict:
    return {
        "repo": model,
        "revision": rev,
        "commit": commit,
        "path": str(path),
        "variant": variant,
        "files": sorted(files),
        "bytes": sum(files.values()),
    }


def check_local(model: str, role: str, variant) -> dict:
    """The manifest entry of a local pipeline directory: checked, recorded, never copied. Its
    variant stays as configured ("auto": per device when loaded); every file of the folders the
    backend loads is recorded."""
    folder = Path(model).expanduser()
    listing = _listing(folder)
    files = ["model_index.json"] + sum(_folders(sorted(listing), role, model).values(), [])
    return _entry(model, folder, {f: listing[f] for f in files}, variant)


# ----------------------------------------------------------------------------- fetch


def offline(backend: dict) -> bool:
    """Never contact the hub: ``parta.backend.local_files_only`` or ``HF_HUB_OFFLINE=1``."""
    env = os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE
    return bool(backend.get("local_files_only")) or env


def _remote_listing(model: str, rev: str | None, key: str) -> tuple[str, dict[str, int]]:
    """(commit, {file: bytes}) of a hub repository at ``rev``, after checking that this user may
    download it (gated models: licence accepted and logged in)."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.auth_check(model)
        info = api.model_info(model, revision=rev, files_metadata=True)
    except Exception as e:
        if hub_failure(e):
            raise access_error(model, e, key) from None
        raise
    return info.sha, {s.rfilename: int(s.size or 0) for s in info.siblings or []}


def _download_bar():
    """A tqdm class for ``snapshot_download`` that writes throttled lines to the rule's log
    (huggingface_hub's own bars switch themselves off when stderr is not a terminal)."""
    from tqdm import tqdm

    from fundiff.progress import bar_options

    class LogBar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            super().__init__(*args, **{**kwargs, **bar_options(kwargs.get("desc") or "")})

    return LogBar


def fetch(backend: dict, device: str, log=None) -> dict:
    """Make the three models local and return the manifest {role: entry} (module docstring).
    Every hub repository is checked before anything is downloaded; the first problem is one
    :class:`AccessError` / :class:`FetchError` line."""
    from huggingface_hub import snapshot_download

    models, variant = repo_ids(backend), weights_variant(backend, device)
    cache_dir = backend.get("cache_dir")
    cache_dir = None if cache_dir is None else str(Path(cache_dir).expanduser())
    no_hub = offline(backend)
    manifest, plans, listings = {}, {}, {}
    for role, model in models.items():  # 1. every access check and file choice first
        if is_local(model):
            manifest[role] = check_local(model, role, backend.get("variant", "auto"))
        elif not no_hub:
            rev = revision(backend, role)
            if (model, rev) not in listings:
                listings[model, rev] = _remote_listing(model, rev, KEYS[role])
            commit, listing = listings[model, rev]
            files = select_files(listing, role, variant, model)
            plans[role] = (model, rev, commit, {f: listing[f] for f in files})
    for role, (model, rev, commit, files) in plans.items():  # 2. downloads
        if log:
            total = sum(files.values()) / 1e9
            log.info("%s: %s @ %s, %d files, %.2f GB", role, model, commit, len(files), total)
        try:
            path = snapshot_download(
                model,
                revision=commit,
                cache_dir=cache_dir,
                allow_patterns=sorted(files),
                tqdm_class=_download_bar(),
            )
        except Exception as e:
            if hub_failure(e):
                raise access_error(model, e, KEYS[role]) from None
            raise
        manifest[role] = _entry(model, path, files, variant, rev, commit)
    for role, model in models.items():  # offline: the cached snapshot, as complete as online
        if role in manifest:
            continue
        rev = revision(backend, role)
        try:
            path = snapshot_download(
                model, revision=rev, cache_dir=cache_dir, local_files_only=True
            )
        except Exception as e:
            if hub_failure(e):
                raise access_error(model, e, KEYS[role]) from None
            raise
        listing = _listing(Path(path))
        files = select_files(listing, role, variant, model)
        commit = Path(path).name  # the cache's snapshots/<commit>/
        manifest[role] = _entry(model, path, {f: listing[f] for f in files}, variant, rev, commit)
    return {role: manifest[role] for role in ROLES}
