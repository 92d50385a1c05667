"""An IVF-flat index's float32 vectors kept out of its file: the store already holds them.

FAISS's IndexIVFFlat keeps every vector (and its label) in the inverted list of its
nearest centroid. Saved for a store, the file holds the quantizer and empty lists, and
`lists-G.npy` the layout: each list's size, then every list's labels in list order
(8 bytes a vector, against 4 a dimension). On load the lists are filled again from
the store in that order. Dead entries are never scored (the live selector skips them
before any distance), and neither are live entries whose rows changed after the save
(catching up hides them at once): their vectors are left zero.
"""

import faiss
import numpy as np

from .stored_vectors import fill_by_label


def write_without_lists(index, path) -> None:
    """Write the IVF index with empty inverted lists (`index`: an IvfIndex)."""
    ivf = index._faiss
    lists, owned = ivf.invlists, ivf.own_invlists
    empty = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
    ivf.own_invlists = False  # swapping lists must not free the real ones
    ivf.replace_invlists(empty, False)
    try:
        index.write_faiss(path, buffered=True)
    finally:
        ivf.replace_invlists(lists, owned)


def layout(index) -> np.ndarray:
    """int64: the size of each of the nlist lists, then every list's labels in order."""
    lists = index._faiss.invlists
    sizes = np.array([lists.list_size(i) for i in range(lists.nlist)], dtype=np.int64)
    labels = [faiss.rev_swig_ptr(lists.get_ids(i), int(size)).astype(np.int64)
              for i, size in enumerate(sizes) if size]
    return np.concatenate([sizes, *labels])


def refill(index, lists: np.ndarray, store, space: str, generation: int) -> int:
    """Fill the empty lists of an IVF index read without them, from `store`'s vectors
    of `space`, in the saved `lists` layout. Returns how many live entries got zeros
    (rows changed or gone since `generation`). ValueError if the layout does not fit."""
    ivf, n, dim = index._faiss, len(index.rowids), index.dim
    sizes, labels = lists[:ivf.nlist], lists[ivf.nlist:]
    if len(sizes) != ivf.nlist or (sizes < 0).any() or int(sizes.sum()) != n or len(labels) != n \
            or not np.array_equal(np.sort(labels), np.arange(n)):
        raise ValueError(f"lists: not a layout of {n} entries in {ivf.nlist} lists")
    position = np.empty(n, np.int64)
    position[labels] = np.arange(n)  # label -> its row in list order
    matrix = np.zeros((n, dim), np.float32)
    filled = fill_by_label(matrix, index, store, space, generation, position)
    filled_lists = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
    start = 0
    for i, size in enumerate(sizes.tolist()):
        if size:
            ids, codes = np.ascontiguousarray(labels[start:start + size]), matrix[start:start + size].view(np.uint8)
            filled_lists.add_entries(i, size, faiss.swig_ptr(ids), faiss.swig_ptr(codes))
        start += size
    ivf.replace_invlists(filled_lists, True)
    filled_lists.this.disown()  # the IVF index owns its lists from now on
    return int((index.live & ~filled).sum())
