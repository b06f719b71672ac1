"""Parsing and checking one extract file (the slow path of `helpers.data.extracts`).

Only a file whose bytes the cache has not seen comes here, so pyarrow, numpy and
DuckDB are imported by this module alone: a publish whose extracts are all cached
(an editorial edit, a re-run) never loads them. How a file is read and checked:
docs/validation.md.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import itertools
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from helpers.data import schema
from helpers.data.extracts import (
    _READ_CHUNK,
    ENCODING_LABELS,
    MAX_STORED_PER_RULE,
    R_AFTER,
    R_BAD_GZIP,
    R_BOOLEAN,
    R_CHOICE,
    R_DATE,
    R_DUPLICATE_COLUMN,
    R_DUPLICATE_KEY,
    R_EMPTY_FILE,
    R_ENCODING,
    R_FIELD_COUNT,
    R_LE,
    R_MISSING_COLUMN,
    R_MONTH,
    R_NEGATIVE,
    R_NO_ROWS,
    R_NOT_NUMBER,
    R_NOT_WHOLE,
    R_PERIOD,
    R_REQUIRED,
    R_REQUIRED_IF_EQUALS,
    R_REQUIRED_IF_PRESENT,
    R_TIMESTAMP,
    R_TOO_LARGE,
    R_UNCLOSED_QUOTE,
    R_UNREADABLE,
    Problem,
    _FileResult,
    _quote,
)
from helpers.quarter import Quarter

# Arrow's CSV stream reads about thirty blocks ahead of the consumer, so the block size
# sets the memory a file stream holds: 4 MiB blocks hold ~140 MB (2 MiB ~70 MB, 8 MiB
# ~250 MB). 4 MiB: two streams validate SCALE=10's 1.9 GB with ~5% less time than 2 MiB
# (fewer blocks: fewer per-block kernel calls) for ~140 MB more peak RSS.
_BLOCK_SIZE = 4 << 20
# A UTF-8 file shows its encoding after a few multi-byte characters; GB18030
# text almost never decodes as UTF-8 for that long (see docs/validation.md).
_UTF8_EVIDENCE_BYTES = 16

_TS_RE = (
    r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
    r"|^\d{4}/\d{2}/\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
)
_TS_DASH_RE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$|^\d{4}/\d{2}/\d{2}$"
_MONTH_RE = r"^\d{4}-\d{2}$"
_INT_RE = r"^\d{1,18}$"
_BIG_INT_RE = r"^\d{19,}$"
_NEG_INT_RE = r"^-\d+$"
_DEC_RE = r"^(\d+(\.\d*)?|\.\d+)$"
_NEG_DEC_RE = r"^-(\d+(\.\d*)?|\.\d+)$"
_TRUE = ("1", "是", "true", "y")
_FALSE = ("0", "否", "false", "n")

_ARROW_TYPES = {
    schema.TEXT: pa.string(),
    schema.TIMESTAMP: pa.timestamp("ns"),
    schema.DATE: pa.timestamp("ns"),
    schema.MONTH: pa.timestamp("ns"),
    schema.BOOLEAN: pa.bool_(),
    schema.INTEGER: pa.int64(),
    schema.DECIMAL: pa.float64(),
}


# --- reading bytes: encoding, line statistics ------------------------------------


def _is_gz(path: Path) -> bool:
    return path.name.endswith(".gz")


def _byte_chunks(path: Path) -> Iterator[bytes]:
    opener = gzip.open if _is_gz(path) else open
    with opener(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            yield chunk


@dataclass
class _Scan:
    """What one streaming pass over the (decompressed) bytes learnt."""

    ok: bool
    fail_offset: int = 0
    fail_line: int = 0
    # Bytes beyond one per character in the valid prefix (UTF-8: counted only up to
    # _UTF8_EVIDENCE_BYTES, all that _detect_encoding asks).
    multibyte: int = 0
    size: int = 0
    lines: int = 0  # lines as an editor counts them (with \n endings)
    quotes: int = 0
    lone_cr: bool = False
    bom: bool = False


def _scan(path: Path, encoding: str) -> _Scan:
    """Decode the file incrementally with `encoding`; count lines and quotes.

    Stops at the first undecodable byte, recording its offset and editor line.
    Raises OSError/EOFError/zlib.error for unreadable gzip data.
    """
    pending = b""
    size = newlines = quotes = multibyte = 0
    lone_cr = False
    last = b""
    first = True
    bom = False
    # A last, empty chunk sends what is left after the last line break to Python's decoder.
    for chunk in itertools.chain(_byte_chunks(path), [b""]):
        if first:
            bom = chunk.startswith(b"\xef\xbb\xbf")
            first = False
        pieces = None
        if encoding == "utf-8" and (head_end := chunk.find(b"\n") + 1):
            # Whole lines: Arrow checks the UTF-8 without building a str (several times
            # faster); invalid bytes fall through to Python, which says where they are.
            # Only the line the chunk boundary cut is copied (pending + its end).
            cut = chunk.rfind(b"\n") + 1
            head, body = pending + chunk[:head_end], memoryview(chunk)[head_end:cut]
            texts = [t for t in (_utf8_text(head), _utf8_text(body)) if t is not None]
            if len(texts) == 2:
                pieces, pending = (head, body), chunk[cut:]
                if multibyte < _UTF8_EVIDENCE_BYTES:  # all _detect_encoding asks of it
                    multibyte += _utf8_extra_bytes(texts)
        if pieces is None:
            data = pending + chunk
            try:
                chars = len(data.decode(encoding))
                pending = b""
                valid = data
            except UnicodeDecodeError as e:
                if e.end == len(data) and len(data) - e.start < 4:
                    valid, pending = data[: e.start], data[e.start :]
                    chars = len(valid.decode(encoding))
                else:
                    prefix = data[: e.start]
                    return _Scan(
                        False,
                        size + e.start,
                        newlines + prefix.count(b"\n") + 1,
                        multibyte + len(prefix) - len(prefix.decode(encoding)),
                        bom=bom,
                    )
            pieces = (valid,)
            multibyte += len(valid) - chars
        cr = b"\r" in chunk or b"\r" in pieces[0]
        for piece in pieces:
            octets = np.frombuffer(piece, np.uint8)  # numpy counts bytes ~2x faster than bytes.count
            newlines += int(np.count_nonzero(octets == ord("\n")))
            quotes += int(np.count_nonzero(octets == ord('"')))
            if cr and not lone_cr:
                cr_at = octets == ord("\r")
                crlf = cr_at[:-1] & (octets[1:] == ord("\n"))
                lone_cr = int(np.count_nonzero(cr_at)) != int(np.count_nonzero(crlf))
            size += len(piece)
            if len(piece):
                last = bytes(piece[-1:])
    if pending:
        return _Scan(False, size, newlines + 1, multibyte, bom=bom)
    lines = newlines + (1 if size and last != b"\n" else 0)
    return _Scan(True, 0, 0, multibyte, size, lines, quotes, lone_cr, bom)


def _as_text(data: bytes) -> pa.Array:
    """`data` as one Arrow large_binary value, without a copy."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])


def _utf8_text(data: bytes) -> pa.Array | None:
    """`data` as one Arrow large_string value when it is valid UTF-8 (Arrow checks it
    without building a Python str), else None."""
    try:
        return _as_text(data).cast(pa.large_string())
    except pa.ArrowInvalid:
        return None


def _utf8_extra_bytes(texts: Iterable[pa.Array]) -> int:
    """Bytes beyond one per character in valid UTF-8 `texts` (_utf8_text's)."""
    return sum(pc.binary_length(t)[0].as_py() - pc.utf8_length(t)[0].as_py() for t in texts)


def _detect_encoding(path: Path) -> tuple[str | None, _Scan]:
    """('utf-8' | 'utf-8-sig' | 'gb18030', scan) or (None, scan of the failure)."""
    utf8 = _scan(path, "utf-8")
    if utf8.ok:
        return ("utf-8-sig" if utf8.bom else "utf-8"), utf8
    if utf8.bom:
        return None, utf8
    gb = _scan(path, "gb18030")
    if gb.ok and utf8.multibyte < _UTF8_EVIDENCE_BYTES:
        return "gb18030", gb
    if gb.ok or utf8.fail_offset >= gb.fail_offset:
        return None, utf8
    return None, gb


# --- parsing one file ------------------------------------------------------------


class _Collector:
    """Problems of one file: exact counts per rule, a capped list of examples.

    Row problems are held by record index (0-based data record, as pyarrow
    numbers them) until the editor lines are known.
    """

    def __init__(self, file: str):
        self.file = file
        self.counts: dict[str, int] = {}
        self.pending: dict[str, list[tuple[int, str | None, str | None, int | None]]] = {}
        self.direct: list[Problem] = []

    def count(self, rule: str, n: int) -> int:
        """Add n to rule's count; return how many more examples may be stored."""
        stored = self.counts.get(rule, 0)
        self.counts[rule] = stored + n
        return max(0, MAX_STORED_PER_RULE - stored)

    def problem(self, line: int | None, column: str | None, value: str | None, rule: str) -> None:
        if self.count(rule, 1):
            self.direct.append(Problem(self.file, line, column, value, rule))

    def rows(
        self,
        rule: str,
        column: str | None,
        index: np.ndarray,
        values: pa.Array,
        base: int,
        refs: np.ndarray | None = None,
    ) -> None:
        """Record rows `index` (batch-relative) breaking `rule`; values = column values."""
        if not len(index):
            return
        room = self.count(rule, len(index))
        if room:
            take = index[:room]
            texts = values.take(pa.array(take)).to_pylist()
            out = self.pending.setdefault(rule, [])
            for i, (row, text) in enumerate(zip(take, texts, strict=True)):
                ref = None if refs is None else int(refs[i])
                out.append((base + int(row), column, text, ref))

    def listed(
        self, rule: str, column: str | None, total: int, examples: list[tuple[int, str, int | None]]
    ) -> None:
        """Record `total` records breaking `rule`; `examples` are the first of them, in
        order, as (record, value, referenced record or None)."""
        room = self.count(rule, total)
        out = self.pending.setdefault(rule, [])
        for rec, text, ref in examples[:room]:
            out.append((int(rec), column, text, None if ref is None else int(ref)))

    @property
    def any(self) -> bool:
        return bool(self.counts)

    def needed_records(self) -> set[int]:
        needed = set()
        for items in self.pending.values():
            for rec, _col, _val, ref in items:
                needed.add(rec)
                if ref is not None:
                    needed.add(ref)
        return needed

    def finish(self, line_of) -> list[Problem]:
        problems = list(self.direct)
        for rule, items in self.pending.items():
            for rec, column, value, ref in items:
                if ref is not None:
                    value = f"{value} (first seen on line {line_of(ref)})"
                problems.append(Problem(self.file, line_of(rec), column, value, rule))
        return sorted(problems, key=lambda p: p.line or 0)


def _read_header(path: Path, encoding: str) -> tuple[list[str], int] | None:
    """The first non-blank record (the header) and the editor line it ends on."""
    with _text_stream(path, encoding) as fh:
        reader = csv.reader(fh, strict=False)
        for record in reader:
            if record:
                return record, reader.line_num
    return None


def _text_stream(path: Path, encoding: str):
    if _is_gz(path):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _parse_file(spec: schema.FileSpec, path: Path, q: Quarter, parquet_path: Path | None) -> _FileResult:
    """Validate one extract file; write its typed table to `parquet_path` when valid.

    Takes the file's contract, its path and the quarter; returns the file's
    problems (editor lines), notes, encoding and row count.
    """
    result = _FileResult(path.name)
    sink = _Collector(path.name)
    missing_msg = {"section": spec.section}

    if path.stat().st_size == 0:
        result.add(Problem(path.name, None, None, None, R_EMPTY_FILE.format(**missing_msg)))
        return result
    try:
        encoding, scan = _detect_encoding(path)
    except (OSError, EOFError, zlib.error):
        result.add(Problem(path.name, None, None, None, R_BAD_GZIP))
        return result
    if encoding is None:
        result.add(Problem(path.name, scan.fail_line, None, None, R_ENCODING))
        return result
    result.encoding = encoding
    if encoding != "utf-8":
        result.notes.append(f"{path.name}: encoding {ENCODING_LABELS[encoding]}")

    header = _read_header(path, encoding)
    if header is None:
        result.add(Problem(path.name, None, None, None, R_EMPTY_FILE.format(**missing_msg)))
        return result
    names, header_lines = header
    names = [n.replace("\ufeff", "").strip() for n in names]
    positions: dict[str, int] = {}
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name and name in seen:
            sink.problem(1, name, name, R_DUPLICATE_COLUMN)
        seen.add(name)
        positions.setdefault(name, i)
    for col in spec.columns:
        if col.name not in positions:
            sink.problem(1, col.name, None, R_MISSING_COLUMN)
    extra = [n for n in dict.fromkeys(names) if n and n not in spec.column_names]
    if extra:
        result.notes.append(
            f"{path.name}: extra columns ignored / 多余的列已忽略: "
            + ", ".join(_quote(n)[1:-1] for n in extra)
        )
    if "" in names:
        result.notes.append(f"{path.name}: {names.count('')} unnamed column(s) ignored")
    present = [c for c in spec.columns if c.name in positions]

    writer = None
    tmp_parquet = None
    if parquet_path is not None and not sink.any:
        tmp_parquet = parquet_path.with_suffix(f".{os.getpid()}.tmp")
        # Dictionary pages pay off only for repetitive text: not for timestamps or
        # numbers, nor for a key's unique ids (a third of the write time, for nothing).
        text_columns = [c.name for c in spec.columns if c.kind == schema.TEXT and c.name not in spec.key]
        # Uncompressed: snappy cost a tenth of validation's CPU and slowed every read in
        # the figures stage, to save disk in a cache (uncompressed: about half the CSVs).
        # No statistics: a quarter's queries filter on nothing a row group's min/max
        # could skip (lines and channels are mixed in every block), and they cost a
        # quarter of the write.
        writer = pq.ParquetWriter(
            tmp_parquet,
            _arrow_schema(spec),
            use_dictionary=text_columns,
            compression="none",
            write_statistics=False,
        )
    invalid_rows = [0]
    records = 0
    read_failed = False
    has_key = all(k in positions for k in spec.key)
    with tempfile.TemporaryDirectory(prefix="kfwk-keys-") as scratch:
        # The keys' hashes go to scratch files as they stream by, so memory does not grow
        # with the file; a repeated hash sends the keys themselves to the exact check.
        keys = _KeyHashes(Path(scratch), spec.key) if has_key else None
        try:
            for batch in _stream_batches(
                path, encoding, names, present, positions, header_lines, invalid_rows, quoted=scan.quotes > 0
            ):
                typed, checked = _check_batch(spec, present, batch, q, records, sink)
                if keys is not None:
                    keys.write([checked[k].trimmed for k in spec.key])
                if writer is not None and not sink.any and not invalid_rows[0]:
                    writer.write_batch(pa.record_batch(typed, schema=_arrow_schema(spec)))
                records += batch.num_rows
        except (pa.ArrowInvalid, OSError, EOFError, zlib.error) as exc:
            read_failed = True
            read_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            if writer is not None:
                writer.close()
        if keys is not None and keys.repeated() and not read_failed:
            _exact_duplicates(spec, path, encoding, names, positions, header_lines, Path(scratch), sink)

    # Editor lines: record index + header lines + 1 is exact unless the file has
    # blank lines, quoted newlines, lone CRs, or rows pyarrow skipped.
    fast_exact = (
        not invalid_rows[0] and not scan.lone_cr and not read_failed and scan.lines == header_lines + records
    )
    need_scan = read_failed or invalid_rows[0] or scan.quotes % 2 == 1
    line_of = {}
    if need_scan or (sink.any and not fast_exact):
        found = _record_lines(path, encoding, len(names), sink.needed_records(), sink, header_lines, result)
        line_of, records_total = found
        result.rows = records_total
    else:
        result.rows = records + invalid_rows[0]
    if invalid_rows[0] and not sink.counts.get(R_FIELD_COUNT.format(n=len(names))):
        # pyarrow skipped rows the csv module did not flag: never publish a partial table.
        sink.problem(None, None, f"{invalid_rows[0]} unparsed rows", R_UNREADABLE)
    if read_failed and not sink.any:
        sink.problem(None, None, read_error, R_UNREADABLE)
    if not sink.any and result.rows == 0:
        sink.problem(None, None, None, R_NO_ROWS.format(**missing_msg))

    def editor_line(rec: int) -> int:
        return line_of.get(rec, rec + header_lines + 1) if line_of else rec + header_lines + 1

    for p in sink.finish(editor_line):
        result.problems.append(p)
    result.counts.update(sink.counts)

    if tmp_parquet is not None:
        if result.ok:
            os.replace(tmp_parquet, parquet_path)
        else:
            tmp_parquet.unlink(missing_ok=True)
    return result


def _stream_batches(path, encoding, names, present, positions, header_lines, invalid_rows, *, quoted=True):
    """Record batches of the present contract columns, all as strings, raw. `quoted=False`
    (the scan found no `"` in the file, so quoting cannot change a field) parses without
    quote handling, a fifth faster."""
    auto = [f"c{i}" for i in range(len(names))]
    include = [auto[positions[c.name]] for c in present]
    read_options = pacsv.ReadOptions(
        column_names=auto,
        skip_rows=header_lines,
        block_size=_BLOCK_SIZE,
        encoding="utf8" if encoding == "utf-8" else encoding,
        # One thread per file: files are validated two at a time (validate_quarters),
        # which keeps both cores busy.
        use_threads=False,
    )

    def on_invalid(_row) -> str:
        invalid_rows[0] += 1
        return "skip"

    parse_options = pacsv.ParseOptions(
        quote_char='"' if quoted else False, newlines_in_values=quoted, invalid_row_handler=on_invalid
    )
    convert_options = pacsv.ConvertOptions(
        column_types={a: pa.string() for a in include},
        include_columns=include,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=False,  # _scan has already decoded every byte
    )
    source = pa.input_stream(str(path), compression="gzip" if _is_gz(path) else None)
    with source:
        reader = pacsv.open_csv(
            source, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )
        rename = {auto[positions[c.name]]: c.name for c in present}
        for batch in reader:
            if batch.num_rows:
                yield batch.rename_columns([rename[n] for n in batch.schema.names])


def _record_lines(path, encoding, n_fields, needed, sink, header_lines, result):
    """Second, slow pass with Python's csv module, only for files with problems.

    Maps pyarrow's record indices in `needed` to the editor line where each
    record starts, reports rows with the wrong number of fields and a quote left
    open at the end of the file. Returns ({record: line}, data rows in the file).
    """
    sentinel = "\ue000EOF"
    line_of: dict[int, int] = {}
    good = total = 0
    old_limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with _text_stream(path, encoding) as fh:
            # After the last line, feed `"<sentinel>`: if the file ended inside a quoted
            # field, the quote closes it and the sentinel lands at the end of that
            # record; otherwise the sentinel forms a record of its own.
            lines = _chain_lines(fh, '"' + sentinel + "\n")
            reader = csv.reader(lines, strict=False)
            start = 1
            header_seen = False
            for record in reader:
                if record and not header_seen:
                    header_seen = True
                elif record:
                    if len(record) == 1 and record[0].startswith(sentinel):
                        break
                    if record[-1].endswith(sentinel):
                        sink.problem(start, None, _row_text(record, sentinel), R_UNCLOSED_QUOTE)
                        record[-1] = record[-1][: -len(sentinel)]
                    total += 1
                    if len(record) != n_fields:
                        sink.problem(start, None, _row_text(record), R_FIELD_COUNT.format(n=n_fields))
                    else:
                        if good in needed:
                            line_of[good] = start
                        good += 1
                start = reader.line_num + 1
    except csv.Error as exc:
        sink.problem(start, None, str(exc), R_UNREADABLE)
    finally:
        csv.field_size_limit(old_limit)
    return line_of, total


def _chain_lines(fh, tail: str):
    yield from fh
    yield tail


def _row_text(record: list[str], strip: str = "") -> str:
    text = ",".join(record)
    if strip:
        text = text.replace(strip, "")
    return text if len(text) <= 80 else text[:77] + "..."


# --- validating one batch --------------------------------------------------------


@dataclass
class _Checked:
    trimmed: pa.Array
    present: np.ndarray  # non-empty after trimming
    ok: np.ndarray  # present and valid for its type
    typed: pa.Array  # typed values, null where missing or invalid
    values: np.ndarray | None = None  # numpy view of typed values for comparisons


def _np(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _match(arr: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(arr, pattern))


def _check_column(col: schema.Column, raw: pa.Array, base: int, sink: _Collector) -> _Checked:
    """Trim, check and type one column of a batch; report its problems to `sink`."""
    clean = _clean_column(col, raw)
    if clean is not None:
        return clean
    v = pc.utf8_trim_whitespace(raw)
    present = _lengths(v) > 0
    if not col.optional:
        sink.rows(R_REQUIRED, col.name, np.flatnonzero(~present), v, base)

    def bad(rule: str, mask: np.ndarray) -> None:
        sink.rows(rule, col.name, np.flatnonzero(mask), v, base)

    kind = col.kind
    if kind == schema.TEXT:
        ok = present.copy()
        if col.choices:
            ok &= _np(pc.is_in(v, value_set=pa.array(col.choices)))
            bad(R_CHOICE.format(choices=", ".join(col.choices)), present & ~ok)
        return _Checked(v, present, ok, v if ok.all() else _empty_as_null(v, ok))
    if kind == schema.BOOLEAN:
        low = pc.utf8_lower(v)
        yes = _np(pc.is_in(low, value_set=pa.array(_TRUE)))
        ok = yes | _np(pc.is_in(low, value_set=pa.array(_FALSE)))
        bad(R_BOOLEAN, present & ~ok)
        return _Checked(v, present, ok, pa.array(yes, mask=~ok))
    if kind in (schema.INTEGER, schema.DECIMAL):
        integer = kind == schema.INTEGER
        if integer:
            # ^\d{1,18}$ without a regex (ten times faster): ASCII digits only, 1-18 of them.
            ok = _np(pc.ascii_is_decimal(v)) & (_lengths(v) <= 18)
        else:
            ok = _match(v, _DEC_RE)
        if not (ok | ~present).all():  # only a batch with a bad value pays for the why
            negative = _match(v, _NEG_INT_RE if integer else _NEG_DEC_RE)
            too_large = _match(v, _BIG_INT_RE) if integer else np.zeros(len(v), bool)
            bad(R_NEGATIVE, negative)
            bad(R_TOO_LARGE, too_large)
            bad(R_NOT_WHOLE if integer else R_NOT_NUMBER, present & ~ok & ~negative & ~too_large)
        every = ok.all()
        filled = v if every else pc.if_else(pa.array(ok), v, "0")
        numbers = pc.cast(filled, pa.int64() if integer else pa.float64())
        values = numbers.to_numpy(zero_copy_only=False)
        return _Checked(v, present, ok, numbers if every else pa.array(values, mask=~ok), values)
    # timestamp / date / month
    if kind == schema.TIMESTAMP:
        lengths = _lengths(v)
        plain = _plain_timestamps(v, present, lengths)
        if plain is not None:
            return plain
        ok = _match(v, _TS_DASH_RE)
        norm = v
        if not ok[present].all():
            # Slow path only for batches that use `/` or are broken somewhere.
            ok = _match(v, _TS_RE)
            norm = pc.replace_substring(v, "/", "-")
        if len(v) and lengths.max() > len("YYYY-MM-DD HH:MM:SS.ffffff"):
            # Arrow parses at most 6 fractional digits; finer ones are dropped.
            norm = pc.replace_substring_regex(norm, r"(\.\d{6})\d+$", r"\1")
        placeholder, rule = "2000-01-01 00:00:00", R_TIMESTAMP
    elif kind == schema.DATE:
        ok = _match(v, _DATE_RE)
        norm = pc.replace_substring(v, "/", "-")
        placeholder, rule = "2000-01-01", R_DATE
    else:
        ok = _match(v, _MONTH_RE)
        norm = pc.binary_join_element_wise(v, "-01", "")
        placeholder, rule = "2000-01-01", R_MONTH
    filled = norm if ok.all() else pc.if_else(pa.array(ok), norm, placeholder)
    values, ok = _to_datetimes(filled, ok, with_time=kind == schema.TIMESTAMP)
    bad(rule, present & ~ok)
    return _Checked(v, present, ok, pa.array(values, mask=~ok), values)


def _clean_column(col: schema.Column, raw: pa.Array) -> _Checked | None:
    """The usual batch of a timestamp, integer, boolean or closed-choice column: every
    value valid as it stands, with no spaces to trim, or empty where the column is
    optional. Checked with kernels several times cheaper than trimming and matching (a
    value with surrounding spaces cannot be a choice, a listed boolean spelling, a digit
    string or a timestamp of the accepted lengths), so no batch here has anything to
    report. None sends the batch to the full check, which finds the problems and says
    what they are."""
    kind = col.kind
    if kind not in (schema.TIMESTAMP, schema.INTEGER, schema.BOOLEAN) and not (
        kind == schema.TEXT and col.choices
    ):
        return None
    lengths = _lengths(raw)
    present = lengths > 0
    every = bool(present.all())
    if not (every or col.optional):
        return None
    if kind == schema.TIMESTAMP:
        return _plain_timestamps(raw, present, lengths)
    if kind == schema.INTEGER:
        ok = _np(pc.ascii_is_decimal(raw)) & (lengths <= 18)
        if not (ok | ~present).all():
            return None
        numbers = pc.cast(raw if every else pc.if_else(pa.array(present), raw, "0"), pa.int64())
        values = numbers.to_numpy(zero_copy_only=False)
        return _Checked(raw, present, present, numbers if every else pa.array(values, mask=~present), values)
    if kind == schema.BOOLEAN and len(raw) and (lengths == 1).all() and _plain_string(raw):
        # The usual 1/0 (or y/n): one byte a value, compared in place.
        octets = np.frombuffer(raw.buffers()[2], np.uint8)[_offsets(raw)[:-1]]
        yes = (octets == ord("1")) | (octets == ord("y"))
        if not (yes | (octets == ord("0")) | (octets == ord("n"))).all():
            return None
        return _Checked(raw, present, present.copy(), pa.array(yes))
    if kind == schema.BOOLEAN:  # spelt as listed (any case is the full check's)
        yes = _np(pc.is_in(raw, value_set=pa.array(_TRUE)))
        if not (yes | _np(pc.is_in(raw, value_set=pa.array(_FALSE))) | ~present).all():
            return None
        return _Checked(raw, present, present.copy(), pa.array(yes, mask=~present))
    if not (_np(pc.is_in(raw, value_set=pa.array(col.choices))) | ~present).all():
        return None
    return _Checked(raw, present, present.copy(), raw if every else _empty_as_null(raw, present))


def _plain_string(v: pa.Array) -> bool:
    """A string array without nulls, whose offsets _offsets can read."""
    return pa.types.is_string(v.type) and not v.null_count


def _offsets(v: pa.Array) -> np.ndarray:
    """The offsets of a string or binary array's values (len(v) + 1 of them: int32, or
    int64 for the large types), read from its buffer without a copy."""
    wide = pa.types.is_large_string(v.type) or pa.types.is_large_binary(v.type)
    return np.frombuffer(v.buffers()[1], np.int64 if wide else np.int32)[v.offset : v.offset + len(v) + 1]


def _lengths(v: pa.Array) -> np.ndarray:
    """Bytes per value (= characters for ASCII): from the offsets, when plain."""
    if _plain_string(v):
        return np.diff(_offsets(v))
    return pc.binary_length(v).to_numpy(zero_copy_only=False)


def _plain_timestamps(v: pa.Array, present: np.ndarray, lengths: np.ndarray) -> _Checked | None:
    """The usual batch, every value `YYYY-MM-DD HH:MM:SS[.f…]` (1-6 fraction digits) or
    empty, checked without a regex (which costs three times the cast): Arrow's ISO-8601
    cast takes a string of 19 bytes only in that form (a date alone is 10, an hour or
    minute form shorter, a zone longer or refused), and a longer one only with a zone
    (refused for a timestamp without one) or a fraction after the seconds; so a cast
    that succeeds is _TS_DASH_RE's verdict (test_extracts holds Arrow to that on the
    edge cases). None for any other batch, or when the cast fails: then the regex path
    decides."""
    if not ((lengths == 19) | ((lengths > 20) & (lengths <= 26)) | ~present).all():
        return None
    try:
        stamps = pc.cast(v if present.all() else _empty_as_null(v, present), pa.timestamp("us"))
    except pa.ArrowInvalid:
        return None
    return _Checked(v, present, present.copy(), stamps, stamps.to_numpy(zero_copy_only=False))


def _empty_as_null(v: pa.Array, present: np.ndarray) -> pa.Array:
    """`v` with its values where not `present` made null: a new validity bitmap over v's
    own buffers, no copy (a cast then skips them, where a placeholder is parsed)."""
    if v.offset or v.null_count:
        return pc.if_else(pa.array(present), v, pa.scalar(None, v.type))
    return pa.Array.from_buffers(v.type, len(v), [pa.array(present).buffers()[1], *v.buffers()[1:]])


def _to_datetimes(filled: pa.Array, ok: np.ndarray, *, with_time: bool):
    """datetime64[us] values of well-formed strings; impossible dates become not ok."""
    try:
        if with_time:
            stamps = pc.cast(filled, pa.timestamp("us"))
        else:
            stamps = pc.cast(pc.cast(filled, pa.date32()), pa.timestamp("us"))
        return stamps.to_numpy(zero_copy_only=False).astype("datetime64[us]"), ok
    except pa.ArrowInvalid:
        pass
    # Some well-formed value is not a real date/time (2022-02-30, 25:00:00):
    # parse element by element to find which; only batches with such values pay.
    parse = datetime.fromisoformat if with_time else date.fromisoformat
    out = np.full(len(filled), np.datetime64("NaT", "us"))
    ok = ok.copy()
    for i, text in enumerate(filled.to_pylist()):
        if not ok[i]:
            continue
        try:
            out[i] = np.datetime64(parse(text), "us")
        except ValueError:
            ok[i] = False
    return out, ok


def _check_batch(
    spec: schema.FileSpec, present_cols, batch: pa.RecordBatch, q: Quarter, base: int, sink: _Collector
) -> tuple[list[pa.Array], dict[str, _Checked]]:
    """Check one batch against the file's contract; return its typed columns, and what
    was learnt of each present column."""
    checked = {c.name: _check_column(c, batch.column(c.name), base, sink) for c in present_cols}
    start = checked.get(spec.start)
    if start is not None:
        lo, hi = np.datetime64(q.start, "us"), np.datetime64(q.end, "us")
        outside = start.ok & ((start.values < lo) | (start.values >= hi))
        rule = R_PERIOD.format(
            column=spec.start, quarter=q, first=q.first_day, last=q.end.date() - timedelta(days=1)
        )
        sink.rows(rule, spec.start, np.flatnonzero(outside), start.trimmed, base)
    for rule in spec.rules:
        _check_cross(rule, checked, base, sink)
    n = batch.num_rows
    out = []
    for col in spec.columns:
        c = checked.get(col.name)
        if c is None:
            out.append(pa.nulls(n, _ARROW_TYPES[col.kind]))
        else:
            out.append(c.typed.cast(_ARROW_TYPES[col.kind]))
    return out, checked


def _check_cross(rule: tuple[str, ...], checked: dict[str, _Checked], base: int, sink: _Collector) -> None:
    kind = rule[0]
    if kind == "after":
        a, b = (checked.get(x) for x in rule[1:])
        if a is None or b is None:
            return
        mask = a.ok & b.ok & (b.values < a.values)
        sink.rows(R_AFTER.format(a=rule[1], b=rule[2]), rule[2], np.flatnonzero(mask), b.trimmed, base)
    elif kind == "le":
        a, b = (checked.get(x) for x in rule[1:])
        if a is None or b is None:
            return
        mask = a.ok & b.ok & (a.values > b.values)
        sink.rows(R_LE.format(a=rule[1], b=rule[2]), rule[1], np.flatnonzero(mask), a.trimmed, base)
    elif kind == "required_if_present":
        a, b = (checked.get(x) for x in rule[1:])
        if a is None or b is None:
            return
        mask = a.present & ~b.present
        sink.rows(
            R_REQUIRED_IF_PRESENT.format(a=rule[1], b=rule[2]), rule[2], np.flatnonzero(mask), b.trimmed, base
        )
    elif kind == "required_if_equals":
        _, col, value, target = rule
        c, b = checked.get(col), checked.get(target)
        if c is None or b is None:
            return
        mask = _np(pc.equal(c.trimmed, value)) & ~b.present
        sink.rows(
            R_REQUIRED_IF_EQUALS.format(b=target, col=col, value=value),
            target,
            np.flatnonzero(mask),
            b.trimmed,
            base,
        )
    else:
        raise ValueError(f"unknown cross-column rule in schema: {rule!r}")


class _KeyHashes:
    """64-bit hashes of a file's non-empty keys (_key_hashes), spread by their top bits
    over 16 files in a scratch folder as they stream by; at the end each bucket is
    sorted on its own, so memory stays at one sixteenth of 8 bytes a row. Two equal
    hashes are a repeated key or, about once in 10^7 files of 10^6 rows, a collision;
    either way the keys themselves are then compared exactly (_exact_duplicates), so a
    collision costs time, never a verdict."""

    BUCKETS = 16

    def __init__(self, folder: Path, key: tuple[str, ...]):
        self.paths = [folder / f"hashes-{i:02d}.bin" for i in range(self.BUCKETS)]
        self.files = [open(p, "wb") for p in self.paths]  # noqa: SIM115 - closed in repeated()
        self.edges = np.arange(1, self.BUCKETS, dtype=np.uint64) << np.uint64(64 - 4)

    def write(self, columns: list[pa.Array]) -> None:
        hashes = np.sort(_key_hashes(columns))
        for fh, part in zip(self.files, np.split(hashes, np.searchsorted(hashes, self.edges)), strict=True):
            fh.write(part.tobytes())

    def repeated(self) -> bool:
        """Does any hash occur twice? Closes everything."""
        for fh in self.files:
            fh.close()
        for path in self.paths:
            hashes = np.fromfile(path, dtype=np.uint64)
            hashes.sort()
            if (hashes[1:] == hashes[:-1]).any():
                return True
        return False


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves about half the output bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _key_hashes(columns: list[pa.Array]) -> np.ndarray:
    """A 64-bit hash of each row's key (one string array per key column), for the rows
    whose key values are all non-empty. A value is hashed as its length, then its bytes
    eight at a time (as many words as it has), read straight from the Arrow buffers, so
    a key hashes the same in any batch. Ids usually share one length, which makes a
    batch's values one (rows × length) block of bytes; others are gathered."""
    n = len(columns[0])
    hashes = np.zeros(n, np.uint64)
    keep = np.ones(n, bool)
    with np.errstate(over="ignore"):
        for position, arr in enumerate(columns):
            offsets = _offsets(arr).astype(np.int64)
            data = arr.buffers()[2]
            data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
            lengths = np.diff(offsets)
            keep &= lengths > 0
            hashes = _mix(hashes ^ _mix(lengths.astype(np.uint64) + np.uint64(position << 32)))
            width = int(lengths.max(initial=0))
            if not width:
                continue
            padded = -(-width // 8) * 8
            words = np.zeros((n, padded), np.uint8)
            if (lengths == width).all():
                words[:, :width] = data[offsets[0] : offsets[0] + n * width].reshape(n, width)
            else:  # gathered, zero past each value's end; rows a few at a time when long
                at = np.arange(width)
                step = max(1, (1 << 22) // width)
                for lo in range(0, n, step):
                    inside = at < lengths[lo : lo + step, None]
                    index = np.where(inside, offsets[:-1][lo : lo + step, None] + at, 0)
                    words[lo : lo + step, :width] = np.where(inside, data[index], 0)
            for i, word in enumerate(words.view(np.uint64).T):
                mixed = _mix(hashes ^ word)
                longer = lengths > 8 * i  # the value has an i-th word
                hashes = mixed if longer.all() else np.where(longer, mixed, hashes)
    return hashes[keep]


def _exact_duplicates(spec, path, encoding, names, positions, header_lines, scratch: Path, sink) -> None:
    """Second pass over the key columns only, when their hashes repeat: report every
    row whose key repeats an earlier row's (record numbers as in the first pass)."""
    exact = _KeyWriter(scratch, spec.key)
    key_columns = [c for c in spec.columns if c.name in spec.key]
    first = 0
    try:
        for batch in _stream_batches(path, encoding, names, key_columns, positions, header_lines, [0]):
            exact.write(first, [pc.utf8_trim_whitespace(batch.column(k)) for k in spec.key])
            first += batch.num_rows
    finally:
        exact.close()
    _check_unique(spec, exact, sink)


class _KeyWriter:
    """Streams (record index, key columns) of a file into a Parquet file under `folder`."""

    def __init__(self, folder: Path, key: tuple[str, ...]):
        self.folder = folder
        self.path = folder / "keys.parquet"
        self.columns = [f"k{i}" for i in range(len(key))]
        self.schema = pa.schema([("rec", pa.int64()), *((c, pa.string()) for c in self.columns)])
        self.writer: pq.ParquetWriter | None = pq.ParquetWriter(self.path, self.schema)
        self.rows = 0

    def write(self, first_record: int, columns: list[pa.Array]) -> None:
        n = len(columns[0])
        records = pa.array(np.arange(first_record, first_record + n, dtype=np.int64))
        self.writer.write_batch(pa.record_batch([records, *columns], schema=self.schema))
        self.rows += n

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# DuckDB's memory for the duplicate-key check: it spills to disk beyond this.
KEY_CHECK_MEMORY = "256MB"


def _check_unique(spec: schema.FileSpec, keys: _KeyWriter, sink: _Collector) -> None:
    """Report every row whose key repeats an earlier row's key (empty keys skipped).

    Out of core: DuckDB groups the key file written while streaming, so a file of
    any length needs bounded memory; only the first examples come back to Python.
    """
    if not keys.rows:
        return
    import duckdb  # only validation of a new file pays for it

    cols = ", ".join(keys.columns)
    source = "'" + str(keys.path).replace("'", "''") + "'"
    nonempty = " AND ".join(f"{c} <> ''" for c in keys.columns)
    label_expr = keys.columns[0] if len(keys.columns) == 1 else f"concat_ws(', ', {cols})"
    con = duckdb.connect(
        config={"memory_limit": KEY_CHECK_MEMORY, "threads": 2, "temp_directory": str(keys.folder / "spill")}
    )
    try:
        with contextlib.suppress(duckdb.Error):  # refused inside Jupyter without ipywidgets
            con.execute("SET enable_progress_bar = false")
        repeated = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM read_parquet({source}) WHERE {nonempty} "
            f"GROUP BY {cols} HAVING count(*) > 1)"
        ).fetchall()[0][0]
        if not repeated:  # the usual case: one pass, no join
            return
        con.execute(
            f"CREATE TEMP VIEW dup AS WITH k AS (SELECT * FROM read_parquet({source}) WHERE {nonempty}), "
            f"f AS (SELECT {cols}, min(rec) AS first_rec FROM k GROUP BY {cols} HAVING count(*) > 1) "
            f"SELECT k.rec, f.first_rec, {label_expr} AS label "
            f"FROM k JOIN f USING ({cols}) WHERE k.rec <> f.first_rec"
        )
        total = con.execute("SELECT count(*) FROM dup").fetchall()[0][0]
        if not total:
            return
        examples = con.execute(
            f"SELECT rec, label, first_rec FROM dup ORDER BY rec LIMIT {MAX_STORED_PER_RULE}"
        ).fetchall()
    finally:
        con.close()
    label = spec.key[0] if len(spec.key) == 1 else "(" + ", ".join(spec.key) + ")"
    sink.listed(R_DUPLICATE_KEY.format(key=label), ", ".join(spec.key), total, examples)


def _arrow_schema(spec: schema.FileSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind]) for c in spec.columns])
