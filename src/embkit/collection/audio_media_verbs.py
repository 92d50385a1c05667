"""What result pages show of audio documents (see audio_media.py): the file to play and
a waveform picture."""

from pathlib import Path
from typing import Sequence


class AudioMediaVerbs:
    """audio_file, waveform."""

    def audio_file(self, doc_id: str, roots: Sequence[str | Path] | None = None) -> tuple[Path, str] | None:
        """(path, media type) of the file an audio document or one of its windows came
        from; None for a record that is not audio or whose file is gone. Given `roots`
        (as a server does), only a file under one of them."""
        from ..audio_media import audio_source, media_type

        source = audio_source(self, doc_id, roots)
        return None if source is None else (source, media_type(source))

    def waveform(self, doc_id: str, roots: Sequence[str | Path] | None = None) -> bytes | None:
        """The SVG waveform of an audio document's file (cached in the collection's folder
        where it can be written), drawn on first use; None for a record that is not audio
        or whose file is gone or unreadable."""
        from ..audio_media import waveform

        return waveform(self, doc_id, roots)
