"""A sound file's waveform as a small SVG picture for result pages: the loudest and
quietest sample of each of COLUMNS slices of the file (its channels averaged), drawn as
one filled outline. The file is read a block at a time, so a long one never sits whole
in memory. The picture holds only numbers this module writes (no text from the file)."""

from pathlib import Path

import numpy as np

from ..errors import EmbkitError

COLUMNS = 240
HEIGHT = 48  # in the picture's own units; the page scales it
BLOCK_FRAMES = 1 << 18


def waveform_svg(path: str | Path) -> bytes:
    """The SVG of `path`'s waveform; EmbkitError when the file does not decode."""
    lows, highs = _envelope(path)
    peak = max(float(np.abs(lows).max()), float(np.abs(highs).max()), 1e-9)
    mid = HEIGHT / 2
    top = [f"{x},{mid - highs[x] / peak * mid:.1f}" for x in range(COLUMNS)]
    bottom = [f"{x},{mid - lows[x] / peak * mid:.1f}" for x in reversed(range(COLUMNS))]
    outline = " ".join(top + bottom)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {COLUMNS} {HEIGHT}" width="{COLUMNS}" '
            f'height="{HEIGHT}" preserveAspectRatio="none"><rect width="{COLUMNS}" height="{HEIGHT}" fill="#f4f6f8"/>'
            f'<line x1="0" y1="{mid}" x2="{COLUMNS}" y2="{mid}" stroke="#c3ccd6" stroke-width="0.5"/>'
            f'<polygon points="{outline}" fill="#3d6fb4" stroke="#3d6fb4" stroke-width="0.6"/></svg>').encode()


def _envelope(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) mono sample per column, 0 where a column got no sample."""
    import soundfile as sf

    lows, highs = np.zeros(COLUMNS, np.float32), np.zeros(COLUMNS, np.float32)
    try:
        with sf.SoundFile(str(path)) as f:
            frames, seen = max(int(f.frames), 1), 0
            while len(block := f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)):
                mono = block.mean(axis=1)
                columns = np.minimum((seen + np.arange(len(mono))) * COLUMNS // frames, COLUMNS - 1)
                np.minimum.at(lows, columns, mono)
                np.maximum.at(highs, columns, mono)
                seen += len(mono)
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as e:
        raise EmbkitError(f"audio: {path} is not a readable audio file ({e})") from None
    if not seen or not (np.isfinite(lows).all() and np.isfinite(highs).all()):
        raise EmbkitError(f"audio: {path} holds no samples to draw")
    return lows, highs
