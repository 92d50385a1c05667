"""Parquet rows as records (pyarrow): a text column, an optional id column, and every
other scalar column as metadata. Errors name file:row (1-based), like jsonl's file:line."""

import datetime
import decimal
import math
from pathlib import Path

from ..errors import EmbkitError
from .batch import Batch, UnreadableFile, check_id, check_text

ROWS_PER_READ = 4096  # read in record batches so a big file is not held twice in memory


def _scalar(field_type) -> bool:
    """Types that fit in JSON metadata; lists, structs, maps and binary are left out."""
    import pyarrow as pa

    t = pa.types
    return any(check(field_type) for check in (t.is_integer, t.is_floating, t.is_boolean, t.is_string,
                                               t.is_large_string, t.is_timestamp, t.is_date, t.is_time,
                                               t.is_decimal, t.is_dictionary))


def _json_value(value):
    """A Python value from pyarrow as JSON metadata: dates as ISO text, NaN as absent."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def read_parquet(path: Path, source: str, text_column: str = "text", id_column: str = "id") -> Batch:
    """Each row a record: `text_column` the text, `id_column` (if present) the id,
    other scalar columns metadata (nulls and NaN left out)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as e:
        raise UnreadableFile(f"{source}: not a readable parquet file ({e})") from None
    names = schema.names
    if text_column not in names:
        raise EmbkitError(f"{source}:1: no column {text_column!r} (columns: {', '.join(names) or 'none'}); "
                          "choose one with --text-column")
    meta_columns = [n for n in names if n not in (text_column, id_column) and _scalar(schema.field(n).type)]
    columns = [text_column, *([id_column] if id_column in names else []), *meta_columns]
    batch, number = Batch(source), 0
    try:
        for record_batch in parquet.iter_batches(batch_size=ROWS_PER_READ, columns=columns):
            for row in record_batch.to_pylist():
                number += 1
                text = row.pop(text_column)
                check_text(text, source, number, text_column)
                doc_id = check_id(row.pop(id_column, None), source, number, id_column)
                metadata = {k: v for k, v in ((k, _json_value(v)) for k, v in row.items()) if v is not None}
                batch.append(doc_id, text, metadata, number)
    except (pa.ArrowException, OSError) as e:
        raise UnreadableFile(f"{source}: not a readable parquet file ({e})") from None
    return batch
