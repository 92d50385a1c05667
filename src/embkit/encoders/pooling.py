"""How a model's token vectors become one vector: the pooling a sentence-transformers
folder states in its Pooling module's config.json (`1_Pooling/config.json`).

Three modes cover the models people use: mean (MiniLM, E5, GTE), the first token's
vector (CLS: BGE, Arctic) and the last real token's (decoder embedders: Qwen3, E5-Mistral).
Anything else is refused by name rather than silently pooled another way, which would
give vectors that look fine and rank wrongly.
"""

import json
from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from .base import mean_pool

MODES = ("mean", "cls", "lasttoken")
# sentence-transformers' older boolean keys, in its order, and the mode each one turns on
_LEGACY_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


def pooling_config_path(folder: Path) -> Path | None:
    """The Pooling module's config.json that `modules.json` names (or `1_Pooling/`), if any."""
    modules = folder / "modules.json"
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text())
        except ValueError as e:
            raise EmbkitError(f"model: {modules} is not valid JSON ({e})") from None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and str(entry.get("type", "")).endswith(".Pooling"):
                path = folder / str(entry.get("path", "")) / "config.json"
                return path if path.is_file() else None
    path = folder / "1_Pooling" / "config.json"
    return path if path.is_file() else None


def read_pooling(folder: Path) -> str:
    """The folder's pooling mode (one of MODES); "mean" when the folder states none, as
    sentence-transformers assumes for an encoder. A mode embkit cannot reproduce, several
    modes at once or pooling that leaves out the prompt's tokens is an error naming it."""
    path = pooling_config_path(folder)
    if path is None:
        return "mean"
    try:
        config = json.loads(path.read_text())
    except ValueError as e:
        raise EmbkitError(f"model: {path} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise EmbkitError(f"model: {path} must hold a JSON object")
    modes = config.get("pooling_mode")
    if modes is None:
        modes = [mode for key, mode in _LEGACY_KEYS.items() if config.get(key)] or ["mean"]
    if isinstance(modes, str):
        modes = [modes]
    if not isinstance(modes, list) or not modes or not all(isinstance(m, str) for m in modes):
        raise EmbkitError(f"model: {path} pooling_mode must be a mode name or a list of them, got {modes!r}")
    if len(modes) != 1:
        raise EmbkitError(f"model: {path} pooling_mode {modes!r} concatenates several poolings; "
                          f"embkit supports one of: {', '.join(MODES)}")
    if modes[0] not in MODES:
        raise EmbkitError(f"model: {path} pooling_mode {modes[0]!r} is not supported "
                          f"(supported: {', '.join(MODES)})")
    if config.get("include_prompt", True) is False:
        raise EmbkitError(f"model: {path} include_prompt false (pooling without the prompt's tokens) "
                          "is not supported")
    return modes[0]


def pool_tokens(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """One vector per row of `hidden` ([batch, tokens, dim]); `mask` marks real tokens,
    padding on the right (as OnnxEncoder pads)."""
    if mode == "mean":
        return mean_pool(hidden, mask)
    if mode == "cls":
        return np.ascontiguousarray(hidden[:, 0])
    if mode == "lasttoken":
        last = np.maximum(mask.sum(axis=1).astype(np.int64) - 1, 0)
        return np.ascontiguousarray(hidden[np.arange(len(hidden)), last])
    raise EmbkitError(f"pooling: unknown mode {mode!r} (supported: {', '.join(MODES)})")
