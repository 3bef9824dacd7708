"""Parsers for the two on-disk layouts of Fashion-MNIST: IDX and Kaggle CSV.

No torch here. Every parser validates what it reads and raises
:class:`~fashionclf.exceptions.DataFormatError` naming the file and the problem.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from ..exceptions import DataFormatError

N_PIXELS = 784
IMAGE_SIDE = 28
N_CLASSES = 10
KAGGLE_COLUMNS = ["label", *(f"pixel{i}" for i in range(1, N_PIXELS + 1))]

# IDX magic numbers: 0x0000 then dtype code 0x08 (uint8) then number of dims.
_IDX_IMAGES_MAGIC = 0x00000803
_IDX_LABELS_MAGIC = 0x00000801


#: Most images an IDX file may declare (the official training file has 60,000):
#: a header is refused before any pixel is read if it claims more.
MAX_IDX_IMAGES = 1_000_000
_CHUNK = 1 << 20


def _read_exactly(fh: IO[bytes], n: int) -> np.ndarray:
    """Read up to ``n`` bytes into one uint8 array, 1 MiB at a time.

    Returns the bytes read (fewer than ``n`` if the file is short): one
    buffer in all, never the chunks plus their join plus a copy.
    """
    out = np.empty(n, np.uint8)
    view, filled = memoryview(out.data), 0
    while filled < n:
        got = fh.readinto(view[filled : filled + _CHUNK])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    return out[:filled]


_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _corrupt_gzip(path: Path, exc: Exception, fix: str = "") -> DataFormatError:
    """Word the error for a gzip stream that cannot be read to its end."""
    return DataFormatError(
        f"{path}: the gzip stream is corrupt or truncated ({exc}){fix}."
    )


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file of Fashion-MNIST images or labels.

    The header is read and checked first; then at most the number of bytes it
    declares (plus one, to detect trailing data) is read, so a small
    compressed file cannot inflate into a large allocation.

    Parameters
    ----------
    path : str or path-like
        An IDX file (``*-idx3-ubyte`` images or ``*-idx1-ubyte`` labels),
        optionally gzip'd (``.gz``).

    Returns
    -------
    ndarray of uint8
        Images as ``(n, 784)`` (flattened row-major) or labels as ``(n,)``.

    Raises
    ------
    DataFormatError
        Wrong magic number, truncated data, labels outside 0-9, images that
        are not 28x28, or more than ``MAX_IDX_IMAGES`` items declared.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            dims, header_len = _read_idx_header(fh, path)  # type: ignore[arg-type]
            n_bytes = int(np.prod(dims))
            data = _read_exactly(fh, n_bytes)  # type: ignore[arg-type]
            trailing = bool(fh.read(1))
    except _GZIP_ERRORS as exc:
        raise _corrupt_gzip(path, exc, "; delete the file and fetch it again") from exc
    if len(data) != n_bytes or trailing:
        raise DataFormatError(
            f"{path}: IDX header declares shape {tuple(dims)} "
            f"({n_bytes + header_len} bytes) but the file holds "
            f"{'more' if trailing else len(data) + header_len} bytes; it "
            "is truncated or corrupt."
        )
    if len(dims) == 1:
        _check_labels(data, path)
        return data
    return data.reshape(dims[0], N_PIXELS)


def _read_idx_header(fh: IO[bytes], path: Path) -> tuple[list[int], int]:
    """Read and validate an IDX header; return its dimensions and length."""
    head = fh.read(4)
    if len(head) < 4:
        raise DataFormatError(
            f"{path}: file has {len(head)} bytes, too short for an IDX header."
        )
    magic = int.from_bytes(head, "big")
    if magic not in (_IDX_IMAGES_MAGIC, _IDX_LABELS_MAGIC):
        raise DataFormatError(
            f"{path}: IDX magic number is 0x{magic:08x}; expected "
            f"0x{_IDX_IMAGES_MAGIC:08x} (images) or 0x{_IDX_LABELS_MAGIC:08x} (labels)."
        )
    ndim = magic & 0xFF
    raw_dims = fh.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataFormatError(f"{path}: IDX header is truncated.")
    dims = [int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
        raise DataFormatError(
            f"{path}: images are {dims[1]}x{dims[2]}; expected 28x28 Fashion-MNIST "
            "images."
        )
    if dims[0] > MAX_IDX_IMAGES:
        raise DataFormatError(
            f"{path}: IDX header declares {dims[0]:,} items; expected at most "
            f"{MAX_IDX_IMAGES:,} (Fashion-MNIST has 70,000)."
        )
    return dims, 4 + 4 * ndim


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write uint8 images ``(n, 28, 28)``/``(n, 784)`` or labels ``(n,)`` as IDX.

    The file is gzip'd when ``path`` ends in ``.gz``. Used to build test
    fixtures and local mirrors.
    """
    path = Path(path)
    arr = np.asarray(array, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    magic = _IDX_LABELS_MAGIC if arr.ndim == 1 else _IDX_IMAGES_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape
    )
    payload = header + arr.tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


def _check_labels(y: np.ndarray, path: Path) -> None:
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        bad = y[(y < 0) | (y >= N_CLASSES)][0]
        raise DataFormatError(
            f"{path}: found label {bad}; expected labels 0-9 (10 classes)."
        )


def read_kaggle_csv(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one Kaggle-format Fashion-MNIST CSV file.

    The header line is read and checked first (at most
    ``MAX_HEADER_BYTES``), before pandas sees the file; rows are then parsed
    ``_CSV_CHUNK_ROWS`` at a time and kept as uint8, at most
    ``MAX_CSV_ROWS`` of them, so a small compressed file cannot make the
    parser take hours or memory grow with what it claims.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` or ``.csv.gz`` file with header ``label,pixel1,...,pixel784``
        and one image per row, pixel values 0-255.

    Returns
    -------
    X : ndarray of uint8, shape (n, 784)
    y : ndarray of int64, shape (n,)

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    DataFormatError
        Wrong or oversized header, a row with the wrong number of columns, a
        non-integer value, a pixel outside 0-255, a label outside 0-9, or more
        than ``MAX_CSV_ROWS`` rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file.")
    cols = _csv_header(path)
    if cols != KAGGLE_COLUMNS:
        shown = [*cols[:3], "...", *cols[-1:]] if len(cols) > 4 else cols
        raise DataFormatError(
            f"{path}: header has {len(cols)} columns {shown}; expected "
            f"{N_PIXELS + 1} columns 'label,pixel1,...,pixel784'."
        )
    Xs, ys = [], []
    for offset, frame in _csv_chunks(path, len(cols), engine="c"):
        X, y = _kaggle_rows(frame, path, offset)
        Xs.append(X)
        ys.append(y)
    if not Xs:  # a header and no rows: a valid, empty file
        return np.empty((0, N_PIXELS), np.uint8), np.empty(0, np.int64)
    return np.concatenate(Xs), np.concatenate(ys)


def _kaggle_rows(frame, path: Path, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Check one chunk of Kaggle rows (``offset`` rows came before it)."""
    if list(frame.columns) != KAGGLE_COLUMNS:  # quoting read otherwise by pandas
        raise DataFormatError(
            f"{path}: pandas reads the header as {len(frame.columns)} columns; "
            f"expected {N_PIXELS + 1} columns 'label,pixel1,...,pixel784'."
        )
    missing = frame.isna().to_numpy().any(axis=1)
    if missing.any():
        row = offset + int(np.flatnonzero(missing)[0])
        raise DataFormatError(
            f"{path}: data row {row + 1} has fewer than {N_PIXELS + 1} values "
            f"(label + {N_PIXELS} pixels)."
        )
    if not all(pd.api.types.is_integer_dtype(t) for t in frame.dtypes):
        bad = next(
            c for c, t in frame.dtypes.items() if not pd.api.types.is_integer_dtype(t)
        )
        raise DataFormatError(
            f"{path}: column {bad!r} holds non-integer values; expected integers "
            "0-255 for pixels and 0-9 for labels."
        )
    values = frame.to_numpy()
    y = values[:, 0].astype(np.int64)
    X = values[:, 1:]
    if X.size and (X.min() < 0 or X.max() > 255):
        row = int(np.flatnonzero(((X < 0) | (X > 255)).any(axis=1))[0])
        raise DataFormatError(
            f"{path}: data row {offset + row + 1} has a pixel value outside 0-255 "
            f"(min {X[row].min()}, max {X[row].max()})."
        )
    _check_labels(y, path)
    return X.astype(np.uint8), y


#: The longest header line a CSV may have (the 785 Kaggle names take 7 KB).
MAX_HEADER_BYTES = 64 * 1024
#: Most columns a CSV header may name.
MAX_CSV_COLUMNS = 4096
#: Most data rows a CSV may hold (the Kaggle training file has 60,000).
MAX_CSV_ROWS = 1_000_000
#: Rows parsed at a time (as int64 by pandas, then kept as uint8).
_CSV_CHUNK_ROWS = 2048


def _csv_header(path: Path) -> list[str]:
    """Read and check the header line, bounded, before pandas parses anything.

    pandas renames repeated column names in quadratic time, so a tiny file
    whose header repeats one name could keep it busy for hours.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            line = fh.readline(MAX_HEADER_BYTES + 1)
    except _GZIP_ERRORS as exc:
        raise _corrupt_gzip(path, exc) from exc
    if len(line) > MAX_HEADER_BYTES:
        raise DataFormatError(
            f"{path}: no header line within {MAX_HEADER_BYTES:,} bytes; expected a "
            "CSV header such as 'label,pixel1,...,pixel784'."
        )
    text = line.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    if not text:
        raise DataFormatError(
            f"{path}: cannot parse an empty file as CSV; expected a header such as "
            "'label,pixel1,...,pixel784'."
        )
    names = [n.strip().strip('"').strip() for n in text.split(",")]
    if len(names) > MAX_CSV_COLUMNS:
        raise DataFormatError(
            f"{path}: header has {len(names):,} columns; expected at most "
            f"{MAX_CSV_COLUMNS:,} (a pixel CSV has 784 or 785)."
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataFormatError(
                f"{path}: header repeats {name!r}; expected distinct column names."
            )
        seen.add(name)
    return names


def _csv_chunks(path: Path, n_columns: int, **kwargs):
    """Yield ``(rows before, DataFrame)`` chunks, at most ``MAX_CSV_ROWS`` rows."""
    offset = 0
    try:
        reader = pd.read_csv(path, chunksize=_CSV_CHUNK_ROWS, **kwargs)
        for frame in reader:
            if offset + len(frame) > MAX_CSV_ROWS:
                raise DataFormatError(
                    f"{path}: more than {MAX_CSV_ROWS:,} rows; expected at most "
                    f"{MAX_CSV_ROWS:,} (Fashion-MNIST has 70,000). Split the file."
                )
            if len(frame):
                yield offset, frame
            offset += len(frame)
    except _GZIP_ERRORS as exc:
        raise _corrupt_gzip(path, exc) from exc
    except pd.errors.ParserError as exc:
        raise DataFormatError(
            f"{path}: a row does not have {n_columns} columns (as many as the "
            f"header names; a Kaggle file has label + {N_PIXELS} pixels): {exc}"
        ) from exc
    except (ValueError, pd.errors.EmptyDataError) as exc:
        raise DataFormatError(
            f"{path}: cannot parse as integer pixel rows ({exc}); expected header "
            "'label,pixel1,...,pixel784' and integers 0-255."
        ) from exc


def read_pixel_csv(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a CSV of pixel rows: columns ``pixel1..pixel784``, ``label`` optional.

    Returns ``(X, y)`` with ``y`` None when there is no ``label`` column.
    Raises DataFormatError naming the file when the header is oversized or
    repeats a name, pixel columns are missing, values are not integers in
    0-255, or the file has more than ``MAX_CSV_ROWS`` rows (checked as in
    :func:`read_kaggle_csv`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file.")
    columns = _csv_header(path)
    pixels = KAGGLE_COLUMNS[1:]
    missing = [c for c in pixels if c not in columns]
    if missing:
        raise DataFormatError(
            f"{path}: {len(missing)} pixel columns missing (first: {missing[0]!r}); "
            "expected columns pixel1..pixel784 (and optionally label)."
        )
    Xs, ys = [], []
    for _, frame in _csv_chunks(path, len(columns)):
        X = frame[pixels].to_numpy()
        if not np.issubdtype(X.dtype, np.integer) or (
            X.size and (X.min() < 0 or X.max() > 255)
        ):
            raise DataFormatError(
                f"{path}: pixel values must be integers 0-255; found dtype {X.dtype}"
                + (
                    f", range [{X.min()}, {X.max()}]"
                    if np.issubdtype(X.dtype, np.number)
                    else ""
                )
                + "."
                + (
                    " Values of at most 1 look scaled to 0-1: write the CSV as "
                    "round(x * 255)."
                    if np.issubdtype(X.dtype, np.floating)
                    and X.size
                    and 0 < X.max() <= 1
                    and X.min() >= 0
                    else ""
                )
            )
        Xs.append(X.astype(np.uint8))
        if "label" in frame.columns:
            ys.append(frame["label"].to_numpy())
    X = np.concatenate(Xs) if Xs else np.empty((0, N_PIXELS), np.uint8)
    y = np.concatenate(ys) if ys else None
    if "label" in columns and y is None:
        y = np.empty(0, np.int64)
    return X, y
