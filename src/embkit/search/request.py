"""One search, every option in one place: the CLI's options, the HTTP body and the
Python keywords all map onto a `SearchRequest` with the same names, and it is checked
once (`check`), here, before anything runs."""

import math
import warnings
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .. import validate
from ..encoders import CATALOG
from ..errors import EmbkitError
from ..ingest.vectors import MAX_LENGTH, UNIT
from ..store import Space
from ..store.where import compile_where
from .fusion import check_alpha, check_rrf_k
from .matryoshka import check_dims
from .mmr import check_mmr
from .rerank import check_rerank

MODES = ("dense", "keyword", "hybrid")
MAX_RESCORE = 100
MAX_SEARCH_PARAM = 32768  # ef / nprobe: the largest beam an index spec accepts
RENAMED = {"by_document": "documents"}  # old name -> new name, accepted for one release


@dataclass(frozen=True)
class SearchRequest:
    """A search: exactly one of `query` (text), `vector`, `like` (a stored document's
    id: more like it), `image` or `audio` (a clip: a path, a file's bytes or mono
    samples at the model's rate); then how (`mode`, fusion by `rrf_k` or `alpha`,
    `rerank` with `reranker`, `mmr`, `documents`: the best chunk per document), where
    (`where`, `space`, `dims`), and index knobs for this call (`ef`, `nprobe`, `rescore`).
    `model` names the model a given `vector` came from (checked against the space's)."""

    query: str | None = None
    vector: Any = None
    like: str | None = None
    image: Any = None
    audio: Any = None
    k: int = 10
    where: dict | None = None
    mode: str = "dense"
    rrf_k: int | None = None
    alpha: float | None = None
    mmr: float | None = None
    rerank: int | None = None
    reranker: str | None = None
    documents: bool = False
    ef: int | None = None
    nprobe: int | None = None
    rescore: int | None = None
    dims: int | None = None
    space: str | None = None
    model: str | None = None

    @classmethod
    def of(cls, query: str | None = None, **options) -> "SearchRequest":
        """A request from keywords; an old option name warns (DeprecationWarning) and
        maps to its new one."""
        if not options.keys() - _FIELDS and "query" not in options:  # no old or unknown names: as given
            return _made({**_DEFAULTS, "query": query, **options})
        options, notes = renamed(options)
        for note in notes:
            warnings.warn(note, DeprecationWarning, stacklevel=3)
        return cls(query, **options)

    @staticmethod
    def plain_of(options: dict, space: Space) -> "SearchRequest":
        """`SearchRequest.of(**options).check(space)` for keywords that name a vector and at
        most k and the index knobs (`plain_options`): the call most searches make, made and
        checked in one step, with the same errors."""
        return _made({**_DEFAULTS, **options, **_plain_checked(options, space)})

    @staticmethod
    def plain_options(query, options: dict) -> bool:
        """True when `SearchRequest.of(query, **options)` is a plain request that
        `plain_of` can make: a vector, and nothing else but k, ef, nprobe and rescore."""
        return query is None and options.keys() <= _PLAIN_OPTIONS and options.get("vector") is not None

    def check(self, space: Space) -> "SearchRequest":
        """This request with its values checked against `space` (dims, vector length,
        model) and normalized; EmbkitError names the first field that is wrong."""
        if (self.query is not None) + (self.vector is not None) + (self.like is not None) \
                + (self.image is not None) + (self.audio is not None) != 1:
            raise EmbkitError("query: give exactly one of a query text, image=, audio=, vector= or like=")
        if self.mode not in MODES:
            raise EmbkitError(f"mode: must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.image is not None and self.mode != "dense":
            raise EmbkitError(f"mode: an image query searches by meaning only (mode 'dense'), not {self.mode!r}")
        if self.audio is not None and self.mode != "dense":
            raise EmbkitError(f"mode: an audio query searches by meaning only (mode 'dense'), not {self.mode!r}")
        if self.mode != "dense" and self.query is None:
            raise EmbkitError(f"mode: {self.mode} search needs a query text (vector= and like= are dense only)")
        if self.rrf_k is not None and self.alpha is not None:
            raise EmbkitError("alpha: give rrf_k (reciprocal rank fusion) or alpha (weighted scores), not both")
        if self.model is not None and self.model != space.model:
            other = CATALOG[self.model].dim if self.model in CATALOG else "?"
            raise EmbkitError(f"model: space {space.name!r} holds vectors from {space.model!r} ({space.dim}-d); "
                              f"got {self.model!r} ({other}-d)")
        if self.plain():  # the common call: only the vector, k and the index knobs to check
            return _made({**self.__dict__, **_plain_checked(self.__dict__, space)})
        # the constructor with every field, not dataclasses.replace: a search is checked each time
        return SearchRequest(query=None if self.query is None else validate.check_query(self.query),
                             vector=None if self.vector is None else
                             validate.check_vectors(self.vector, 1, space.dim, space.model, "vector"),
                             like=None if self.like is None else _like_id(self.like),
                             image=self.image, audio=self.audio, k=validate.check_k(self.k),
                             where=None if self.where is None else _where(self.where), mode=self.mode,
                             rrf_k=None if self.rrf_k is None else check_rrf_k(self.rrf_k),
                             alpha=None if self.alpha is None else check_alpha(self.alpha),
                             mmr=None if self.mmr is None else check_mmr(self.mmr),
                             rerank=None if self.rerank is None else self._rerank(), reranker=self.reranker,
                             documents=_flag(self.documents, "documents"),
                             ef=None if self.ef is None else _count(self.ef, "ef", MAX_SEARCH_PARAM),
                             nprobe=None if self.nprobe is None else _count(self.nprobe, "nprobe", MAX_SEARCH_PARAM),
                             rescore=None if self.rescore is None else _count(self.rescore, "rescore", MAX_RESCORE),
                             dims=None if self.dims is None else check_dims(self.dims, space),
                             space=self.space, model=self.model)

    def plain(self) -> bool:
        """True for a search by vector whose other options are their defaults, `k`, the
        index knobs (ef, nprobe, rescore), `space` or `model` (`reranker` does nothing
        without `rerank`): search/plain.py answers it without the pipeline's stages."""
        values = self.__dict__  # `is`: documents=0 or a filter {} is not the default (written out: every search asks)
        return (values["vector"] is not None and values["mode"] == "dense" and values["query"] is None
                and values["like"] is None and values["image"] is None and values["audio"] is None
                and values["where"] is None and values["rrf_k"] is None and values["alpha"] is None
                and values["mmr"] is None and values["rerank"] is None and values["documents"] is False
                and values["dims"] is None)

    def _rerank(self) -> int | None:
        if self.rerank is None:
            return None
        rerank = check_rerank(self.rerank)
        if self.query is None:
            raise EmbkitError("rerank: reranking needs a query text")
        if not self.reranker:
            raise EmbkitError("reranker: rerank=N needs a cross-encoder folder (reranker=PATH); "
                              "train one with `embkit train reranker`")
        return rerank

    def index_params(self) -> dict:
        """The index knobs given for this call (ef, nprobe)."""
        ef, nprobe = self.ef, self.nprobe  # written out: every search asks
        if nprobe is None:
            return {} if ef is None else {"ef": ef}
        return {"nprobe": nprobe} if ef is None else {"ef": ef, "nprobe": nprobe}


OPTIONS = tuple(f.name for f in fields(SearchRequest))
_FIELDS = frozenset(OPTIONS)
_DEFAULTS = {f.name: f.default for f in fields(SearchRequest)}
_FLOAT32 = np.dtype(np.float32)


_PLAIN_OPTIONS = frozenset(("vector", "k", "ef", "nprobe", "rescore"))
# not a field: set by a plain request's check to the (cosine) space its vector already has
# the stored form of (`stored_form` would return it as it is), else None; the plain search
# reads it (plain.py) rather than compute the norm twice; dataclass equality ignores it
STORED_IN = "_stored_in"


def _plain_checked(values: dict, space: Space) -> dict:
    """A plain request's vector, k and index knobs from `values` (fields; a missing one
    is its default), checked in the order `check` checks them."""
    get = values.get
    vector, stored = _query_vector(values["vector"], space)
    return {"vector": vector, STORED_IN: space if stored else None, "k": validate.check_k(get("k", _DEFAULTS["k"])),
            "ef": _count(get("ef"), "ef", MAX_SEARCH_PARAM),
            "nprobe": _count(get("nprobe"), "nprobe", MAX_SEARCH_PARAM),
            "rescore": _count(get("rescore"), "rescore", MAX_RESCORE)}


def _made(values: dict) -> SearchRequest:
    """A SearchRequest holding `values` (every field, names known to be fields): without
    the frozen dataclass constructor's one object.__setattr__ per field (~7 us a search)."""
    req = object.__new__(SearchRequest)
    req.__dict__.update(values)
    return req


def _query_vector(vector, space: Space) -> tuple[np.ndarray, bool]:
    """`validate.check_vectors(vector, 1, ...)` for the form most searches give, a float32
    row of the space's width, in a few calls: its values are finite when their sum of
    squares is (a NaN or an infinity carries into it). Anything else, a finite row whose
    squares pass float32's range included, goes the long way, which names what is wrong
    (that overflow is expected here, so it raises no RuntimeWarning: under -W error it did).
    With it, whether the row is already as its space stores it (cosine: of unit length;
    l2, dot: no longer than MAX_LENGTH): the sum is `stored_form`'s own, on the same row,
    so its tests decide the same; the search then need not compute it again (`STORED_IN`)."""
    if type(vector) is np.ndarray and vector.dtype is _FLOAT32 and vector.shape == (space.dim,):
        row = vector[None, :]
        with np.errstate(over="ignore", invalid="ignore"):
            norm = np.sqrt(np.add.reduce(row * row, axis=1))[0]  # stored_form's expression
        if math.isfinite(norm):  # a float32 overflow (inf) goes the long way: stored_form measures it in float64
            return row, (vector.flags.c_contiguous and (abs(norm - 1) <= UNIT if space.metric == "cosine"
                                                        else norm <= MAX_LENGTH))
    return validate.check_vectors(vector, 1, space.dim, space.model, "vector"), False


def renamed(options: dict) -> tuple[dict, list[str]]:
    """`options` with old names (see RENAMED) moved to their new ones, and a note for
    each old name used; both names at once is an error."""
    options, notes = dict(options), []
    for old, new in RENAMED.items():
        if old not in options:
            continue
        value = options.pop(old)
        if new in options and options[new] != value:
            raise EmbkitError(f"{old}: renamed {new}; give {new} only")
        options[new] = value
        notes.append(f"{old}: deprecated, use {new} (the old name goes in the next release)")
    return options, notes


def _where(where) -> dict:
    """A filter valid for every backend: bounded and valid Unicode, and operators and
    operands the compiler accepts (compiled here once to find out; the store compiles
    it again for its own SQL dialect when it runs)."""
    compile_where(validate.check_where(where))
    return where


def _like_id(like) -> str:
    if not isinstance(like, str):
        raise EmbkitError(f"like: expected a document id (a string), got {type(like).__name__}")
    return validate.check_unicode(like, "like")


def _flag(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise EmbkitError(f"{field}: expected true or false, got {value!r}")
    return value


def _count(value, field: str, limit: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise EmbkitError(f"{field}: must be an integer from 1 to {limit}, got {value!r}")
    return value
