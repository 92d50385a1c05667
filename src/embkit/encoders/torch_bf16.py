"""A sentence-transformers model on torch with its matrix products in bfloat16: on a CPU
with AMX or AVX512-BF16 these run ~10x fp32's FLOP rate, while torch's autocast keeps
LayerNorm, softmax and pooling in fp32, so vectors stay within cosine 0.9999 of fp32.

onnxruntime (1.32) has no bf16 MatMul or Gemm kernel on its CPU provider, so this tier
runs on torch. Needs the `torch` extra; imported only when this backend is asked for.

On a CPU without bf16 instructions torch would emulate them, slower than fp32, so the
model then runs in plain fp32 with one warning: its vectors are the same to cosine
0.9999, so a collection made with it elsewhere stays searchable here."""

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitWarning
from .base import Progress
from .torch import TorchEncoder

BF16_FEATURES = "AMX-BF16 or AVX512-BF16"


def bf16_hardware() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX-BF16 or AVX512-BF16): Linux's
    CPU flags, else torch's own (private, so absent ones count as no)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), None)
    except OSError:
        flags = None
    if flags is not None:
        return "amx_bf16" in flags or "avx512_bf16" in flags
    import torch

    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # AMX-TILE alone does not promise bf16
    return bool(check and check())


class TorchBf16Encoder(TorchEncoder):
    """A sentence-transformers folder on CPU, its Linear layers in bf16 under autocast.
    `bf16` None: decided by this CPU's features (see bf16_hardware). Unlike `minilm`, a
    text's vector depends slightly on its batch (padding changes the bf16 products'
    shapes and so their rounding: cosine ~0.99999 between a text alone and in a batch)."""

    def __init__(self, name: str, model_dir: Path, dim: int, max_tokens: int = 256, normalized: bool = True,
                 threads: int | None = None, bf16: bool | None = None):
        super().__init__(name, model_dir, dim, max_tokens, normalized, threads=threads)
        import torch

        self._torch = torch
        self.bf16 = bf16_hardware() if bf16 is None else bf16
        if not self.bf16:
            warnings.warn(f"model {name!r}: this CPU has no {BF16_FEATURES}, so it runs in fp32 (same vectors "
                          "to cosine 0.9999, but slower than 'minilm' here)", EmbkitWarning, stacklevel=2)
            return
        # Weights cast once here: autocast would otherwise cast every Linear weight on every batch
        # (measured 20% of the time); its output is bit-identical either way.
        for module in self._model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Embed `texts` in order as an (n, dim) float32 array."""
        with self._torch.autocast("cpu", dtype=self._torch.bfloat16, enabled=self.bf16):
            return super().encode(texts, batch_size, progress)
