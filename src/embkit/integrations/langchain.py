"""embkit for LangChain (the extra `embkit[langchain]`):

    from embkit.integrations.langchain import EmbkitEmbeddings, EmbkitVectorStore

    store = EmbkitVectorStore("notes", EmbkitEmbeddings("minilm"))   # a collection folder
    store.add_texts(["the cat sat on the mat"], [{"kind": "demo"}], ids=["a"])
    store.as_retriever(search_kwargs={"k": 3, "filter": {"kind": "demo"}}).invoke("where did the cat sit?")

`EmbkitVectorStore(url="http://host:8000", collection="notes", api_key=KEY)` is the same
store on a remote `embkit serve`."""

try:
    import langchain_core  # noqa: F401 - the extra's one requirement, named when missing
except ImportError as e:
    raise ImportError("embkit.integrations.langchain needs LangChain: pip install 'embkit[langchain]'") from e

from .langchain_embeddings import EmbkitEmbeddings  # noqa: E402
from .langchain_store import EmbkitVectorStore  # noqa: E402

__all__ = ["EmbkitEmbeddings", "EmbkitVectorStore"]
