"""Ingest: read files and folders into batches of documents, and cut long documents
into chunks that fit the encoder (counted in its own tokens)."""

from ..encoders.tokenizer_files import encoder_tokenizer, model_max_tokens, reads_whole_texts
from .batch import Batch, UnreadableFile
from .chunk import ChunkRecord, Span, check_chunking, chunk_records, chunk_text
from .folder import Skipped, read_paths, walk
from .readers import FORMATS, read_source

__all__ = ["FORMATS", "Batch", "UnreadableFile", "read_source", "read_paths", "walk", "Skipped",
           "Span", "ChunkRecord", "chunk_text", "chunk_records", "check_chunking", "encoder_tokenizer",
           "reads_whole_texts", "model_max_tokens"]
