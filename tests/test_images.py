"""Image files: PNG/JPEG only, size cap, 16-bit and alpha converted correctly."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fashionclf import DataFormatError
from fashionclf.datasets.images import MAX_IMAGE_PIXELS, read_images


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
    np.testing.assert_array_equal(read_images([tmp_path / "g.png"])[0], arr.ravel())
    inverted = read_images([tmp_path / "g.png"], invert=True)[0]
    np.testing.assert_array_equal(inverted, 255 - arr.ravel())


def test_postscript_named_png_is_refused(tmp_path):
    eps = tmp_path / "photo.png"
    eps.write_bytes(
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n%%EOF\n"
    )
    with pytest.raises(
        DataFormatError, match=r"photo.png: not a readable image.*PNG or JPEG"
    ):
        read_images([eps])


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_refused(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("L", (28, 28)).save(path, format=fmt)
    with pytest.raises(DataFormatError, match="expected a PNG or JPEG file"):
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
    got = read_images([tmp_path / "wide.png"])[0].reshape(28, 28).astype(int)
    expected = np.rint(ramp / 257.0)
    assert np.abs(got - expected).max() <= 2  # Lanczos at the same size: ~identity
    assert 120 < got[14, 14] < 135  # mid-grey stays mid-grey, not white


@pytest.mark.parametrize(("invert", "seen"), [(False, 0), (True, 0)])
def test_transparent_pixels_become_the_background(tmp_path, invert, seen):
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white everywhere, hidden where transparent
    rgba[10:18, 10:18, 3] = 255  # an opaque white square
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = read_images([tmp_path / "a.png"], invert=invert)[0].reshape(28, 28)
    assert got[0, 0] == seen  # transparent corner: background, black after invert
    assert got[14, 14] == (0 if invert else 255)


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
    out = read_images([tmp_path / "t.png"]).reshape(28, 28)
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
    out = read_images([tmp_path / "p.jpg"]).reshape(28, 28)
    assert out[2:8].mean() > 200 and out[12:].mean() < 30
