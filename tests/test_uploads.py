"""gan_core.uploads: hostile bytes are refused with a useful message, real pictures come out Fashion-MNIST-like."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gan_core import uploads
from gan_core.uploads import MAX_PIXELS, MAX_UPLOAD_BYTES, Converted, UploadError, convert_upload, read_image_file

LIMITS = ("20 MiB", "40,000,000 pixels")  # every refusal states them


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def garment(size: tuple[int, int], rect: tuple[int, int, int, int], bg: object = 245, fg: object = 40,
            mode: str = "L") -> Image.Image:
    """A filled rectangle (inclusive corners, as ImageDraw draws it) on a plain background."""
    img = Image.new(mode, size, bg)
    ImageDraw.Draw(img).rectangle(rect, fill=fg)
    return img


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(a.shape)
    w = a.astype(np.float64)
    return float((ys * w).sum() / w.sum()), float((xs * w).sum() / w.sum())


def extent(a: np.ndarray, level: int = 64) -> tuple[int, int]:
    """(height, width) of the pixels brighter than `level`."""
    ys, xs = np.nonzero(a > level)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def refusal(data: bytes, match: str) -> str:
    with pytest.raises(UploadError, match=re.escape(match)) as info:
        convert_upload(data, "x.png")
    msg = str(info.value)
    assert all(limit in msg for limit in LIMITS), msg
    return msg


def assert_fashion_mnist_like(a: np.ndarray) -> None:
    assert a.shape == (28, 28) and a.dtype == np.uint8
    assert max(a[:2, :2].max(), a[:2, -2:].max(), a[-2:, :2].max(), a[-2:, -2:].max()) <= 8, "corners are background"
    cy, cx = centre_of_mass(a)
    assert abs(cy - 13.5) <= 2 and abs(cx - 13.5) <= 2, (cy, cx)
    assert 26 <= max(extent(a)) <= 28, extent(a)


# --------------------------------------------------------------------------- pictures


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_dark_garment_on_light_background_is_negated_centred_and_fills_28(fmt):
    out = convert_upload(encode(garment((300, 200), (100, 20, 219, 179)), fmt), "tee." + fmt.lower())
    assert out.inverted and "background was light: negated" in out.notes
    assert_fashion_mnist_like(out.image)
    assert out.image[4:24, 8:20].mean() > 200, "the dark garment is light now"
    assert extent(out.image) == (28, 21), "120x160 keeps its aspect: 21x28"


def test_a_noisy_background_maps_to_black():
    rng = np.random.default_rng(0)
    a = (200 + rng.normal(0, 8, (60, 60))).clip(0, 255).astype(np.uint8)  # a grainy phone photo of paper
    a[10:50, 12:22] = a[10:50, 38:48] = 60  # trouser legs: grain shows between them, inside the crop
    out = convert_upload(encode(Image.fromarray(a), "JPEG", quality=75))
    between = out.image[2:26, 10:18]
    assert (between == 0).mean() > 0.7 and between.mean() < 3, f"Fashion-MNIST backgrounds are 0, not grain: {between}"
    assert out.image[2:26, 2:7].mean() > 200, "a leg"


def test_light_garment_on_dark_background_is_kept():
    out = convert_upload(encode(garment((200, 200), (40, 70, 159, 129), bg=10, fg=220)))
    assert not out.inverted and not any("negated" in n for n in out.notes)
    assert_fashion_mnist_like(out.image)
    assert out.image[10:18, 4:24].mean() > 200


@pytest.mark.parametrize("canvas", [(600, 400), (3000, 2000)])  # the second is found on a 3x-reduced copy
def test_off_centre_garment_is_centred_and_its_box_reported(canvas):
    w, h = canvas
    rect = (int(w * 0.7), int(h * 0.1), int(w * 0.85), int(h * 0.4))
    out = convert_upload(encode(garment(canvas, rect)))
    expected = (rect[0], rect[1], rect[2] + 1, rect[3] + 1)
    assert all(abs(a - b) <= 3 for a, b in zip(out.box, expected, strict=True)), (out.box, expected)
    assert out.source_size == canvas
    assert_fashion_mnist_like(out.image)


def test_transparent_background_counts_as_white():
    img = garment((200, 200), (50, 30, 149, 169), bg=(0, 0, 0, 0), fg=(30, 30, 30, 255), mode="RGBA")
    out = convert_upload(encode(img))
    assert out.source_mode == "RGBA" and "transparency composited on white" in out.notes
    assert out.inverted, "transparent black must not be taken for a black background"
    assert_fashion_mnist_like(out.image)
    assert out.image[4:24, 6:22].mean() > 200


def test_a_12_megapixel_jpeg_converts_and_the_garment_is_found_on_a_small_copy(monkeypatch):
    rng = np.random.default_rng(0)
    a = np.full((3000, 4000), 225, np.uint8) + rng.integers(0, 12, (3000, 4000), dtype=np.uint8)  # noisy paper
    a[500:2600, 1300:2700] = 50
    data = encode(Image.fromarray(a), "JPEG", quality=85)
    reductions: list[tuple[tuple[int, int], int]] = []
    reduce = Image.Image.reduce

    def counted(self, factor, *args, **kwargs):
        reductions.append((self.size, factor))
        return reduce(self, factor, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "reduce", counted)
    out = convert_upload(data, "phone.jpg")  # how fast is for benchmarks; what keeps it fast is checked here
    assert reductions[0] == ((4000, 3000), 4), "the search for the garment runs on a 1000x750 copy, not on 12 MP"
    assert out.source_size == (4000, 3000) and out.inverted
    assert all(abs(a - b) <= 8 for a, b in zip(out.box, (1300, 500, 2700, 2600), strict=True)), out.box
    assert_fashion_mnist_like(out.image)


@pytest.mark.parametrize("img", [Image.new("L", (1, 1), 128), Image.new("RGB", (1, 1), "red"),
                                 Image.new("L", (64, 48), 200)], ids=["1px-L", "1px-RGB", "uniform"])
def test_a_picture_with_nothing_on_it_is_refused(img):
    refusal(encode(img), "nothing in 'x.png' stands out from its background")


def test_a_tiny_picture_with_a_garment_converts():
    out = convert_upload(encode(garment((3, 3), (1, 1, 1, 1), bg=0, fg=255)))
    assert out.box == (1, 1, 2, 2) and out.image.max() > 200


def test_16_bit_grayscale_is_scaled_by_its_own_range():
    a = np.full((120, 90), 900, np.uint16)  # a narrow range: divided by 257 it would all be ~3, nothing to see
    a[20:100, 25:65] = 100
    data = encode(Image.fromarray(a))
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    out = convert_upload(data)
    assert out.source_mode == "I;16" and any(n.startswith("16-bit image scaled to 8 bits") for n in out.notes)
    assert out.inverted
    assert_fashion_mnist_like(out.image)


def test_cmyk_jpeg_converts():
    img = garment((200, 200), (60, 30, 139, 169), bg=(0, 0, 0, 10), fg=(0, 0, 0, 220), mode="CMYK")
    out = convert_upload(encode(img, "JPEG"))
    assert out.source_mode == "CMYK" and "CMYK converted to RGB" in out.notes and out.inverted
    assert_fashion_mnist_like(out.image)


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png_converts(transparent):
    img = garment((200, 200), (60, 30, 139, 169), bg=0, fg=1, mode="P")
    img.putpalette([250, 250, 250, 20, 40, 200] + [0, 0, 0] * 254)
    kw = {"transparency": 0} if transparent else {}
    out = convert_upload(encode(img, **kw))
    assert out.source_mode == "P" and out.inverted
    assert ("transparency composited on white" in out.notes) == transparent
    assert_fashion_mnist_like(out.image)


def test_exif_rotated_phone_photo_is_turned_upright():
    img = garment((200, 300), (70, 30, 129, 269), fg=30)  # stored tall; EXIF 6 means "turn 90° clockwise to view"
    exif = img.getexif()
    exif[0x0112] = 6
    out = convert_upload(encode(img, "JPEG", exif=exif.tobytes()))
    assert out.source_size == (300, 200) and "rotated per EXIF (orientation 6)" in out.notes
    height, width = extent(out.image)
    assert width == 28 and height < 10, "the tall garment lies wide after rotation"


def test_an_animated_png_uses_its_first_frame():
    tall, wide = garment((100, 100), (40, 10, 59, 89)), garment((100, 100), (10, 40, 89, 59))
    out = convert_upload(encode(tall, save_all=True, append_images=[wide]))
    assert "first of 2 frames used" in out.notes
    height, width = extent(out.image)
    assert height == 28 and width < 10


def test_a_phone_mpo_counts_as_jpeg():
    img = garment((200, 200), (60, 30, 139, 169), mode="RGB", bg="white", fg="navy")
    data = encode(img, "MPO", save_all=True, append_images=[img])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert_fashion_mnist_like(convert_upload(data).image)


def test_tensor_is_the_generators_range():
    out = convert_upload(encode(garment((100, 100), (20, 10, 79, 89))))
    t = out.tensor()
    assert t.shape == (1, 1, 28, 28) and str(t.dtype) == "torch.float32"
    assert float(t.min()) == -1.0 and 0.9 < float(t.max()) <= 1.0
    assert np.array_equal(np.rint((t[0, 0].numpy() + 1) * 127.5).astype(np.uint8), out.image)


def test_the_result_is_immutable():
    out = convert_upload(encode(garment((100, 100), (20, 10, 79, 89))))
    assert isinstance(out, Converted) and not out.image.flags.writeable
    with pytest.raises(AttributeError):
        out.inverted = False  # type: ignore[misc]


# --------------------------------------------------------------------------- hostile bytes


def _noise_png() -> bytes:
    return encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200), dtype=np.uint8)))


def _bad_crc_png() -> bytes:
    """Intact pixels but a wrong IDAT checksum: only `verify` notices."""
    data = bytearray(encode(garment((50, 50), (10, 10, 39, 39))))
    at = data.index(b"IDAT")
    crc = at + 4 + struct.unpack(">I", data[at - 4 : at])[0]
    data[crc] ^= 0xFF
    return bytes(data)


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose IHDR (CRC fixed) claims another size: a decompression bomb that costs nothing to build."""
    data = bytearray(encode(Image.new("L", (8, 8))))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize(("data", "match"), [
    (b"", "is empty"),
    (np.random.default_rng(2).bytes(5000), "is not an image"),
    (b"name,size\nshirt,M\n" * 50, "is not an image"),
    (_noise_png()[: len(_noise_png()) // 2], "truncated or damaged"),
    (encode(Image.new("L", (200, 200), 9), "JPEG")[:300], "truncated or damaged"),
    (_bad_crc_png(), "truncated or damaged"),
    (encode(garment((50, 50), (10, 10, 39, 39)), "GIF"), "is a GIF image, not PNG or JPEG"),
    (encode(garment((50, 50), (10, 10, 39, 39)), "BMP"), "is a BMP image, not PNG or JPEG"),
    (encode(garment((50, 50), (10, 10, 39, 39)), "TIFF"), "is a TIFF image, not PNG or JPEG"),
], ids=["empty", "random", "text", "truncated-png", "truncated-jpeg", "bad-crc", "gif", "bmp", "tiff"])
def test_hostile_bytes_are_refused(data, match):
    refusal(data, match)


def test_too_many_bytes_are_refused_before_pillow_sees_them(monkeypatch):
    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("Image.open called on an oversized upload")

    monkeypatch.setattr(uploads.Image, "open", no_open)
    msg = refusal(b"\x89PNG\r\n\x1a\n" + bytes(MAX_UPLOAD_BYTES), "is 20.0 MiB, too big")
    assert "Save it smaller" in msg


@pytest.mark.parametrize(("size", "match"), [
    ((20000, 20000), "declares more pixels than can be decoded safely"),  # past Pillow's own bomb limit
    ((10000, 10000), "declares more pixels than can be decoded safely"),  # Pillow's bomb warning, made an error
    ((8000, 6000), "is 8000x6000 = 48,000,000 pixels, too many"),  # under Pillow's limit, over ours
])
def test_a_decompression_bomb_is_refused_from_its_header(size, match):
    data = _png_claiming(*size)
    assert len(data) < 200
    pillow_limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    refusal(data, match)  # decoding the 8x8 payload would say "truncated" instead: refused before decoding
    assert pillow_limit == Image.MAX_IMAGE_PIXELS and warnings.filters == filters, "global state left as found"
    assert size[0] * size[1] > MAX_PIXELS


# --------------------------------------------------------------------------- files


def test_read_image_file_round_trips(tmp_path):
    data = encode(garment((120, 80), (30, 10, 89, 69)), "JPEG")
    path = tmp_path / "coat.jpg"
    path.write_bytes(data)
    got, direct = read_image_file(path), convert_upload(data)
    assert np.array_equal(got.image, direct.image) and got.box == direct.box
    assert np.array_equal(read_image_file(str(path)).image, direct.image)


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_read_image_file_refuses_what_is_not_a_file(tmp_path, what):
    path = tmp_path / "nope.png"
    if what == "directory":
        path.mkdir()
    with pytest.raises(UploadError, match="not a file" if what == "directory" else "cannot read") as info:
        read_image_file(path)
    assert all(limit in str(info.value) for limit in LIMITS)


def test_read_image_file_checks_the_size_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    with path.open("wb") as f:
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the oversized file was opened")

    monkeypatch.setattr(Path, "open", no_open)
    with pytest.raises(UploadError, match=re.escape("'huge.png' is 20.0 MiB, too big")):
        read_image_file(path)


def test_the_module_stays_out_of_streamlit_and_off_the_disk():
    source = Path(uploads.__file__).read_text()
    assert "streamlit" not in source.split('"""', 2)[2], "no streamlit import"
    assert not any(word in source for word in ("tempfile", ".save(", "write_bytes", '"wb"'))
