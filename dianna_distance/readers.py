"""The readers of the package's input files, one per kind, used by the command line, the batch kinds and the dashboard.

* :func:`read_csv_numbers`: a ``.csv`` file of numbers with an optional header (a series, a row for the dashboard).
* :func:`read_table_csv`: a ``.csv`` table whose first line must name the columns (table rows, background rows).
* :func:`read_series_array`: a series ``.npy`` or ``.csv`` file as a 2-D array ``(T, C)`` and its channel names.
* ``.npy`` files: :func:`dianna_distance.files.read_npy` and, for an upload's bytes,
  :func:`dianna_distance.files.read_npy_bytes` (a plain numeric array, never a pickle; the header read first).
* :func:`check_columns`: inputs are matched by their column names, never by position alone.

Every reader takes a path, or a file's name and its bytes (``data=``, an upload), and names the file, the line
and the column of what it refuses.

**How a ``.csv`` file is read.** The text is UTF-8; a byte-order mark (Excel's "CSV UTF-8") is dropped, so the
first cell stays a number. Blank lines are skipped. Every row holds the same number of cells, and no cell is empty:
a gap is refused in the first row as in any other (a first row ``1.5,,2`` is not a header that swallows the first
time step). The first row is a **header** when none of its cells is a number. One exception, pandas: a first row
of exactly the integers ``0,1,...,C-1`` is what ``DataFrame.to_csv(index=False)`` writes for integer column names.
It is a header when a later cell is written with a decimal point or an exponent (pandas writes float values as
``0.0``, never ``0``, so such data cannot hold the row ``0,1,...``); when every later cell is an integer too, the
row cannot be told from data and the file is refused, asking for names or a ``.npy`` file. A first row that mixes
names and numbers is refused. Column names must differ from each other.

**Columns by name.** A reference (a row, a series) or background rows whose header names the columns in another
order than the item's are refused (:func:`check_columns`), never read by position: reorder the columns. When
either side has no names (a ``.npy`` file, a ``.csv`` without a header) only the number of columns can be checked.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.files import check_input_file, read_npy, read_npy_bytes

#: The series files the readers take.
SERIES_SUFFIXES = (".npy", ".csv")

_INTEGER = re.compile(r"[+-]?\d+")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _text(path: str | Path, name: str, data: bytes | None) -> tuple[str, str]:
    """The file's text (a byte-order mark dropped) and how messages name it."""
    if data is None:
        path = check_input_file(path, name)
        with open(path, "rb") as file:
            data = file.read()
    shown = repr(str(path))
    try:
        return data.decode("utf-8-sig"), shown
    except UnicodeDecodeError as error:
        raise ValueError(f"{name}: {shown} is not a UTF-8 text .csv file ({error.reason} at byte {error.start})") \
            from error


def _header_rule(first: list[str], rest: list[tuple[int, list[str]]], name: str, shown: str) -> bool:
    """Whether the first row is a header (see the module docstring)."""
    numbers = [_is_number(cell) for cell in first]
    if not any(numbers):
        return True
    if not all(numbers):
        raise ValueError(f"{name}: {shown} line 1 mixes names and numbers ({first}): a header names every column, "
                         "a data row holds a number in every column")
    positions = [str(index) for index in range(len(first))]
    if [cell.strip() for cell in first] != positions or not rest:
        return False
    if any(not _INTEGER.fullmatch(cell.strip()) for _, row in rest for cell in row):
        return True  # pandas' header of integer column names over data written as floats
    raise ValueError(f"{name}: {shown} line 1 ({','.join(first)}) may be pandas' header of integer column names or "
                     "the first row of data, and the rows below cannot tell: give the columns names (e.g. "
                     "df.columns = ['a', 'b']) or save the array as a .npy file")


def read_csv_numbers(path: str | Path, name: str, data: bytes | None = None
                     ) -> tuple[list[str] | None, np.ndarray]:
    """A ``.csv`` file of numbers with an optional header, read as the module docstring says.

    Args:
        path: The file; with ``data``, the name of the uploaded file (for messages).
        name: What the file is (``"series"``, ``"reference"``), for messages.
        data: The file's bytes (an upload); None: read ``path``.

    Returns:
        The column names (None without a header) and the values ``(N, C)`` as float64 (a cell ``nan`` is NaN).

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: The file cannot be read.
        ValueError: Not UTF-8 text, no rows of numbers, a gap, a row of another length, a cell that is not a
            number, repeated column names, or a first row that may be a header or data (each named by its line).
    """
    text, shown = _text(path, name, data)
    lines = list(csv.reader(io.StringIO(text, newline="")))
    numbered = [(number, row) for number, row in enumerate(lines, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise ValueError(f"{name}: {shown} is empty; expected rows of numbers")
    width = len(numbered[0][1])
    for number, row in numbered:
        if len(row) != width:
            raise ValueError(f"{name}: {shown} line {number} has {len(row)} cells, but line {numbered[0][0]} has "
                             f"{width}")
        gaps = [column for column, cell in enumerate(row) if not cell.strip()]
        if gaps:
            hint = (" (a pandas index column? save with df.to_csv(path, index=False))"
                    if number == numbered[0][0] and gaps == [0] else "")
            raise ValueError(f"{name}: {shown} line {number}, column {gaps[0] + 1} is empty: every cell must hold a "
                             f"number (or, in a header, a name){hint}")
    first = numbered[0][1]
    names = None
    if _header_rule(first, numbered[1:], name, shown):
        names = [cell.strip() for cell in first]
        if len(set(names)) != len(names):
            repeated = sorted({column for column in names if names.count(column) > 1})
            raise ValueError(f"{name}: {shown} names the columns {repeated} more than once; each column needs its "
                             "own name")
        numbered = numbered[1:]
    if not numbered:
        raise ValueError(f"{name}: {shown} has a header but no rows of numbers")
    values = np.empty((len(numbered), width))
    for index, (number, row) in enumerate(numbered):
        for column, cell in enumerate(row):
            if not _is_number(cell):
                where = repr(names[column]) if names else str(column + 1)
                raise ValueError(f"{name}: {shown} line {number}, column {where}: {cell!r} is not a number")
            values[index, column] = float(cell)
    return names, values


def read_table_csv(path: str | Path, name: str, data: bytes | None = None) -> tuple[list[str], np.ndarray]:
    """A table of numbers from a ``.csv`` file whose first line names the columns (see the module docstring).

    Args:
        path: The file; with ``data``, the uploaded file's name.
        name: What the table is (``"rows"``, ``"training data"``), for messages.
        data: The file's bytes (an upload); None: read ``path``.

    Returns:
        The column names and the values ``(N, F)`` as float64.

    Raises:
        ValueError: As :func:`read_csv_numbers`, and for a file without a header.
    """
    names, values = read_csv_numbers(path, name, data)
    if names is None:
        raise ValueError(f"{name}: {str(path)!r} has no header: its first line must name the columns")
    return names, values


def read_series_array(path: str | Path, name: str = "series", data: bytes | None = None
                      ) -> tuple[np.ndarray, list[str] | None]:
    """A series file as a 2-D array ``(T, C)`` and its channel names (a ``.csv`` header), not yet checked.

    A ``.npy`` file holds ``(T, C)``, or ``(T,)`` for one channel; a ``.csv`` file one row per time step and one
    column per channel (:func:`read_csv_numbers`).

    Raises:
        ValueError: Another suffix, or what the ``.npy`` or ``.csv`` reader refuses.
    """
    suffix = Path(str(path)).suffix.lower()
    if suffix not in SERIES_SUFFIXES:
        raise ValueError(f"{name}: {str(path)!r} must be a .npy or .csv file, got suffix {Path(str(path)).suffix!r}")
    if suffix == ".npy":
        values = read_npy(path, name) if data is None else read_npy_bytes(data, f"{name}: {str(path)!r}")
        return (values[:, None] if values.ndim == 1 else values), None
    names, values = read_csv_numbers(path, name, data)
    return values, names


def check_columns(names: Sequence[str] | None, expected: Sequence[str] | None, what: str, item: str) -> None:
    """Refuse an input whose column names are not the item's, in the item's order (a reorder is named as such).

    Args:
        names: The input's column names (None: it has none, and nothing is checked).
        expected: The item's column names (None: it has none).
        what: The input, for messages (``"--reference-series 'b.csv'"``).
        item: The item, for messages (``"the series"``).

    Raises:
        ValueError: Other names, or the same names in another order.
    """
    if names is None or expected is None or list(names) == list(expected):
        return
    if sorted(names) == sorted(expected):
        raise ValueError(f"{what} has the columns {list(names)}, {item} has {list(expected)}: the same columns in "
                         "another order; columns are matched by their names, not their position, so reorder them "
                         "as the item's")
    raise ValueError(f"{what} has the columns {list(names)}, but {item} has {list(expected)}: they must be the "
                     "same, in the same order")


__all__ = ["SERIES_SUFFIXES", "check_columns", "read_csv_numbers", "read_series_array", "read_table_csv"]
