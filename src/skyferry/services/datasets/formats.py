"""Download formats: the SQL each needs, and an encoder that turns Arrow batches into bytes.

Every encoder writes incrementally: ``begin`` (a CSV header, ``[``, Parquet's magic), one
``encode`` per batch, ``end`` (a Parquet footer, ``]``), and holds nothing between calls but
what its writer needs, so memory stays flat however long the download.

CSV and Parquet come from pyarrow's writers. JSON comes from DuckDB's ``to_json``, one text per
row, which already is the encoded line: the encoder only copies the batch's string buffer out.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, ClassVar, Protocol

from skyferry.services.datasets.columns import family, quote
from skyferry.services.datasets.models import Column

if TYPE_CHECKING:
    import pyarrow as pa


class Encoder(Protocol):
    def begin(self) -> bytes: ...

    def encode(self, batch: pa.RecordBatch) -> bytes: ...

    def end(self) -> bytes: ...


class Format(Protocol):
    extension: ClassVar[str]
    media_type: ClassVar[str]

    def expression(self, column: Column) -> str:
        """How the select list names ``column``, aliased to its name."""
        ...

    def wrap(self, inner: str) -> str:
        """The statement to run around the filtered, projected, paged ``inner`` select."""
        ...

    def encoder(self, schema: pa.Schema) -> Encoder: ...


class _Sink(io.RawIOBase):
    """A file pyarrow's writers write into, emptied by ``drain`` after every batch."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class Csv:
    """RFC 4180 CSV with a header row; a null is an empty field."""

    extension: ClassVar[str] = "csv"
    media_type: ClassVar[str] = "text/csv; charset=utf-8"

    def expression(self, column: Column) -> str:
        name = quote(column.name)
        kind = family(column.type)
        # pyarrow's CSV writer takes flat values only: nested ones go out as their JSON text,
        # and types it cannot write (intervals, blobs, bit strings) as DuckDB's text for them
        if kind == "nested":
            return f"CAST(to_json({name}) AS VARCHAR) AS {name}"
        if kind in ("other", "uuid"):
            return f"CAST({name} AS VARCHAR) AS {name}"
        return name

    def wrap(self, inner: str) -> str:
        return inner

    def encoder(self, schema: pa.Schema) -> Encoder:
        return _CsvEncoder(schema)


class _CsvEncoder:
    def __init__(self, schema: pa.Schema) -> None:
        import pyarrow.csv as pa_csv

        self._sink = _Sink()
        self._writer = pa_csv.CSVWriter(self._sink, schema)  # writes the header row now

    def begin(self) -> bytes:
        return self._sink.drain()

    def encode(self, batch: pa.RecordBatch) -> bytes:
        self._writer.write_batch(batch)
        return self._sink.drain()

    def end(self) -> bytes:
        self._writer.close()
        return self._sink.drain()


class Parquet:
    """Parquet, zstd-compressed, one row group per streamed batch."""

    extension: ClassVar[str] = "parquet"
    media_type: ClassVar[str] = "application/vnd.apache.parquet"

    def expression(self, column: Column) -> str:
        return quote(column.name)

    def wrap(self, inner: str) -> str:
        return inner

    def encoder(self, schema: pa.Schema) -> Encoder:
        return _ParquetEncoder(schema)


class _ParquetEncoder:
    def __init__(self, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self._sink = _Sink()
        self._writer = pq.ParquetWriter(self._sink, schema, compression="zstd")

    def begin(self) -> bytes:
        return self._sink.drain()

    def encode(self, batch: pa.RecordBatch) -> bytes:
        # each call closes a row group, so its bytes are in the sink when write_batch returns
        self._writer.write_batch(batch)
        return self._sink.drain()

    def end(self) -> bytes:
        self._writer.close()  # the footer: the schema and every row group's offsets and stats
        return self._sink.drain()


# ``inner`` is SQL this service built (quoted schema names and ``?`` markers), never client text
_ROW_JSON = "CAST(to_json(_row) AS VARCHAR)"


class _JsonRows:
    """Shared by the JSON formats: DuckDB writes each row as one JSON text."""

    def expression(self, column: Column) -> str:
        name = quote(column.name)
        # to_json writes NaN and Infinity, which JSON does not have; null is what JSON.stringify
        # makes of them too
        if family(column.type) == "float":
            return f"CASE WHEN isfinite({name}) THEN {name} END AS {name}"
        return name


class Json(_JsonRows):
    """One JSON array of objects, a row per line; ``[]`` when nothing matches."""

    extension: ClassVar[str] = "json"
    media_type: ClassVar[str] = "application/json"

    def wrap(self, inner: str) -> str:
        # every row starts with its separator and the very first one has it cut off, because
        # which batch ends the stream is only known once it has been sent
        return f"SELECT ',' || chr(10) || {_ROW_JSON} AS line FROM ({inner}) _row"  # noqa: S608

    def encoder(self, schema: pa.Schema) -> Encoder:
        return _JsonArrayEncoder()


class _JsonArrayEncoder:
    def __init__(self) -> None:
        self._first = True

    def begin(self) -> bytes:
        return b"["

    def encode(self, batch: pa.RecordBatch) -> bytes:
        data = _concatenated(batch)
        if self._first and data:
            self._first = False
            return b"\n" + data[2:]  # drop the first row's ",\n"
        return data

    def end(self) -> bytes:
        return b"\n]\n"


class Ndjson(_JsonRows):
    """Newline-delimited JSON: one object per line."""

    extension: ClassVar[str] = "ndjson"
    media_type: ClassVar[str] = "application/x-ndjson"

    def wrap(self, inner: str) -> str:
        return f"SELECT {_ROW_JSON} || chr(10) AS line FROM ({inner}) _row"  # noqa: S608

    def encoder(self, schema: pa.Schema) -> Encoder:
        return _NdjsonEncoder()


class _NdjsonEncoder:
    def begin(self) -> bytes:
        return b""

    def encode(self, batch: pa.RecordBatch) -> bytes:
        return _concatenated(batch)

    def end(self) -> bytes:
        return b""


def _concatenated(batch: pa.RecordBatch) -> bytes:
    """The batch's one string column as the bytes of its values back to back, copied once.

    A string array keeps its values contiguous in one data buffer, delimited by an offsets
    buffer; the values' own separators make joining them unnecessary.
    """
    import pyarrow as pa

    array = batch.column(0)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())
    if len(array) == 0:
        return b""
    offsets_buffer, data_buffer = array.buffers()[1:3]
    raw = memoryview(offsets_buffer)
    offsets = raw.cast("q") if pa.types.is_large_string(array.type) else raw.cast("i")
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    return data_buffer[start:end].to_pybytes() if data_buffer is not None else b""


FORMATS: dict[str, Format] = {fmt.extension: fmt for fmt in (Csv(), Json(), Ndjson(), Parquet())}
