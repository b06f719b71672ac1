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

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from helpers import paths
from helpers.data import schema
from helpers.quarter import Quarter

if TYPE_CHECKING:  # imported where used: a publish whose extracts are cached needs none of them
    import pandas as pd
    import pyarrow as pa

# Bump whenever a rule or the typed output changes: older cache entries are ignored.
SCHEMA_VERSION = 1

# Problems kept in memory per (file, rule); counts stay exact beyond this.
MAX_STORED_PER_RULE = 200

_READ_CHUNK = 4 << 20

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
    import pyarrow.parquet as pq

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
    from helpers.data import parse  # pyarrow & co.: only a file not seen before pays for them

    result = parse._parse_file(spec, path, q, parquet_path if cache else None)
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


# --- typed output ----------------------------------------------------------------


def _pandas_dtype(col: schema.Column):
    import numpy as np
    import pandas as pd

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
    import pandas as pd
    import pyarrow as pa

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
