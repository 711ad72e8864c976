"""Device helpers: bf16 autocast only where it runs in hardware (CUDA, CPUs with native bf16)."""

import torch

from fundiff import device as dev
from fundiff import train


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx2\n")
    assert dev.cpu_has_native_bf16(str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx2\nbugs\t: avx512_bf16\n")
    assert not dev.cpu_has_native_bf16(str(info))  # only the flags line counts
    info.write_text("flags\t: amx_bf16 amx_tile\n")
    assert dev.cpu_has_native_bf16(str(info))
    assert not dev.cpu_has_native_bf16(str(tmp_path / "missing"))  # not Linux: fp32


def test_bf16_autocast_only_where_wanted_and_native(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda native=native: native)
        assert dev.bf16_autocast_enabled(True, cpu) is native
        assert dev.bf16_autocast_enabled(True, cuda)
        assert not dev.bf16_autocast_enabled(False, cpu)
        assert not dev.bf16_autocast_enabled(False, cuda)
        cfg = train.TrainConfig(task="class", hidden=4, batch_size=2, epochs=1, lr=1e-3,
                                amp_bf16=True)  # fmt: skip
        model = torch.nn.Conv2d(1, 1, 3)
        with train.autocast_for(cfg, cpu):
            y = model(torch.randn(1, 1, 5, 5))
        assert y.dtype == (torch.bfloat16 if native else torch.float32)
