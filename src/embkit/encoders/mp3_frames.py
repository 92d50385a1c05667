"""How many samples an MP3 (MPEG audio layer III) holds by its frames, counted from the
frame headers. libsndfile stops decoding at the length the file's first frame states (a
Xing/LAME header) or, without one, guesses from the first frame's size: a VBR file
without that header, or two files joined, decode only in part and say nothing. The
count lets audio_decode refuse such a file instead of keeping its beginning silently."""

MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
MPEG1_RATES = (44100, 48000, 32000)
SLACK_FRAMES = 4  # a header frame and the encoder's delay and padding are not samples


def _id3_end(data) -> int:
    """Where the audio starts: after an ID3v2 tag, if the file begins with one."""
    if len(data) >= 10 and bytes(data[:3]) == b"ID3":
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        return 10 + size + (10 if data[5] & 0x10 else 0)
    return 0


def layer3_samples(data) -> int:
    """Samples (per channel) of the consecutive layer III frames from the start of the
    audio (bytes or an mmap), up to the first place that is not a frame header."""
    at, total = _id3_end(data), 0
    while at + 4 <= len(data):
        header = int.from_bytes(data[at:at + 4], "big")
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        kbps_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
        if header >> 21 != 0x7FF or version == 1 or layer != 1 or kbps_index in (0, 15) or rate_index == 3:
            break
        mpeg1 = version == 3
        kbps = (MPEG1_KBPS if mpeg1 else MPEG2_KBPS)[kbps_index]
        rate = MPEG1_RATES[rate_index] >> (0 if mpeg1 else 1 if version == 2 else 2)
        samples = 1152 if mpeg1 else 576
        at += samples // 8 * kbps * 1000 // rate + ((header >> 9) & 1)
        total += samples
    return total


def shortfall(data, decoded: int) -> int:
    """Samples the frames hold beyond the `decoded` ones (0 when they fit, within a
    header frame's and the encoder's delay and padding)."""
    missing = layer3_samples(data) - decoded
    return missing if missing > SLACK_FRAMES * 1152 else 0
