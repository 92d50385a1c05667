"""Audio documents (see audio_documents.py): adding sound files to the audio space."""

from typing import Sequence

from ..encoders.base import Progress
from ..errors import EmbkitError
from .spaces import AUDIO_SPACE


class AudioVerbs:
    """add_audio."""

    def add_audio(
        self,
        paths: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[dict] | None = None,
        upsert: bool = False,
        batch_size: int = 16,
        progress: Progress | None = None,
        space: str = AUDIO_SPACE,
    ):
        """Embed audio files (wav, flac, ogg, mp3) into the audio space in one
        transaction, one document each (ids default to the paths), with metadata path,
        bytes, duration_s, sample_rate, channels, format, start and end. A clip longer
        than the model's window is stored as overlapping windows, the document's chunks
        `ID#i`. A file that does not decode whole (corrupt, empty, truncated, not audio)
        is skipped: returns (document ids written, [Skipped(path, reason)]);
        `progress(1)` hears of each file."""
        from ..audio_documents import add_audio

        if space not in self.spaces:
            raise EmbkitError(
                f"space: the collection has no {space!r} space; add one with add_space({space!r}, "
                "'FOLDER#audio') or create the collection with model='FOLDER#audio'"
            )
        target = self.in_space(space)
        return add_audio(
            target,
            paths,
            audio_encoder=lambda: target._encoder_for("audio", "audio"),
            refuse_existing=target._store.refuse_existing,
            ids=ids,
            metadatas=metadatas,
            upsert=upsert,
            batch_size=batch_size,
            progress=progress,
        )
