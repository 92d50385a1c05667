"""A query clip is refused by the samples its header declares, not by its length alone:
a few hundred KB of FLAC silence at a very high rate in 8 channels lasts under a minute
yet decoded to hundreds of MB per search (a small HTTP body costing a server that much).
Refused in one line naming `audio` and the limit; a clip at the limit still searches."""

import io

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.search.query_audio import MAX_QUERY_SAMPLES  # noqa: E402

from clap_maker import make_tiny_clap  # noqa: E402


def _flac_silence(rate: int, channels: int, seconds: int) -> bytes:
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16") as f:
        for _ in range(seconds):
            f.write(np.zeros((rate, channels), np.int16))
    return buf.getvalue()


def test_a_clip_of_too_many_samples_is_refused_before_decoding(tmp_path):
    clap = make_tiny_clap(tmp_path / "tiny-clap")
    with embkit.create(tmp_path / "sounds", model=f"{clap}#audio") as col:
        col.add_audio([_write(tmp_path / "tone.wav")])
        heavy = _flac_silence(192_000, 8, 4)  # 6,144,000 samples in 4 s
        assert len(heavy) < 100_000
        with pytest.raises(EmbkitError) as refused:
            col.search(audio=heavy, k=1)
        assert str(refused.value) == (f"audio: the query clip holds 6,144,000 samples (frames x channels), more "
                                      f"than the limit of {MAX_QUERY_SAMPLES:,} (a minute of 48 kHz stereo; "
                                      "resample or downmix it)")
        with pytest.raises(EmbkitError, match="^audio: the query clip holds 6,144,000 samples"):
            col.search(audio=np.zeros((768_000, 8), np.float32), k=1)  # samples given as an array
        at_limit = _flac_silence(48_000, 2, 60)
        assert [h.id for h in col.search(audio=at_limit, k=1)] == [str(tmp_path / "tone.wav")]


def _write(path) -> str:
    sf.write(path, np.sin(np.arange(16000) / 5).astype(np.float32), 16000)
    return str(path)
