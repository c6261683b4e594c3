"""Reading import files as a stream of rows: CSV in UTF-8 or GBK/GB18030, and XLSX.

Memory does not grow with the file: CSV is decoded and parsed incrementally, XLSX is read with
openpyxl's read-only mode. Line numbers are the file's (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openpyxl import load_workbook

SAMPLE_BYTES = 1 << 20
BLOCK_BYTES = 1 << 20
# A cell may hold a long note; an unbalanced quote must not swallow the file unnoticed either.
csv.field_size_limit(16 << 20)


@dataclass(frozen=True)
class FileShape:
    format: str  # csv | xlsx
    encoding: str | None
    delimiter: str | None
    headers: list[str]


def detect_encoding(sample: bytes) -> str:
    """The encoding most lines of the sample are in: UTF-8 (with or without BOM) or GB18030,
    the superset of GBK that Chinese Excel exports use. Lines are decoded one by one anyway
    (``_lines``), so a file that mixes both is read right; this is what the file is said to be."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    lines = sample.split(b"\n")[:-1] or [sample]
    utf8 = 0
    for line in lines:
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            pass
    return "utf-8" if utf8 * 2 >= len(lines) else "gb18030"


def is_xlsx(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def shape(path: Path) -> FileShape:
    if is_xlsx(path):
        rows = iter_xlsx(path)
        first = next(rows, (1, []))
        return FileShape("xlsx", None, None, [h for h in first[1]])
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    text = "".join(_lines(io.BytesIO(sample)))
    try:
        delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    headers = next(reader, [])
    return FileShape("csv", encoding, delimiter, [h.strip() for h in headers])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return (
            str(value.isoformat())[:10]
            if str(value).endswith("00:00:00")
            else str(value.isoformat())
        )
    return str(value).strip()


def iter_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    # A file object, not the path: openpyxl judges a path by its extension, and uploads have none.
    with path.open("rb") as fh:
        workbook = load_workbook(fh, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell(v) for v in row]
        finally:
            workbook.close()


def _lines(raw: IO[bytes]) -> Iterator[str]:
    """Decode the file in blocks of whole lines, each block as UTF-8 when it is, else line by
    line: UTF-8 first and GB18030 when a line is not UTF-8, so a GBK name pasted into a UTF-8
    file (or the reverse) is read right. Strict UTF-8 almost never accepts GBK bytes, while
    GB18030 accepts nearly anything, so the order matters."""
    return itertools.chain.from_iterable(_blocks(raw))


def _blocks(raw: IO[bytes]) -> Iterator[Iterable[str]]:
    rest = b""
    first = True
    while chunk := raw.read(BLOCK_BYTES):
        if first and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        first = False
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        block, rest = chunk[:cut], chunk[cut:]
        if block:
            yield _decode(block)
    if rest:
        yield _decode(rest)


def _decode(block: bytes) -> Iterable[str]:
    try:
        # split on "\n" only, as the bytes were: a U+2028 inside a cell is not a line end
        return io.StringIO(block.decode("utf-8"), newline="\n")
    except UnicodeDecodeError:
        return [_decode_line(line) for line in io.BytesIO(block)]


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("gb18030", errors="replace")


def iter_csv(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    with path.open("rb") as raw:
        reader = csv.reader(_lines(raw), delimiter=delimiter)
        for row in reader:
            yield reader.line_num, row


def records(path: Path, file: FileShape) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for every data row, in the order of ``file.headers``; blank lines
    are skipped."""
    source = iter_xlsx(path) if file.format == "xlsx" else iter_csv(path, file.delimiter or ",")
    next(source, None)  # the header
    for number, cells in source:
        text = "".join(cells)
        if text and not text.isspace():
            yield number, cells


def rows(path: Path, file: FileShape) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {header: cell}) for every data row; blank lines are skipped."""
    headers = file.headers
    for number, cells in records(path, file):
        yield (
            number,
            {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(headers) if h},
        )
