"""Image files: PNG/JPEG only, size cap, 16-bit and alpha converted correctly."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fashionclf import DataFormatError
from fashionclf.datasets.images import (
    FORMATS,
    MAX_IMAGE_PIXELS,
    fashion_mnist_image,
    read_images,
)


def _png_header_only(path, width, height):
    """A tiny PNG whose header claims width x height pixels (no pixel data)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_grayscale_png_round_trip(tmp_path):
    arr = np.arange(784, dtype=np.uint8).reshape(28, 28)
    Image.fromarray(arr).save(tmp_path / "g.png")
    plain = read_images([tmp_path / "g.png"], method="resize", background="dark")
    np.testing.assert_array_equal(plain[0], arr.ravel())
    inverted = read_images([tmp_path / "g.png"], method="resize", background="light")[0]
    np.testing.assert_array_equal(inverted, 255 - arr.ravel())


def test_postscript_named_png_is_refused(tmp_path):
    eps = tmp_path / "photo.png"
    eps.write_bytes(
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n%%EOF\n"
    )
    with pytest.raises(
        DataFormatError, match=r"photo.png: not a readable image.*PNG, JPEG"
    ):
        read_images([eps])


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_refused(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("L", (28, 28)).save(path, format=fmt)
    with pytest.raises(DataFormatError, match="expected a PNG, JPEG"):
        read_images([path])


@pytest.mark.parametrize(
    ("width", "height"), [(20000, 10000), (10000, 10000), (4097, 4096)]
)
def test_oversized_image_is_refused_from_its_header(tmp_path, width, height):
    path = _png_header_only(tmp_path / "bomb.png", width, height)
    assert path.stat().st_size < 100
    with pytest.raises(DataFormatError, match=r"bomb.png: (image is|not a readable)"):
        read_images([path])
    assert width * height > MAX_IMAGE_PIXELS


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 28 * 28).round().astype(np.uint16).reshape(28, 28)
    Image.fromarray(ramp).save(tmp_path / "wide.png")  # mode I;16
    with Image.open(tmp_path / "wide.png") as img:
        assert img.mode.startswith("I")
    got = read_images([tmp_path / "wide.png"], method="resize", background="dark")
    got = got[0].reshape(28, 28).astype(int)
    expected = np.rint(ramp / 257.0)
    assert np.abs(got - expected).max() <= 2  # Lanczos at the same size: ~identity
    assert 120 < got[14, 14] < 135  # mid-grey stays mid-grey, not white


@pytest.mark.parametrize(("background", "seen"), [("dark", 0), ("light", 0)])
def test_transparent_pixels_become_the_background(tmp_path, background, seen):
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white everywhere, hidden where transparent
    rgba[10:18, 10:18, 3] = 255  # an opaque white square
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = read_images([tmp_path / "a.png"], method="resize", background=background)
    got = got[0].reshape(28, 28)
    assert got[0, 0] == seen  # transparent corner: background, black when negated
    assert got[14, 14] == (0 if background == "light" else 255)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_trns_transparency_of_grayscale_and_rgb_pngs_is_composited(tmp_path, mode):
    # a tRNS chunk names one colour as transparent: those pixels become the
    # background, as for palette and alpha images
    art = np.zeros((28, 28), np.uint8)
    art[8:20, 8:20] = 200
    key = 77  # the "transparent" colour: everything but the article
    canvas = np.where(art > 0, art, key).astype(np.uint8)
    img = Image.fromarray(canvas)
    transparency = key
    if mode == "RGB":
        img, transparency = img.convert("RGB"), (key, key, key)
    img.save(tmp_path / "t.png", transparency=transparency)
    out = read_images([tmp_path / "t.png"], method="resize", background="dark")
    out = out.reshape(28, 28)
    assert (out[art == 0] == 0).all()  # background, not 77
    assert (out[10:18, 10:18] > 150).all()


def test_jpeg_exif_orientation_is_applied(tmp_path):
    # phones store portrait shots sideways with an EXIF orientation tag
    upright = np.zeros((28, 28), np.uint8)
    upright[2:8, :] = 255  # a bar at the top
    stored = np.rot90(upright, k=1)  # the sensor's view: bar on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(stored).save(tmp_path / "p.jpg", exif=exif.tobytes(), quality=95)
    out = read_images([tmp_path / "p.jpg"], method="resize", background="dark")
    out = out.reshape(28, 28)
    assert out[2:8].mean() > 200 and out[12:].mean() < 30


# ------------------------------------------- the dataset's own conversion
def _shot(article, canvas=(300, 220), at=(40, 30), bg=250):
    """An article (light on black, any size) on a light canvas, negated."""
    h, w = canvas
    shot = np.full((h, w), bg, np.uint8)
    ah, aw = article.shape
    shot[at[0] : at[0] + ah, at[1] : at[1] + aw] = bg - article.astype(int) * bg // 255
    return shot


def test_a_product_shot_is_trimmed_centred_negated_with_its_aspect_kept():
    article = np.full((180, 90), 255, np.uint8)  # a tall black article, 2:1
    out = read_images([_shot(article)])[0].reshape(28, 28)
    cols = np.flatnonzero((out > 128).any(axis=0))
    rows = np.flatnonzero((out > 128).any(axis=1))
    assert rows[0] <= 1 and rows[-1] >= 26  # the long edge fills 28
    assert 12 <= len(cols) <= 16 and abs((cols[0] + cols[-1]) / 2 - 13.5) <= 1
    assert out[0, 0] == 0 and out[14, 3] == 0  # the background ends at 0


def test_the_same_article_gives_the_same_28x28_in_any_shot(sample):
    _, _, Xt, _ = sample
    from PIL import Image as PILImage

    for img in Xt[:20]:
        big = np.asarray(
            PILImage.fromarray(img.reshape(28, 28)).resize((140, 140), PILImage.LANCZOS)
        )
        small = read_images([_shot(big, canvas=(300, 400), at=(100, 200))])
        other = read_images([_shot(big, canvas=(500, 200), at=(10, 30), bg=235)])
        assert np.abs(small.astype(int) - other.astype(int)).mean() < 6


def test_a_dim_article_is_stretched_to_the_datasets_full_range():
    # a navy article on off-white negates to a dim grey; every dataset image
    # peaks at 250-255, so the conversion stretches the article to 255
    shot = np.full((200, 150, 3), 240, np.uint8)
    shot[40:160, 30:120] = (40, 40, 140)
    img = Image.fromarray(shot)
    out = fashion_mnist_image(img)
    assert out[0, 0] == 0 and (out[10:18, 10:18] == 255).all()
    dim = fashion_mnist_image(img, stretch=False)
    grey = round(float(np.dot([40, 40, 140], [0.299, 0.587, 0.114])))
    expected = round((240 - grey) * 255 / 240)
    assert np.abs(dim[10:18, 10:18].astype(int) - expected).max() <= 1
    assert (read_images([shot])[0] == out.ravel()).all()  # the default


def test_sharpening_is_an_option_not_the_default():
    shot = np.full((280, 280), 250, np.uint8)
    shot[40:240, 40:240] = 130  # a mid-grey square article
    shot[40:240, 120:160] = 190  # with a lighter (after negation: dimmer) band
    img = Image.fromarray(shot)
    plain = fashion_mnist_image(img, stretch=False)
    sharp = fashion_mnist_image(img, stretch=False, sharpen=True)
    assert (plain == fashion_mnist_image(img, stretch=False, sharpen=False)).all()
    levels = set(np.unique(plain).tolist())
    assert len(levels) == 2  # two flat greys: nothing sharpened
    assert sharp.max() > max(levels)  # the unsharp mask overshoots at the band


def test_the_background_is_read_from_the_corners_or_forced():
    article = np.full((60, 40), 255, np.uint8)
    on_white = _shot(article)
    on_black = 255 - on_white  # a light article on black, as in the dataset
    light = read_images([on_white])[0]
    assert (read_images([on_black])[0] == light).all()  # not negated: already so
    assert (read_images([on_white], background="light")[0] == light).all()
    forced = read_images([on_white], background="dark")[0].reshape(28, 28)
    assert forced[14, 14] == 0  # kept dark: the article is black on black
    with pytest.raises(ValueError, match=r"background='grey'; expected one of"):
        read_images([on_white], background="grey")


def test_a_picture_that_is_all_background_is_refused_naming_it(tmp_path):
    Image.fromarray(np.full((50, 80, 3), 240, np.uint8)).save(tmp_path / "blank.jpg")
    with pytest.raises(
        DataFormatError, match=r"blank.jpg: the picture is all background"
    ):
        read_images([tmp_path / "blank.jpg"])


def test_transparent_product_shots_read_as_shots_on_white(tmp_path):
    rgba = np.zeros((120, 80, 4), np.uint8)
    rgba[20:100, 20:60] = (20, 30, 160, 255)  # a dark blue article, opaque
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut-out.png")
    out = read_images([tmp_path / "cut-out.png"])[0].reshape(28, 28)
    assert out[0, 0] == 0 and out[14, 14] > 150


def test_pil_images_and_arrays_of_any_size(tmp_path):
    rgb = np.full((90, 160, 3), 245, np.uint8)
    rgb[10:80, 60:100] = (150, 20, 20)
    rows = read_images([rgb, Image.fromarray(rgb)])
    assert rows.shape == (2, 784) and (rows[0] == rows[1]).all()
    with pytest.raises(DataFormatError, match=r"dtype float64 .*expected uint8"):
        read_images([rgb.astype(float)])


@pytest.mark.skipif("WEBP" not in FORMATS, reason="this Pillow cannot read WebP")
def test_webp_is_read_where_pillow_can(tmp_path):
    rgb = np.full((90, 60, 3), 250, np.uint8)
    rgb[10:80, 10:50] = 30
    Image.fromarray(rgb).save(tmp_path / "s.webp", quality=90)
    assert read_images([tmp_path / "s.webp"])[0].reshape(28, 28)[14, 14] > 150


def test_image_file_reader_in_a_pipeline(tmp_path, sample):
    import pickle

    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    from fashionclf import ImageFileReader

    from .helpers import tiny_cnn

    X, y, _, _ = sample
    paths = []
    for i, img in enumerate(X[:120]):
        shot = _shot(img.reshape(28, 28), canvas=(40, 36), at=(6, 4))
        Image.fromarray(shot).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    pipe = make_pipeline(ImageFileReader(), tiny_cnn()).fit(paths, y[:120])
    assert pipe.predict(paths[:5]).shape == (5,)
    assert clone(pipe).get_params()["imagefilereader__background"] == "auto"
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict_proba(paths), pipe.predict_proba(paths))
    reader = ImageFileReader()
    assert list(reader.get_feature_names_out()[[0, -1]]) == ["pixel1", "pixel784"]
    with pytest.raises(ValueError, match=r"a list of pictures"):
        reader.fit_transform(X[:3])  # flat rows are not pictures
    with pytest.raises(ValueError, match=r"'background' parameter"):
        ImageFileReader(background="grey").fit(paths)


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _shots(n=12, seed=0):
    """Articles on white and on black, as RGB arrays of various sizes."""
    rng = np.random.default_rng(seed)
    shots = []
    for i in range(n):
        h, w = rng.integers(40, 200, 2)
        bg = 255 if i % 2 else 0
        shot = np.full((h, w, 3), bg, np.uint8)
        shot[h // 5 : -h // 5, w // 4 : -w // 4] = rng.integers(60, 200, 3)
        shots.append(shot)
    return shots


@pytest.mark.parametrize("method", ["fashion-mnist", "resize"])
def test_an_opaque_alpha_channel_reads_exactly_like_no_alpha(tmp_path, method):
    rgb_files, rgba_files = [], []
    for i, shot in enumerate(_shots()):
        opaque = np.concatenate([shot, np.full((*shot.shape[:2], 1), 255, np.uint8)], 2)
        Image.fromarray(shot).save(tmp_path / f"{i}.png")
        Image.fromarray(opaque, "RGBA").save(tmp_path / f"{i}a.png")
        Image.fromarray(shot[..., 0]).convert("LA").save(tmp_path / f"{i}la.png")
        rgb_files.append(tmp_path / f"{i}.png")
        rgba_files.append(tmp_path / f"{i}a.png")
    rgb = read_images(rgb_files, method=method)
    np.testing.assert_array_equal(read_images(rgba_files, method=method), rgb)
    gray = read_images([tmp_path / f"{i}.png" for i in range(12)], method=method)
    la = read_images([tmp_path / f"{i}la.png" for i in range(12)], method=method)
    assert gray.shape == la.shape
    np.testing.assert_array_equal(
        la, read_images([Image.fromarray(s[..., 0]) for s in _shots()], method=method)
    )


def test_a_trns_colour_no_pixel_has_is_no_transparency(tmp_path):
    shot = _shots(1)[0][..., 0]  # on black
    Image.fromarray(shot).save(tmp_path / "t.png", transparency=7)  # no pixel is 7
    assert 7 not in np.unique(shot)
    np.testing.assert_array_equal(
        read_images([tmp_path / "t.png"]), read_images([shot])
    )


def test_a_truncated_exif_chunk_is_a_data_format_error(tmp_path):
    Image.fromarray(_shots(1)[0]).save(tmp_path / "good.png")
    data = (tmp_path / "good.png").read_bytes()
    end = data.index(b"IEND") - 4  # before the IEND chunk's length
    bad = data[:33] + _chunk(b"eXIf", b"MM\x00*") + data[33:end] + data[end:]
    (tmp_path / "bad.png").write_bytes(bad)
    with pytest.raises(DataFormatError, match=r"bad.png: its EXIF block is unreadable"):
        read_images([tmp_path / "bad.png"])


def _progressive_jpeg_with_scans(path, scans):
    """A small progressive JPEG, its last scan repeated until it has ``scans``."""
    Image.fromarray(_shots(1)[0]).save(path, progressive=True)
    data = path.read_bytes()
    last = data.rindex(b"\xff\xda")
    scan = data[last:-2]  # the last SOS segment and its entropy-coded data
    have = data.count(b"\xff\xda")
    path.write_bytes(data[:-2] + scan * (scans - have) + data[-2:])
    return path


def test_a_jpeg_of_too_many_scans_is_refused_before_decoding(tmp_path):
    from fashionclf.datasets.images import MAX_JPEG_SCANS

    ok = _progressive_jpeg_with_scans(tmp_path / "ok.jpg", 12)
    assert read_images([ok]).shape == (1, 784)
    bad = _progressive_jpeg_with_scans(tmp_path / "bad.jpg", MAX_JPEG_SCANS + 1)
    with pytest.raises(
        DataFormatError, match=rf"bad.jpg: a JPEG of {MAX_JPEG_SCANS + 1} scans"
    ):
        read_images([bad])


_PEAK_SCRIPT = """
import resource, sys
from fashionclf.datasets.images import read_images
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
read_images([sys.argv[1]])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rgba", "grey16"])
def test_memory_at_the_size_cap_stays_bounded(tmp_path, kind):
    """A 4096x4096 picture (the cap) is read with well under 600 MB more memory.

    Peak resident memory of a fresh process, measured around one read; the
    float64 copies of the whole picture it once made took +1,089 MB.
    """
    import subprocess
    import sys

    side = 4096
    if kind == "rgba":
        pixels = np.full((side, side, 4), 255, np.uint8)
        pixels[1000:3000, 1000:3000, :3] = 30
        pixels[:10, :10, 3] = 0  # some transparency: the composited path
        Image.fromarray(pixels, "RGBA").save(tmp_path / "big.png")
    else:
        pixels = np.full((side, side), 65535, np.uint16)
        pixels[1000:3000, 1000:3000] = 5000
        Image.fromarray(pixels).save(tmp_path / "big.png")
    del pixels
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(tmp_path / "big.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout.strip()) < 600, out.stdout
