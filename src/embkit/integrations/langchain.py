"""embkit for LangChain (the extra `embkit[langchain]`):

    from embkit.integrations.langchain import EmbkitEmbeddings, EmbkitVectorStore

    store = EmbkitVectorStore("notes", EmbkitEmbeddings("minilm"))   # a collection folder
    store.add_texts(["the cat sat on the mat"], [{"kind": "demo"}], ids=["a"])
    store.as_retriever(search_kwargs={"k": 3, "filter": {"kind": "demo"}}).invoke("where did the cat sit?")

`EmbkitVectorStore(url="http://host:8000", collection="notes", api_key=KEY)` is the same
store on a remote `embkit serve`."""

from .langchain_embeddings import EmbkitEmbeddings
from .langchain_store import EmbkitVectorStore

__all__ = ["EmbkitEmbeddings", "EmbkitVectorStore"]
