"""fundiff.parta.backends.hub (rule fetch_models) with the hub replaced by fakes: which files
are fetched, that every access check comes before any download, what the manifest records, the
one-line errors, offline use of the cache, local directories; and the backend loading from a
manifest with nothing but the fetched files (the tiny IF pipeline served by a fake hub)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
from huggingface_hub import errors as hf

from fundiff.errors import AccessError, UserError
from fundiff.parta.backends import hub

TOKEN = "hf_FAKEtoken0123456789secret"
# A listing shaped like the IF repositories: both weight variants, .bin twins, an 8-bit text
# encoder, the safety checker / watermarker the backend never loads, sharded T5.
IF_FILES = [
    "README.md",
    "model_index.json",
    "feature_extractor/preprocessor_config.json",
    "safety_checker/config.json",
    "safety_checker/model.fp16.safetensors",
    "watermarker/diffusion_pytorch_model.safetensors",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.8bit.safetensors",
    "text_encoder/model.fp16-00001-of-00002.safetensors",
    "text_encoder/model.fp16-00002-of-00002.safetensors",
    "text_encoder/model-00001-of-00002.safetensors",
    "text_encoder/model-00002-of-00002.safetensors",
    "text_encoder/model.safetensors.index.fp16.json",
    "text_encoder/model.safetensors.index.json",
    "text_encoder/pytorch_model.bin.index.json",
    "text_encoder/pytorch_model-00001-of-00002.bin",
    "tokenizer/special_tokens_map.json",
    "tokenizer/spiece.model",
    "tokenizer/tokenizer_config.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.bin",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.safetensors",
]
SMALL = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/special_tokens_map.json",
    "tokenizer/spiece.model",
    "tokenizer/tokenizer_config.json",
]


def hub_error(cls, message):
    """A huggingface_hub error without the HTTP response its constructor wants."""
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    return err


class FakeHub:
    """auth_check / model_info / snapshot_download over {repo: {file: bytes}}; records calls."""

    def __init__(self, repos, denied=None, sha="0123abcd" * 5):
        self.repos, self.denied, self.sha, self.calls = repos, denied or {}, sha, []

    def install(self, monkeypatch):
        fake = self

        class Api:
            def auth_check(self, repo):
                fake.calls.append(("auth_check", repo))
                if repo in fake.denied:
                    raise fake.denied[repo]

            def model_info(self, repo, revision=None, files_metadata=False):
                fake.calls.append(("model_info", repo, revision))
                assert files_metadata  # the sizes are recorded
                sib = [SimpleNamespace(rfilename=f, size=n) for f, n in fake.repos[repo].items()]
                return SimpleNamespace(sha=fake.sha, siblings=sib)

        def snapshot_download(repo, **kw):
            fake.calls.append(("snapshot_download", repo, kw))
            return f"/cache/{repo}/snapshots/{kw['revision']}"

        monkeypatch.setattr(huggingface_hub, "HfApi", Api)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
        return self

    def downloads(self):
        return [c for c in self.calls if c[0] == "snapshot_download"]


def if_repo(files=IF_FILES):
    return {f: 1000 + i for i, f in enumerate(files)}


BACKEND = {
    "name": "deepfloyd",
    "stage1": "DeepFloyd/IF-I-L-v1.0",
    "stage2": "DeepFloyd/IF-II-L-v1.0",
    "text_encoder": None,
    "variant": "auto",
}


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)


def _one_line(e) -> str:
    """The error's message: one line, whole within fundiff.errors.first_line's 200 characters,
    no token."""
    msg = str(e.value)
    assert "\n" not in msg and len(msg) <= 200 and isinstance(e.value, UserError)
    assert TOKEN not in msg
    return msg


# ----------------------------------------------------------------------------- file choice


def test_fp16_files_of_the_folders_each_model_loads():
    stage1 = hub.select_files(IF_FILES, "stage1", "fp16", "m")
    unet = {"unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors"}
    assert set(stage1) == set(SMALL) | unet and len(stage1) == len(SMALL) + 2
    t5 = hub.select_files(IF_FILES, "text_encoder", "fp16", "m")
    assert {f for f in t5 if f.startswith("text_encoder/")} == {
        "text_encoder/config.json",
        "text_encoder/model.fp16-00001-of-00002.safetensors",
        "text_encoder/model.fp16-00002-of-00002.safetensors",
        "text_encoder/model.safetensors.index.fp16.json",
        "text_encoder/model.safetensors.index.json",
        "text_encoder/pytorch_model.bin.index.json",
    }
    assert not any(f.startswith("unet/") for f in t5) and set(SMALL) <= set(t5)
    for files in (stage1, t5):
        assert not any(f.endswith(".bin") or "8bit" in f or "safety" in f for f in files)
        assert "README.md" not in files and not any(f.startswith("watermarker") for f in files)


def test_cpu_files_are_the_ones_without_a_variant():
    t5 = hub.select_files(IF_FILES, "text_encoder", None, "m")
    weights = [f for f in t5 if f.endswith(".safetensors")]
    assert weights == [
        "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model-00002-of-00002.safetensors",
    ]
    stage2 = hub.select_files(IF_FILES, "stage2", None, "m")
    assert "unet/diffusion_pytorch_model.safetensors" in stage2
    assert not any("fp16" in f and f.endswith(".safetensors") for f in stage2)


def test_a_missing_variant_or_folder_is_one_line_naming_the_setting():
    no_fp16 = [f for f in IF_FILES if "fp16" not in f]
    with pytest.raises(hub.FetchError) as e:
        hub.select_files(no_fp16, "stage1", "fp16", "DeepFloyd/IF-I-L-v1.0")
    msg = _one_line(e)
    assert "'DeepFloyd/IF-I-L-v1.0' (parta.backend.stage1) has no fp16 safetensors" in msg
    assert "unet/" in msg and "parta.backend.variant" in msg and "(null)" in msg
    bin_only = ["model_index.json", "unet/config.json", "unet/x.bin", "scheduler/s.json"]
    with pytest.raises(hub.FetchError, match="not a safetensors repository"):
        hub.select_files(bin_only, "stage1", None, "m")
    with pytest.raises(hub.FetchError, match=r"has no scheduler/ folder"):
        hub.select_files([f for f in IF_FILES if "scheduler" not in f], "stage2", None, "m")
    with pytest.raises(hub.FetchError, match="no model_index.json"):
        hub.select_files(IF_FILES[2:], "text_encoder", None, "m")


@pytest.mark.parametrize(
    "device, variant", [("cuda", "fp16"), ("cuda:1", "fp16"), ("auto", "fp16"), ("cpu", None),
                        ("mps", None)],
)  # fmt: skip
def test_auto_variant_follows_the_configured_device(device, variant):
    assert hub.weights_variant({"variant": "auto"}, device) == variant
    assert hub.weights_variant({"variant": None}, device) is None
    assert hub.weights_variant({"variant": "bf16"}, device) == "bf16"


# ----------------------------------------------------------------------------- fetch


def test_every_access_check_comes_before_any_download(monkeypatch):
    fake = FakeHub({BACKEND["stage1"]: if_repo(), BACKEND["stage2"]: if_repo()})
    fake.install(monkeypatch)
    backend = dict(BACKEND, revision="v1.0", cache_dir="~/hf-cache")
    manifest = hub.fetch(backend, "cuda")
    kinds = [c[0] for c in fake.calls]
    first_download = kinds.index("snapshot_download")
    assert set(kinds[:first_download]) == {"auth_check", "model_info"}
    assert "auth_check" not in kinds[first_download:]
    # stage I's repo serves the text encoder too: checked once
    assert [c[1] for c in fake.calls if c[0] == "model_info"] == [
        BACKEND["stage1"],
        BACKEND["stage2"],
    ]
    assert {c[2] for c in fake.calls if c[0] == "model_info"} == {"v1.0"}  # requested revision
    for *_, kw in fake.downloads():
        assert kw["revision"] == fake.sha  # the commit the check resolved: nothing re-resolved
        assert kw["cache_dir"] == str(Path("~/hf-cache").expanduser())
    role_of = {0: "stage1", 1: "stage2", 2: "text_encoder"}
    for i, (_, repo, kw) in enumerate(fake.downloads()):
        entry = manifest[role_of[i]]
        assert kw["allow_patterns"] == entry["files"]
        assert entry["files"] == sorted(hub.select_files(IF_FILES, role_of[i], "fp16", repo))
    te = manifest["text_encoder"]
    assert te["repo"] == BACKEND["stage1"] and te["revision"] == "v1.0"
    assert te["commit"] == fake.sha and te["variant"] == "fp16"
    assert te["path"] == f"/cache/{BACKEND['stage1']}/snapshots/{fake.sha}"
    sizes = if_repo()
    assert te["bytes"] == sum(sizes[f] for f in te["files"])
    assert list(manifest) == ["stage1", "stage2", "text_encoder"]
    json.dumps(manifest)  # the rule writes it as JSON


def test_a_revision_per_model(monkeypatch):
    repos = {BACKEND["stage1"]: if_repo(), BACKEND["stage2"]: if_repo(), "t5/repo": if_repo()}
    fake = FakeHub(repos).install(monkeypatch)
    revs = {"stage1": "aaa", "stage2": "bbb", "text_encoder": "ccc"}
    backend = dict(BACKEND, text_encoder="t5/repo", revision=revs)
    manifest = hub.fetch(backend, "cpu")
    asked = {c[1]: c[2] for c in fake.calls if c[0] == "model_info"}
    assert asked == {BACKEND["stage1"]: "aaa", BACKEND["stage2"]: "bbb", "t5/repo": "ccc"}
    assert {r: manifest[r]["revision"] for r in revs} == revs
    assert manifest["stage1"]["variant"] is None  # device cpu: the fp32 files


NETWORK = ("the Hugging Face hub is not reachable", "check the network or set it to a local")


@pytest.mark.parametrize(
    "err, why, fix",
    [
        (
            hub_error(hf.GatedRepoError, f"403 gated, token {TOKEN}"),
            "gated",
            f"accept the license on {hub.LICENSE_CARD} and run 'hf auth login'",
        ),
        (hub_error(hf.RepositoryNotFoundError, "404"), "repository not found", "hf auth login"),
        (hub_error(hf.RevisionNotFoundError, "404"), "no such revision", "parta.backend.revision"),
        (ConnectionError("[Errno -2] Name or service not known"), *NETWORK),
        (type("ConnectError", (hf.HTTPError,), {})("no route"), *NETWORK),  # httpx: no OSError
        (OSError(f"{TOKEN} " + "x" * 300), "OSError: *** xxx", "run 'hf auth login'"),
    ],
)
def test_no_access_to_one_model_stops_before_any_download(monkeypatch, err, why, fix):
    fake = FakeHub({BACKEND["stage1"]: if_repo(), BACKEND["stage2"]: if_repo()})
    fake.denied = {BACKEND["stage2"]: err}
    fake.install(monkeypatch)
    with pytest.raises(AccessError) as e:
        hub.fetch(BACKEND, "cuda")
    msg = _one_line(e)
    assert msg.startswith(f"cannot load DeepFloyd model '{BACKEND['stage2']}' (parta.backend.")
    assert f"(parta.backend.stage2): {why}" in msg and fix in msg
    assert fake.downloads() == []  # stage I was fine, but nothing is fetched


def test_a_bug_keeps_its_traceback(monkeypatch):
    fake = FakeHub({BACKEND["stage1"]: if_repo()}, denied={BACKEND["stage1"]: KeyError("x")})
    fake.install(monkeypatch)
    with pytest.raises(KeyError):
        hub.fetch(BACKEND, "cuda")


def test_offline_uses_the_cached_snapshot(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sha = "feedbeef" * 5
    snap = tmp_path / "models--x" / "snapshots" / sha
    for f in IF_FILES:
        (snap / f).parent.mkdir(parents=True, exist_ok=True)
        (snap / f).write_bytes(b"x" * 3)
    calls = []

    def snapshot_download(repo, **kw):
        calls.append(kw)
        assert kw["local_files_only"]
        return str(snap)

    class NoApi:
        def __getattr__(self, name):
            raise AssertionError("offline: the hub is never asked")

    monkeypatch.setattr(huggingface_hub, "HfApi", NoApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    manifest = hub.fetch(dict(BACKEND, revision="main"), "cuda")
    assert len(calls) == 3 and {c["revision"] for c in calls} == {"main"}
    s1 = manifest["stage1"]
    assert s1["commit"] == sha and s1["path"] == str(snap) and s1["revision"] == "main"
    assert s1["files"] == sorted(hub.select_files(IF_FILES, "stage1", "fp16", "m"))
    assert s1["bytes"] == 3 * len(s1["files"])

    def not_cached(repo, **kw):
        raise hf.LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", not_cached)
    with pytest.raises(AccessError) as e:
        hub.fetch(BACKEND, "cuda")
    msg = _one_line(e)
    assert "(parta.backend.stage1): not cached and the hub is off" in msg
    assert "unset HF_HUB_OFFLINE/local_files_only" in msg


def test_a_local_directory_is_checked_and_recorded_not_fetched(monkeypatch, tmp_path):
    FakeHub({BACKEND["stage2"]: if_repo()}).install(monkeypatch)
    local = tmp_path / "stage1"
    for f in ["model_index.json", "unet/config.json", "unet/w.safetensors", "scheduler/s.json",
              "tokenizer/t.json", "text_encoder/config.json", "text_encoder/model.safetensors",
              "safety_checker/config.json"]:  # fmt: skip
        (local / f).parent.mkdir(parents=True, exist_ok=True)
        (local / f).write_text("{}")
    manifest = hub.fetch(dict(BACKEND, stage1=str(local)), "cuda")
    s1 = manifest["stage1"]
    assert s1["path"] == str(local) and s1["commit"] is None and s1["variant"] == "auto"
    assert "unet/w.safetensors" in s1["files"] and "safety_checker/config.json" not in s1["files"]
    assert s1["bytes"] == 2 * len(s1["files"])
    assert manifest["text_encoder"]["path"] == str(local)  # T5 from stage I's folder
    assert manifest["stage2"]["commit"] is not None  # the hub model next to it
    shutil.rmtree(local / "scheduler")
    with pytest.raises(hub.FetchError, match="has no scheduler/ folder"):
        hub.fetch(dict(BACKEND, stage1=str(local)), "cuda")


# ----------------------------------------------------------------------------- load from it


@pytest.fixture(scope="module")
def tiny_repos(tmp_path_factory):
    """The tiny IF pipeline as two "hub repositories" with both weight variants (the fp16 file
    a copy of the fp32 one: only the names matter here) and a corrupt .bin that must never be
    fetched."""
    from tests.helpers import tiny_if

    root = tiny_if.build(tmp_path_factory.mktemp("tiny_if_hub"))
    for w in root.glob("*/*/*.safetensors"):
        stem, ext = w.name.split(".", 1)
        shutil.copy(w, w.with_name(f"{stem}.fp16.{ext}"))
        w.with_name(f"{stem}.bin").write_bytes(b"not a checkpoint")
    return root


def test_the_backend_loads_from_the_fetched_files_only(monkeypatch, tmp_path, tiny_repos):
    from fundiff.parta.backends import load_backend
    from fundiff.parta.backends.deepfloyd import encode_prompts

    # T5 from its own "repository": each model's folder holds only what was chosen for it
    repos = {f"tiny/{n}": tiny_repos / n for n in ("stage1", "stage2")}
    repos["tiny/t5"] = tiny_repos / "stage1"
    listing = {r: {p.relative_to(d).as_posix(): p.stat().st_size
                   for p in d.rglob("*") if p.is_file()} for r, d in repos.items()}  # fmt: skip
    fake = FakeHub(listing).install(monkeypatch)

    def snapshot_download(repo, revision, cache_dir, allow_patterns, **kw):
        snap = Path(cache_dir) / repo / revision
        for f in allow_patterns:
            (snap / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(repos[repo] / f, snap / f)
        return str(snap)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    backend = dict(BACKEND, stage1="tiny/stage1", stage2="tiny/stage2", text_encoder="tiny/t5")
    backend["cache_dir"] = str(tmp_path)
    manifest = hub.fetch(backend, "auto")  # auto may be CUDA: the fp16 files
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("model.safetensors"))
    assert fake.calls
    (tmp_path / "models.json").write_text(json.dumps(manifest))
    repos.clear()  # gone from the "hub": only the fetched files remain
    config = dict(backend, stage1="gone/1", stage2="gone/2", text_encoder="gone/3")
    config["models"] = str(tmp_path / "models.json")
    cpu = torch.device("cpu")
    prompts = ["", "a rocket ship"]
    cache = encode_prompts(config, prompts, tmp_path / "embeds.pt", cpu)
    be = load_backend(config, cpu, prompt_embeds=tmp_path / "embeds.pt")
    # the same models as loaded straight from the full folders (a missing file could be
    # papered over: transformers makes up a default T5 tokenizer when tokenizer/ is absent)
    direct = dict(BACKEND, stage1=str(tiny_repos / "stage1"), stage2=str(tiny_repos / "stage2"))
    ref_cache = encode_prompts(direct, prompts, tmp_path / "ref.pt", cpu)
    ref = load_backend(direct, cpu, prompt_embeds=tmp_path / "ref.pt")
    for p in prompts:
        torch.testing.assert_close(cache[p], ref_cache[p], rtol=0, atol=0)
    x = torch.randn(1, be.channels, be.image_size, be.image_size)
    cond = be.encode(["a rocket ship"])
    for a, b in zip(be.predict(x, 500, cond), ref.predict(x, 500, cond), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    fetched, full = be.stage2(), ref.stage2()
    for name in ("unet", "scheduler", "image_noising_scheduler"):
        a, b = (dict(getattr(pipe, name).config) for pipe in (fetched, full))
        a.pop("_name_or_path", None), b.pop("_name_or_path", None)  # the folders differ
        assert a == b
    ref_weights = full.unet.state_dict()
    assert all(torch.equal(w, ref_weights[k]) for k, w in fetched.unet.state_dict().items())

    shutil.rmtree(Path(manifest["stage2"]["path"]))
    with pytest.raises(AccessError) as e:
        load_backend(config, cpu, prompt_embeds=tmp_path / "embeds.pt").stage2()
    assert "is gone" in _one_line(e) and "fetch_models" in str(e.value)


def test_download_progress_goes_to_the_log_throttled(monkeypatch):
    """snapshot_download's bars (its tqdm_class, built with the keywords huggingface_hub passes)
    write lines to the rule's log, where the hub's own bars would switch off (not a TTY)."""
    import io
    import sys

    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    bar = hub._download_bar()(
        name="huggingface_hub.snapshot_download", desc="Fetching 3 files", total=3, unit="B"
    )
    for _ in range(3):
        bar.update()
    bar.close()
    lines = log.getvalue().splitlines()
    assert lines and all(line.startswith("Fetching 3 files:") for line in lines)
    assert "3/3" in lines[-1] and len(lines) <= 2  # a fast download: first and last line
