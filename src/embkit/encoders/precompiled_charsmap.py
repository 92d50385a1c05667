"""Build a SentencePiece `precompiled_charsmap` (what `tokenizers`' Precompiled normalizer
reads) from a plain {codepoint: replacement} map.

The format is a u32 byte length, a darts-clone double-array trie over the UTF-8 bytes
of each source, then the NUL-terminated replacements the trie's values point into.
A trie unit packs: label (bits 0-7, bit 31 marks a value unit), has-leaf (bit 8), and
the XOR offset to the node's children block (bits 10-31, bit 9 = shifted by 8).
A node at p with offset o keeps its child labelled c at p ^ o ^ c and, when a key ends
there, its value unit at p ^ o. Each node gets its own base p ^ o, so a label found at
a slot can only belong to the node that put it there.
"""

import struct
from collections import deque

import numpy as np

_VALUE_BIT = 1 << 31
_LEAF_BIT = 1 << 8
_MAX_OFFSET = 1 << 21  # larger offsets need the shifted form; our tries stay far below


def _trie(keys: dict[bytes, int]) -> dict:
    """Nested dicts of byte -> child; the key's value sits under label None."""
    root: dict = {}
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    return root


class _Layout:
    """Places trie nodes into the double array, one free base per node."""

    def __init__(self):
        self.units = np.zeros(1024, dtype=np.uint32)
        self.used = np.zeros(1024, dtype=bool)
        self.used[0] = True  # the root
        self.base_taken = np.zeros(1024, dtype=bool)
        self.first_free = 1

    def _grow(self, size: int) -> None:
        if size > len(self.used):
            extra = max(size, 2 * len(self.used)) - len(self.used)
            self.units = np.concatenate([self.units, np.zeros(extra, np.uint32)])
            self.used = np.concatenate([self.used, np.zeros(extra, bool)])
            self.base_taken = np.concatenate([self.base_taken, np.zeros(extra, bool)])

    def base_for(self, labels: list[int]) -> int:
        """The lowest untaken base at or after the first free slot's block whose slots
        for `labels` are all free (XOR with a label stays inside a 256-slot block)."""
        while self.used[self.first_free]:
            self.first_free += 1
            self._grow(self.first_free + 1)
        low = self.first_free & ~0xFF
        while True:
            high = low + 4096
            self._grow(high)
            bases = np.arange(low, high)
            fits = ~self.base_taken[low:high]
            for label in labels:
                fits &= ~self.used[bases ^ label]
            if fits.any():
                return int(bases[np.argmax(fits)])
            low = high

    def place(self, position: int, node: dict) -> list[tuple[int, dict]]:
        """Lay out `node`'s children (and its value) below the node at `position`."""
        labels = sorted(0 if label is None else label for label in node)
        base = self.base_for(labels)
        offset = position ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("precompiled charsmap: trie too large")
        self.base_taken[base] = True
        self.units[position] |= offset << 10 | (_LEAF_BIT if None in node else 0)
        placed = []
        for label, child in node.items():
            slot = base ^ (0 if label is None else label)
            self.used[slot] = True
            if label is None:
                self.units[slot] = child | _VALUE_BIT
            else:
                self.units[slot] = label
                placed.append((slot, child))
        return placed

    def array(self) -> np.ndarray:
        """The units up to the last used slot's block (every child block lies inside)."""
        last = int(np.flatnonzero(self.used)[-1])
        return self.units[: (last | 0xFF) + 1]


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """The charsmap that replaces each codepoint of `mapping` by its text ("" deletes it)."""
    pool, offsets = bytearray(), {}
    keys = {}
    for codepoint, replacement in sorted(mapping.items()):
        if replacement not in offsets:
            offsets[replacement] = len(pool)
            pool += replacement.encode("utf-8") + b"\0"
        keys[chr(codepoint).encode("utf-8")] = offsets[replacement]
    layout = _Layout()
    pending = deque([(0, _trie(keys))])
    while pending:
        position, node = pending.popleft()
        pending.extend(layout.place(position, node))
    trie = layout.array().astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(pool)
