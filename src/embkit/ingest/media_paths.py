"""Which of the files and folders given to `add` are images, which are sounds, and which
go to the text readers: images and sounds each have their own vector space and path."""

from pathlib import Path
from typing import Sequence

from .audio_files import is_audio_path
from .folder import walk
from .image_files import is_image_path


def is_media_path(path: str | Path) -> bool:
    return is_image_path(path) or is_audio_path(path)


def split_media(paths: Sequence[str], include: Sequence[str] = (),
                exclude: Sequence[str] = ()) -> tuple[list[str], list[str], list[str]]:
    """(image files, audio files, everything else) among files and folders as given: a
    folder's images and sounds (those the patterns choose) come out one by one; the
    folder stays behind, under its own name, only if it holds other files."""
    images, sounds, others = [], [], []
    for arg in paths:
        if arg != "-" and Path(arg).is_dir():
            files = walk(arg, include, exclude)
            images += [str(f) for f in files if is_image_path(f)]
            sounds += [str(f) for f in files if is_audio_path(f)]
            if not all(is_media_path(f) for f in files):
                others.append(arg)
        elif is_image_path(arg):
            images.append(arg)
        elif is_audio_path(arg):
            sounds.append(arg)
        else:
            others.append(arg)
    return images, sounds, others


def walk_others(paths: Sequence[str], include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[str]:
    """Files as named and the files inside folders (those the patterns choose) that are
    neither images nor sounds."""
    found = []
    for arg in paths:
        if arg != "-" and Path(arg).is_dir():
            found += [str(f) for f in walk(arg, include, exclude) if not is_media_path(f)]
        else:
            found.append(arg)
    return found
