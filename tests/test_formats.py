"""IDX and Kaggle-CSV parsers: valid files round-trip, bad files say what is wrong."""

import gzip

import numpy as np
import pytest

from fashionclf import DataFormatError, read_idx, read_kaggle_csv
from fashionclf.datasets.formats import KAGGLE_COLUMNS, write_idx


def _write_csv(path, X, y, header=None, gz=False):
    header = header or ",".join(KAGGLE_COLUMNS)
    rows = [header] + [
        ",".join(map(str, [lab, *row])) for lab, row in zip(y, X, strict=False)
    ]
    data = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, sample, gz):
    X, y, _, _ = sample
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"img{suffix}", X[:50])
    write_idx(tmp_path / f"lab{suffix}", y[:50])
    np.testing.assert_array_equal(read_idx(tmp_path / f"img{suffix}"), X[:50])
    np.testing.assert_array_equal(read_idx(tmp_path / f"lab{suffix}"), y[:50])


@pytest.mark.parametrize("gz", [False, True])
def test_csv_round_trip(tmp_path, sample, gz):
    X, y, _, _ = sample
    path = _write_csv(tmp_path / ("f.csv.gz" if gz else "f.csv"), X[:20], y[:20], gz=gz)
    X2, y2 = read_kaggle_csv(path)
    assert X2.dtype == np.uint8 and y2.dtype == np.int64
    np.testing.assert_array_equal(X2, X[:20])
    np.testing.assert_array_equal(y2, y[:20])


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x08\x05" + b"\x00" * 20)
    with pytest.raises(DataFormatError, match=r"bad: IDX magic number is 0x00000805"):
        read_idx(path)


def test_idx_truncated_payload(tmp_path, sample):
    path = tmp_path / "img"
    write_idx(path, sample[0][:10])
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        DataFormatError, match=r"img: IDX header declares shape \(10, 28, 28\)"
    ):
        read_idx(path)


def test_idx_truncated_gzip(tmp_path, sample):
    path = tmp_path / "img.gz"
    write_idx(path, sample[0][:100])
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(
        DataFormatError, match=r"img.gz: the gzip stream is corrupt or truncated"
    ):
        read_idx(path)


def test_idx_label_out_of_range(tmp_path):
    path = tmp_path / "lab"
    write_idx(path, np.array([1, 2, 12], dtype=np.uint8))
    with pytest.raises(
        DataFormatError, match=r"lab: found label 12; expected labels 0-9"
    ):
        read_idx(path)


def test_csv_wrong_column_count(tmp_path, sample):
    X, y, _, _ = sample
    path = _write_csv(tmp_path / "f.csv", X[:3], y[:3])
    lines = path.read_text().splitlines()
    lines[2] += ",7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFormatError, match=r"f.csv: a row does not have 785 columns"
    ):
        read_kaggle_csv(path)


def test_csv_short_row(tmp_path, sample):
    X, y, _, _ = sample
    path = _write_csv(tmp_path / "f.csv", X[:3], y[:3])
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFormatError, match=r"f.csv: data row 3 has fewer than 785 values"
    ):
        read_kaggle_csv(path)


def test_csv_pixel_out_of_range(tmp_path, sample):
    X, y, _, _ = sample
    X = X[:3].astype(int)
    X[1, 5] = 256
    path = _write_csv(tmp_path / "f.csv", X, y[:3])
    with pytest.raises(
        DataFormatError,
        match=r"data row 2 has a pixel value outside 0-255 \(min 0, max 256\)",
    ):
        read_kaggle_csv(path)


def test_csv_label_out_of_range(tmp_path, sample):
    X, _y, _, _ = sample
    path = _write_csv(tmp_path / "f.csv", X[:3], [1, 10, 2])
    with pytest.raises(DataFormatError, match=r"found label 10; expected labels 0-9"):
        read_kaggle_csv(path)


def test_csv_wrong_header(tmp_path, sample):
    X, y, _, _ = sample
    header = ",".join(["target", *KAGGLE_COLUMNS[1:]])
    path = _write_csv(tmp_path / "f.csv", X[:2], y[:2], header=header)
    with pytest.raises(DataFormatError, match=r"header has 785 columns \['target'"):
        read_kaggle_csv(path)


def test_csv_non_integer(tmp_path, sample):
    X, y, _, _ = sample
    path = _write_csv(tmp_path / "f.csv", X[:2], y[:2])
    path.write_text(path.read_text().replace(",0,", ",x,", 1))
    with pytest.raises(DataFormatError, match=r"holds non-integer values"):
        read_kaggle_csv(path)


def test_csv_truncated_gzip(tmp_path, sample):
    X, y, _, _ = sample
    path = _write_csv(tmp_path / "f.csv.gz", X[:200], y[:200], gz=True)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(
        DataFormatError, match=r"f.csv.gz: the gzip stream is corrupt or truncated"
    ):
        read_kaggle_csv(path)


def test_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope.csv: no such CSV file"):
        read_kaggle_csv(tmp_path / "nope.csv")


def test_idx_gzip_bomb_reads_no_more_than_declared(tmp_path):
    import tracemalloc

    header = (0x00000803).to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in (100, 28, 28)
    )
    path = tmp_path / "bomb-idx3-ubyte.gz"
    with gzip.open(path, "wb") as fh:  # 100 images declared, 64 MB of zeros inflate
        fh.write(header)
        for _ in range(64):
            fh.write(bytes(1 << 20))
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(
            DataFormatError, match=r"declares shape \(100, 28, 28\).*more"
        ):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # bytes, against 64 MiB inflated


def test_idx_header_declaring_too_many_images_is_refused_before_reading(tmp_path):
    header = (0x00000803).to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in (10**9, 28, 28)
    )
    (tmp_path / "big-idx3-ubyte").write_bytes(header + bytes(784))
    with pytest.raises(
        DataFormatError, match=r"declares 1,000,000,000 items; expected at most"
    ):
        read_idx(tmp_path / "big-idx3-ubyte")


# ------------------------------------------------------ bounded CSV and IDX work
def _gzip_text(path, text):
    import gzip

    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


@pytest.mark.parametrize("reader", ["kaggle", "pixels"])
@pytest.mark.parametrize(
    "repeats, match",
    [
        (2_000, r"header repeats 'a'"),
        (20_000, r"header has 20,000 columns; expected at most 4,096"),
        (60_000, r"no header line within 65,536"),
    ],
)
def test_a_header_repeating_one_name_is_refused_before_pandas(
    tmp_path, reader, repeats, match
):
    # pandas renames repeated names in quadratic time: hours for a 2 KB file
    import time

    from fashionclf.datasets.formats import read_kaggle_csv, read_pixel_csv

    path = _gzip_text(tmp_path / "evil.csv.gz", ",".join(["a"] * repeats) + "\n1\n")
    assert path.stat().st_size < 1000
    read = read_kaggle_csv if reader == "kaggle" else read_pixel_csv
    started = time.monotonic()
    with pytest.raises(DataFormatError, match=rf"evil.csv.gz: {match}"):
        read(path)
    assert time.monotonic() - started < 5  # was still parsing after 25 s


def test_a_header_line_without_end_is_refused(tmp_path):
    from fashionclf.datasets.formats import read_pixel_csv

    path = _gzip_text(tmp_path / "long.csv.gz", "pixel" * 100_000)
    with pytest.raises(DataFormatError, match=r"no header line within"):
        read_pixel_csv(path)


def test_duplicate_pixel_columns_are_refused(tmp_path):
    from fashionclf.datasets.formats import read_pixel_csv

    names = [f"pixel{i}" for i in range(1, 785)] + ["pixel5"]
    path = tmp_path / "dup.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["0"] * 785) + "\n")
    with pytest.raises(DataFormatError, match=r"header repeats 'pixel5'"):
        read_pixel_csv(path)


def test_csv_rows_are_capped(tmp_path, monkeypatch):
    from fashionclf.datasets import formats

    monkeypatch.setattr(formats, "MAX_CSV_ROWS", 5)
    header = ",".join(["label", *(f"pixel{i}" for i in range(1, 785))])
    row = ",".join(["1", *["0"] * 784])
    path = _gzip_text(tmp_path / "many.csv.gz", header + "\n" + (row + "\n") * 6)
    with pytest.raises(DataFormatError, match=r"more than 5 rows"):
        formats.read_kaggle_csv(path)
    with pytest.raises(DataFormatError, match=r"more than 5 rows"):
        formats.read_pixel_csv(path)


def test_reading_a_large_idx_file_holds_about_one_copy(tmp_path):
    import gzip
    import tracemalloc

    from fashionclf.datasets.formats import read_idx

    n = 20_000  # blank images compress to almost nothing
    path = tmp_path / "blank-idx3-ubyte.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(np.array([0, 0, 8, 3], np.uint8).tobytes())
        fh.write(np.array([n, 28, 28], ">u4").tobytes())
        fh.write(bytes(n * 784))
    tracemalloc.start()
    images = read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert images.shape == (n, 784)
    assert peak < 1.3 * images.nbytes  # was about three copies


def test_reading_a_kaggle_csv_does_not_hold_int64_rows(tmp_path):
    import tracemalloc

    from fashionclf.datasets.formats import read_kaggle_csv

    n = 3000
    header = ",".join(["label", *(f"pixel{i}" for i in range(1, 785))])
    row = ",".join(["1", *["7"] * 784])
    path = _gzip_text(tmp_path / "rows.csv.gz", header + "\n" + (row + "\n") * n)
    tracemalloc.start()
    X, _ = read_kaggle_csv(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert X.shape == (n, 784) and X.dtype == np.uint8 and (X == 7).all()
    assert peak < 4 * n * 785 * 8  # int64 of every row at once, several times over
