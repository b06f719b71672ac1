"""Read and validate one quarter's extracts (docs/contract/EXTRACTS.md).

`validate_quarter` checks every file of `schema.FILES` in `<DATA>/<Q>/` and
returns a `Report` listing every problem (file, editor line, column, value,
rule). Valid files are written as typed Parquet tables to the cache, keyed by
(SCHEMA_VERSION, quarter, sha256 of the file's bytes), so an unchanged file is
parsed once. `load_tables` returns those typed tables as pandas DataFrames.

Memory stays bounded: each file is streamed through pyarrow's CSV reader in
blocks and validated block by block with pyarrow.compute; only the key
column(s) are kept whole, for the uniqueness check at the end. How it works
and every rule's message are described in docs/validation.md.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import itertools
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from helpers import paths
from helpers.data import schema
from helpers.quarter import Quarter

# Bump whenever a rule or the typed output changes: older cache entries are ignored.
SCHEMA_VERSION = 1

# Problems kept in memory per (file, rule); counts stay exact beyond this.
MAX_STORED_PER_RULE = 200

_READ_CHUNK = 4 << 20
_BLOCK_SIZE = 8 << 20
# A UTF-8 file shows its encoding after a few multi-byte characters; GB18030
# text almost never decodes as UTF-8 for that long (see docs/validation.md).
_UTF8_EVIDENCE_BYTES = 16

ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "gb18030": "GB18030"}

# --- rule texts (stable: problems are grouped and counted by them) ----------------

R_BOTH_FILES = "both {csv} and {gz} are present; keep only one of them"
R_MISSING_FILE = "file is missing; the bulletin section {section} needs it"
R_EMPTY_FILE = "file is empty; the bulletin section {section} needs it"
R_NO_ROWS = "file has a header but no data rows; the bulletin section {section} needs it"
R_NO_FOLDER = "the quarter's folder does not exist: {path}"
R_BAD_GZIP = "file is not a readable gzip file (corrupt or truncated)"
R_ENCODING = "bytes are neither UTF-8 nor GB18030 (bad encoding)"
R_MISSING_COLUMN = "required column is missing from the header"
R_DUPLICATE_COLUMN = "column name appears more than once in the header"
R_FIELD_COUNT = "row has a different number of fields than the header ({n} columns)"
R_UNCLOSED_QUOTE = "quoted field is never closed: the file ends inside it (truncated extract?)"
R_UNREADABLE = "file could not be read as CSV"
R_REQUIRED = "required value is empty"
R_CHOICE = "not one of the allowed values: {choices}"
R_TIMESTAMP = "not a valid timestamp (expected YYYY-MM-DD HH:MM:SS, a real date and time)"
R_DATE = "not a valid date (expected YYYY-MM-DD, a real date)"
R_MONTH = "not a valid month (expected YYYY-MM)"
R_BOOLEAN = "not a valid yes/no value (expected 1/0, 是/否, true/false, Y/N)"
R_NOT_WHOLE = "not a whole number"
R_NOT_NUMBER = "not a number"
R_NEGATIVE = "negative number (must be 0 or more)"
R_TOO_LARGE = "number is too large"
R_PERIOD = "{column} is outside {quarter} ({first} to {last}): the extract is for the wrong period"
R_DUPLICATE_KEY = "duplicate {key}: the same value appears on an earlier line"
R_AFTER = "{b} is earlier than {a}"
R_REQUIRED_IF_PRESENT = "{b} is required when {a} is given"
R_REQUIRED_IF_EQUALS = "{b} is required when {col} is {value}"
R_LE = "{a} is greater than {b}"

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


# --- public data types -----------------------------------------------------------


@dataclass
class Problem:
    """One broken rule: where (file, editor line, column), what (value) and why (rule)."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    rule: str

    def format(self) -> str:
        """The problem on one line: file, line, column, value and rule."""
        parts = [self.file]
        if self.line is not None:
            parts.append(f"第{self.line}行 line {self.line},")
        if self.column is not None:
            parts.append(f"column {self.column},")
        if self.value is not None:
            parts.append(f"value {_quote(self.value)}")
        head = " ".join(parts).rstrip(",")
        return f"{head}: {self.rule}"


@dataclass
class FileInfo:
    """Provenance of one validated extract."""

    path: Path
    sha256: str
    encoding: str
    rows: int


class _FileInfos(dict):
    """`{stem: FileInfo}`; also answers to `"inbound_calls.csv"` / `".csv.gz"`."""

    @staticmethod
    def _stem(key):
        if isinstance(key, str):
            for suffix in (".csv.gz", ".csv"):
                if key.endswith(suffix):
                    return key[: -len(suffix)]
        return key

    def __missing__(self, key):
        stem = self._stem(key)
        if stem != key and dict.__contains__(self, stem):
            return dict.__getitem__(self, stem)
        raise KeyError(key)

    def __contains__(self, key):
        return dict.__contains__(self, key) or dict.__contains__(self, self._stem(key))


class Report:
    """Outcome of validating a quarter: problems (capped per rule), exact counts, notes."""

    def __init__(
        self,
        problems: list[Problem] | None = None,
        notes: list[str] | None = None,
        files: Mapping[str, FileInfo] | None = None,
        counts: Mapping[tuple[str, str], int] | None = None,
        quarter: str | None = None,
    ):
        self.problems: list[Problem] = list(problems or [])
        self.notes: list[str] = list(notes or [])
        self.files: dict[str, FileInfo] = _FileInfos(files or {})
        self.quarter = quarter
        if counts is None:
            counts = {}
            for p in self.problems:
                counts[(p.file, p.rule)] = counts.get((p.file, p.rule), 0) + 1
        # (file, rule) -> exact number of problems, even when examples were capped.
        self.counts: dict[tuple[str, str], int] = dict(counts)

    @property
    def ok(self) -> bool:
        return not any(self.counts.values()) and not self.problems

    @property
    def total(self) -> int:
        """Exact number of problems across all files and rules."""
        return sum(self.counts.values())

    def count(self, file: str | None = None, rule: str | None = None) -> int:
        """Exact number of problems, optionally only of one file and/or rule."""
        return sum(
            n
            for (f, r), n in self.counts.items()
            if (file is None or f == file) and (rule is None or r == rule)
        )

    def format(self, max_examples: int = 5) -> str:
        """Plain-text report grouped by file then rule, each with its count and examples."""
        label = f"{self.quarter} " if self.quarter else ""
        lines: list[str] = []
        if self.ok:
            lines.append(f"{label}extracts are valid / 数据校验通过 ({len(self.files)} files)")
        else:
            n_files = len({f for (f, _r), n in self.counts.items() if n})
            lines.append(
                f"{label}extracts have {_plural(self.total, 'problem')} in"
                f" {_plural(n_files, 'file')} / 数据校验发现 {self.total:,} 个问题"
            )
        by_file: dict[str, dict[str, list[Problem]]] = {}
        for (f, r), n in self.counts.items():
            if n:
                by_file.setdefault(f, {}).setdefault(r, [])
        for p in sorted(self.problems, key=lambda p: p.line or 0):
            by_file.setdefault(p.file, {}).setdefault(p.rule, []).append(p)
        for f in sorted(by_file, key=_file_order):
            # Rules in the order their first example appears in the file.
            rules = dict(
                sorted(
                    by_file[f].items(),
                    key=lambda item: min((p.line or 0 for p in item[1]), default=0),
                )
            )
            file_total = sum(self.counts.get((f, r), len(ps)) for r, ps in rules.items())
            lines.append("")
            lines.append(f"{f} — {_plural(file_total, 'problem')}")
            for r, examples in rules.items():
                n = self.counts.get((f, r), len(examples))
                lines.append(f"  [{n:,}×] {r}")
                for p in examples[:max_examples]:
                    lines.append(f"    {p.format()}")
                if n > min(len(examples), max_examples):
                    lines.append(f"    … and {n - min(len(examples), max_examples):,} more")
        if self.notes:
            lines.append("")
            lines.append("Notes / 说明:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"<Report ok={self.ok} problems={self.total} files={len(self.files)}>"


class ExtractError(Exception):
    """Raised by `load_tables` when the extracts are invalid; `.report` says why."""

    def __init__(self, report: Report, role: str = ""):
        self.report = report
        # Why this quarter was read, when it is not the one being published (e.g. the
        # year-earlier quarter used for the 同比 comparisons).
        self.role = role
        super().__init__(f"{role}\n{report.format()}" if role else report.format())


# --- public functions ------------------------------------------------------------


def quarter_available(quarter: str, data_root: Path | None = None) -> bool:
    """True when `<DATA>/<quarter>/` exists (a missing prior year is not an error)."""
    Quarter.parse(quarter)
    return paths.quarter_dir(quarter, _root(data_root)).is_dir()


def validate_quarter(quarter: str, data_root: Path | None = None, *, cache: bool = True) -> Report:
    """Validate every extract of `quarter` in `<data_root>/<quarter>/`.

    Takes the quarter name (`YYYYQn`, raises QuarterError otherwise) and the data
    folder (default `paths.data_root()`); returns a Report with every problem of
    every file. With `cache`, valid typed tables and per-file reports are stored
    under `paths.CACHE / "validated"` and reused while the file's bytes are unchanged.
    """
    return validate_quarters([quarter], data_root, cache=cache)[quarter]


def validate_quarters(
    quarters: list[str], data_root: Path | None = None, *, cache: bool = True, workers: int = 2
) -> dict[str, Report]:
    """validate_quarter for several quarters at once: {quarter: Report}, in order.

    Their files are validated `workers` at a time, largest first, whichever quarter
    they belong to: pyarrow parses and checks with the GIL released, so two files keep
    two cores busy, and memory holds two file streams at most, whatever their size.
    """
    return {
        q: report
        for q, report in zip(
            quarters, _validate_many(quarters, data_root, schema.FILES, cache, workers), strict=True
        )
    }


def load_tables(
    quarter: str,
    data_root: Path | None = None,
    names: Iterable[str] | None = None,
    columns: Mapping[str, list[str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Validated typed tables of `quarter`: `{name: DataFrame}`.

    `names` selects extracts (default all of schema.FILES); `columns` maps a name to
    the columns to read (default all). Only the selected files are validated
    (through the cache); raises ExtractError carrying the Report if any is invalid.
    Dtypes follow the typed-table rules (string, datetime64[ns], bool/boolean,
    int64, float64).
    """
    wanted = list(names) if names is not None else list(schema.FILES)
    unknown = [n for n in wanted if n not in schema.FILES]
    if unknown:
        raise ValueError(f"unknown extract name(s): {', '.join(unknown)}")
    columns = dict(columns or {})
    for name, cols in columns.items():
        if name not in schema.FILES:
            raise ValueError(f"unknown extract name in columns: {name}")
        missing = [c for c in cols if c not in schema.FILES[name].column_names]
        if missing:
            raise ValueError(f"{name} has no column(s): {', '.join(missing)}")
    specs = {n: schema.FILES[n] for n in wanted}
    report = _validate_many([quarter], data_root, specs, True, 1)[0]
    if not report.ok:
        raise ExtractError(report)
    tables = {}
    for name in wanted:
        info = report.files[name]
        path = _cache_paths(quarter, name, info.sha256)[0]
        table = pq.read_table(path, columns=columns.get(name))
        tables[name] = _typed_frame(table, specs[name])
    return tables


# --- orchestration ---------------------------------------------------------------


@dataclass
class _FileResult:
    """Everything validate_quarter needs to know about one file (JSON-cacheable)."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    rows: int = 0

    def add(self, problem: Problem) -> None:
        self.counts[problem.rule] = self.counts.get(problem.rule, 0) + 1
        self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return not self.counts

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "problems": [asdict(p) for p in self.problems],
            "counts": self.counts,
            "notes": self.notes,
            "encoding": self.encoding,
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, data: dict) -> _FileResult:
        return cls(
            file=data["file"],
            problems=[Problem(**p) for p in data["problems"]],
            counts=dict(data["counts"]),
            notes=list(data["notes"]),
            encoding=data["encoding"],
            rows=int(data["rows"]),
        )


def _root(data_root: Path | None) -> Path:
    return Path(data_root) if data_root is not None else paths.data_root()


def _file_order(file: str) -> tuple[int, str]:
    stem = _FileInfos._stem(file)
    names = list(schema.FILES)
    return (names.index(stem) if stem in names else len(names), file)


def _validate_many(
    quarters: list[str],
    data_root: Path | None,
    specs: Mapping[str, schema.FileSpec],
    cache: bool,
    workers: int,
) -> list[Report]:
    parsed = [Quarter.parse(q) for q in quarters]  # before anything touches the disk
    folders = [paths.quarter_dir(str(q), _root(data_root)) for q in parsed]
    jobs = [
        (q, folder, spec)
        for q, folder in zip(parsed, folders, strict=True)
        if folder.is_dir()
        for spec in specs.values()
    ]

    def size(job) -> int:
        _, folder, spec = job
        return sum(
            p.stat().st_size
            for p in (folder / f"{spec.name}.csv", folder / f"{spec.name}.csv.gz")
            if p.is_file()
        )

    jobs.sort(key=size, reverse=True)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        done = dict(
            zip(
                ((str(q), spec.name) for q, _, spec in jobs),
                pool.map(lambda job: _validate_file(job[2], job[1], job[0], cache=cache), jobs),
                strict=True,
            )
        )
    reports = []
    for q, folder in zip(parsed, folders, strict=True):
        if not folder.is_dir():
            problem = Problem(f"{q}/", None, None, None, R_NO_FOLDER.format(path=folder))
            reports.append(Report([problem], quarter=str(q)))
            continue
        problems: list[Problem] = []
        counts: dict[tuple[str, str], int] = {}
        notes: list[str] = []
        files: dict[str, FileInfo] = {}
        for name in specs:
            result, info = done[(str(q), name)]
            problems.extend(result.problems)
            for rule, n in result.counts.items():
                counts[(result.file, rule)] = n
            notes.extend(result.notes)
            if info is not None:
                files[name] = info
        if specs is schema.FILES:
            notes.extend(_unknown_files(folder))
        reports.append(Report(problems, notes, files, counts, quarter=str(q)))
    return reports


def _unknown_files(folder: Path) -> list[str]:
    known = {f"{n}{s}" for n in schema.FILES for s in (".csv", ".csv.gz")}
    return [
        f"unknown file ignored / 未识别的文件已忽略: {p.name}"
        for p in sorted(folder.iterdir())
        if p.name not in known and not p.name.startswith(".") and p.name != "editorial"
    ]


def _validate_file(
    spec: schema.FileSpec, folder: Path, q: Quarter, *, cache: bool
) -> tuple[_FileResult, FileInfo | None]:
    plain, gz = folder / f"{spec.name}.csv", folder / f"{spec.name}.csv.gz"
    if plain.is_file() and gz.is_file():
        result = _FileResult(plain.name)
        result.add(Problem(plain.name, None, None, None, R_BOTH_FILES.format(csv=plain.name, gz=gz.name)))
        return result, None
    if not plain.is_file() and not gz.is_file():
        result = _FileResult(plain.name)
        result.add(Problem(plain.name, None, None, None, R_MISSING_FILE.format(section=spec.section)))
        return result, None
    path = plain if plain.is_file() else gz
    sha = _sha256(path, memo=cache)
    parquet_path, report_path = _cache_paths(str(q), spec.name, sha)
    fingerprint = _fingerprint(spec)
    if cache:
        cached = _read_cached(report_path, parquet_path, fingerprint)
        if cached is not None:
            return cached, FileInfo(path, sha, cached.encoding or "", cached.rows)
    if cache:
        parquet_path.parent.mkdir(parents=True, exist_ok=True)
    result = _parse_file(spec, path, q, parquet_path if cache else None)
    if cache:
        _write_json(report_path, {"fingerprint": fingerprint, "result": result.to_json()})
    return result, FileInfo(path, sha, result.encoding or "", result.rows)


def parquet_path(quarter: str, name: str, sha256: str) -> Path:
    """Where the validated, typed table of one extract (by content hash) is cached."""
    return _cache_paths(quarter, name, sha256)[0]


def _cache_paths(quarter: str, name: str, sha: str) -> tuple[Path, Path]:
    folder = Path(paths.CACHE) / "validated" / f"v{SCHEMA_VERSION}" / quarter
    return folder / f"{name}-{sha}.parquet", folder / f"{name}-{sha}.report.json"


def _fingerprint(spec: schema.FileSpec) -> str:
    """Changes when the file's contract in schema.py changes, invalidating the cache."""
    return hashlib.sha256(repr(spec).encode()).hexdigest()[:16]


def _read_cached(report_path: Path, parquet_path: Path, fingerprint: str) -> _FileResult | None:
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
        if data.get("fingerprint") != fingerprint:
            return None
        result = _FileResult.from_json(data["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if result.ok and not parquet_path.is_file():
        return None
    return result


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    os.replace(tmp, path)


def _sha256(path: Path, *, memo: bool = True) -> str:
    """SHA-256 of a file's bytes, remembered against its (size, mtime, inode) like git's
    index does: every section kernel asks for the quarter's hashes, and re-reading
    ~200 MB of extracts in each would cost more than the section itself."""
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
    path_key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    memo_file = Path(paths.CACHE) / "hashes" / f"{path_key}.json"
    if memo:
        try:
            known = json.loads(memo_file.read_text(encoding="utf-8"))
            if known["stat"] == stamp:
                return known["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    if memo:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        _write_json(memo_file, {"stat": stamp, "sha256": digest.hexdigest()})
    return digest.hexdigest()


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
    multibyte: int = 0  # bytes beyond one per character in the valid prefix
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
        data = pending + chunk
        valid = None
        if encoding == "utf-8" and chunk and (cut := data.rfind(b"\n") + 1):
            # Whole lines: Arrow checks the UTF-8 without building a str (several times
            # faster); invalid bytes fall through to Python, which says where they are.
            chars = _utf8_chars(data[:cut])
            if chars is not None:
                valid, pending = data[:cut], data[cut:]
        if valid is None:
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
        multibyte += len(valid) - chars
        newlines += valid.count(b"\n")
        quotes += valid.count(b'"')
        if b"\r" in valid and valid.count(b"\r") != valid.count(b"\r\n"):
            lone_cr = True
        size += len(valid)
        if valid:
            last = valid[-1:]
    if pending:
        return _Scan(False, size, newlines + 1, multibyte, bom=bom)
    lines = newlines + (1 if size and last != b"\n" else 0)
    return _Scan(True, 0, 0, multibyte, size, lines, quotes, lone_cr, bom)


def _utf8_chars(data: bytes) -> int | None:
    """Characters in `data` when it is valid UTF-8, else None."""
    buf = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    try:
        text = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buf]).cast(pa.large_string())
    except pa.ArrowInvalid:
        return None
    return pc.utf8_length(text)[0].as_py()


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
        # Dictionary pages pay off only for repetitive text, not for timestamps/numbers.
        text_columns = [c.name for c in spec.columns if c.kind == schema.TEXT]
        writer = pq.ParquetWriter(tmp_parquet, _arrow_schema(spec), use_dictionary=text_columns)
    invalid_rows = [0]
    records = 0
    read_failed = False
    has_key = all(k in positions for k in spec.key)
    with tempfile.TemporaryDirectory(prefix="kfwk-keys-") as scratch:
        # The keys' hashes go to DuckDB as they stream by, so memory does not grow with
        # the file; a repeated hash sends the keys themselves to the exact check.
        keys = _KeyHashes(Path(scratch), spec.key) if has_key else None
        try:
            for batch in _stream_batches(
                path, encoding, names, present, positions, header_lines, invalid_rows
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


def _stream_batches(path, encoding, names, present, positions, header_lines, invalid_rows):
    """Record batches of the present contract columns, all as strings, raw."""
    auto = [f"c{i}" for i in range(len(names))]
    include = [auto[positions[c.name]] for c in present]
    read_options = pacsv.ReadOptions(
        column_names=auto,
        skip_rows=header_lines,
        block_size=_BLOCK_SIZE,
        encoding="utf8" if encoding == "utf-8" else encoding,
    )

    def on_invalid(_row) -> str:
        invalid_rows[0] += 1
        return "skip"

    parse_options = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
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
    v = pc.utf8_trim_whitespace(raw)
    present = _np(pc.not_equal(v, ""))
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
        typed = v if ok.all() else pc.if_else(pa.array(ok), v, pa.scalar(None, pa.string()))
        return _Checked(v, present, ok, typed)
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


def _lengths(v: pa.Array) -> np.ndarray:
    """Bytes per value (= characters for ASCII)."""
    return pc.binary_length(v).to_numpy(zero_copy_only=False)


def _plain_timestamps(v: pa.Array, present: np.ndarray, lengths: np.ndarray) -> _Checked | None:
    """The usual batch, every value `YYYY-MM-DD HH:MM:SS` or empty, checked without a
    regex (which costs three times the cast): Arrow's ISO-8601 cast takes a string of
    19 bytes only in that form (a date alone is 10, an hour or minute form shorter, a
    zone longer or refused), so a cast that succeeds is _TS_DASH_RE's verdict. None for
    any other batch, or when the cast fails: then the regex path decides."""
    if not ((lengths == 19) | ~present).all():
        return None
    every = present.all()
    try:
        stamps = pc.cast(
            v if every else pc.if_else(pa.array(present), v, "2000-01-01 00:00:00"), pa.timestamp("us")
        )
    except pa.ArrowInvalid:
        return None
    values = stamps.to_numpy(zero_copy_only=False)
    return _Checked(v, present, present.copy(), stamps if every else pa.array(values, mask=~present), values)


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
    """64-bit hashes of a file's non-empty keys (DuckDB's `hash`), spread by their top
    bits over 16 files in a scratch folder as they stream by; at the end each bucket is
    sorted on its own, so memory stays at one sixteenth of 8 bytes a row. Two equal
    hashes are a repeated key or, about once in 10^7 files of 10^6 rows, a collision;
    either way the keys themselves are then compared exactly (_exact_duplicates), so a
    collision costs time, never a verdict."""

    BUCKETS = 16

    def __init__(self, folder: Path, key: tuple[str, ...]):
        import duckdb  # only validation of a new file pays for it

        self.columns = [f"k{i}" for i in range(len(key))]
        self.con = duckdb.connect(config={"threads": 1})
        nonempty = " AND ".join(f"{c} <> ''" for c in self.columns)
        self.query = f"SELECT hash({', '.join(self.columns)}) AS h FROM batch WHERE {nonempty}"
        self.paths = [folder / f"hashes-{i:02d}.bin" for i in range(self.BUCKETS)]
        self.files = [open(p, "wb") for p in self.paths]  # noqa: SIM115 - closed in repeated()

    def write(self, columns: list[pa.Array]) -> None:
        self.con.register("batch", pa.table(columns, names=self.columns))
        hashes = self.con.execute(self.query).fetchnumpy()["h"]
        self.con.unregister("batch")
        bucket = hashes >> np.uint64(64 - 4)
        for i, fh in enumerate(self.files):
            fh.write(hashes[bucket == i].tobytes())

    def repeated(self) -> bool:
        """Does any hash occur twice? Closes everything."""
        self.con.close()
        for fh in self.files:
            fh.close()
        for path in self.paths:
            hashes = np.fromfile(path, dtype=np.uint64)
            hashes.sort()
            if (hashes[1:] == hashes[:-1]).any():
                return True
        return False


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


# --- typed output ----------------------------------------------------------------


def _arrow_schema(spec: schema.FileSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind]) for c in spec.columns])


def _pandas_dtype(col: schema.Column):
    if col.kind == schema.TEXT:
        return pd.StringDtype()
    if col.kind == schema.BOOLEAN:
        return pd.BooleanDtype() if col.optional else np.dtype(bool)
    if col.kind == schema.INTEGER:
        return np.dtype("int64")
    if col.kind == schema.DECIMAL:
        return np.dtype("float64")
    return np.dtype("datetime64[ns]")


def _typed_frame(table: pa.Table, spec: schema.FileSpec) -> pd.DataFrame:
    """Parquet table -> DataFrame with the typed-table dtypes listed in helpers.data.schema."""
    dtypes = {name: _pandas_dtype(spec.column(name)) for name in table.column_names}
    return (
        table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
        .astype(dtypes)
        .reset_index(drop=True)
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _quote(value: str) -> str:
    text = value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > 80:
        text = text[:77] + "..."
    return f'"{text}"'


__all__ = [
    "SCHEMA_VERSION",
    "Problem",
    "FileInfo",
    "Report",
    "ExtractError",
    "validate_quarter",
    "load_tables",
    "quarter_available",
]
