"""The Collection class: one handle over a store, made of small parts that each hand
their work to the layer below (ingest/, search/, analysis/, index/, maintenance/)."""

from .analysis_verbs import AnalysisVerbs
from .audio_media_verbs import AudioMediaVerbs
from .audio_verbs import AudioVerbs
from .core import CollectionCore
from .documents import DocumentVerbs
from .image_verbs import ImageVerbs
from .searching import SearchVerbs
from .upkeep import UpkeepVerbs
from .vectors import VectorVerbs


class Collection(
    DocumentVerbs,
    SearchVerbs,
    VectorVerbs,
    AnalysisVerbs,
    UpkeepVerbs,
    ImageVerbs,
    AudioVerbs,
    AudioMediaVerbs,
    CollectionCore,
):
    """Documents with metadata and vectors, searchable by meaning."""
