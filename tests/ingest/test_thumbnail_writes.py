"""Cached pictures (image thumbnails, audio waveforms) written by save_thumbnail while
other requests write the same one: every writer succeeds and the file is whole. Each
writer once shared the temp name `NAME.tmp`, so a rename found it gone (a 500 on the
/thumbnails and /waveforms routes when two requests drew one picture at once)."""

import threading

from embkit.ingest.image_files import save_thumbnail

WRITERS, ROUNDS = 8, 100


def test_writers_of_one_picture_at_once_all_succeed(tmp_path):
    dest = tmp_path / "waveforms" / "picture.svg"
    start, failures = threading.Barrier(WRITERS), []

    def write(n: int) -> None:
        start.wait()
        for _ in range(ROUNDS):
            try:
                save_thumbnail(bytes([n]) * 100_000, dest)
            except OSError as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    data = dest.read_bytes()
    assert len(data) == 100_000 and len(set(data)) == 1  # one writer's whole picture
    assert [p.name for p in dest.parent.iterdir()] == ["picture.svg"]  # no temp file left
