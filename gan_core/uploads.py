"""Turning an untrusted uploaded picture into a Fashion-MNIST-style 28×28 image.

Fashion-MNIST was made from product photos: trimmed to the object, longest edge resized to 28, sharpened,
centred in 28×28, 8-bit grayscale, negated (garment light on black). An upload goes through the same steps so
the models see what they were trained on. The bytes are hostile until proven otherwise: size, format and pixel
count are checked before any pixel is decoded. Never imports Streamlit and never writes to disk.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import ExifTags, Image, ImageFilter, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:  # torch only for Converted.tensor(): checking an upload does not need it
    import torch

__all__ = ["FORMATS", "MAX_PIXELS", "MAX_UPLOAD_BYTES", "Converted", "UploadError", "convert_image",
           "convert_upload", "read_image_file"]

MAX_UPLOAD_BYTES: int = 20 * 2**20  # a 12 MP phone JPEG is 3-8 MiB
MAX_PIXELS: int = 40_000_000  # width*height from the header; 4000x3000 = 12 MP is fine
FORMATS: tuple[str, ...] = ("PNG", "JPEG")

SIZE = 28
_WORK_SIDE = 1024  # the garment is found on a copy this small, so a 12 MP photo converts in well under a second
_MIN_CONTRAST = 24  # grey levels a garment pixel must stand above the background; JPEG noise stays below it
_FORMAT_ALIASES = {"MPO": "JPEG"}  # phones' multi-picture JPEGs: the first picture is a plain JPEG
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HIGH_BIT = {"I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "I;16N": "16-bit", "I": "32-bit",
             "F": "32-bit float"}
# Pillow's decoders fail on hostile bytes with any of these; all of them mean "damaged file".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
                  zlib.error)
_LIMITS = (f"accepted: {' or '.join(FORMATS)}, at most {MAX_UPLOAD_BYTES // 2**20} MiB and "
           f"{MAX_PIXELS:,} pixels (4000x3000 is fine)")


class UploadError(ValueError):
    """An upload was refused; the message says what is wrong, the limits, and how to fix it."""


def _refuse(what: str, fix: str) -> UploadError:
    return UploadError(f"{what}; {_LIMITS}. {fix}")


@dataclass(frozen=True, eq=False)  # eq=False: ndarray fields make == and hash meaningless
class Converted:
    """A 28×28 uint8 image (garment light on black, as Fashion-MNIST) and what was done to get it."""

    image: np.ndarray
    source_size: tuple[int, int]
    source_mode: str
    inverted: bool
    box: tuple[int, int, int, int]
    notes: tuple[str, ...] = ()

    def tensor(self) -> torch.Tensor:
        """(1, 1, 28, 28) float32 in [-1, 1]: the generator's output range, so uploads and samples compare."""
        import torch

        return torch.from_numpy(self.image.astype(np.float32) / 127.5 - 1.0).view(1, 1, SIZE, SIZE)


# --------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _pillow_errors(name: str) -> Iterator[None]:
    """Pillow's many failure types (and its bomb warning, made an error here only) become one UploadError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except UploadError:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _refuse(f"{name!r} declares more pixels than can be decoded safely",
                          "Resize it (e.g. to 4000x3000) and upload again.") from exc
        except UnidentifiedImageError as exc:
            raise _refuse(f"{name!r} is not an image", "Upload a photo saved as PNG or JPEG.") from exc
        except _DECODE_ERRORS as exc:
            raise _refuse(f"{name!r}: the file is truncated or damaged ({exc})",
                          "Open it in an image viewer, save it again as PNG or JPEG, and upload that.") from exc


def _check_pixels(img: Image.Image, name: str) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise _refuse(f"{name!r} has no pixels ({w}x{h})", "Upload a photo of one garment.")
    if w * h > MAX_PIXELS:
        raise _refuse(f"{name!r} is {w}x{h} = {w * h:,} pixels, too many", "Resize it (e.g. to 4000x3000) and upload again.")


def _check_header(img: Image.Image, name: str) -> None:
    """Format and size come from the header alone: Image.open has not decoded a pixel yet."""
    found = img.format or "unknown"
    if _FORMAT_ALIASES.get(found, found) not in FORMATS:
        raise _refuse(f"{name!r} is a {found} image, not {' or '.join(FORMATS)}",
                      "Convert it (any image editor's 'Save as' or 'Export') to PNG and upload that.")
    _check_pixels(img, name)


def convert_upload(data: bytes, name: str = "upload") -> Converted:
    """The whole pipeline from raw bytes; every check runs before a pixel is decoded."""
    if not data:
        raise _refuse(f"{name!r} is empty (0 bytes)", "Upload the picture file itself.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _refuse(f"{name!r} is {len(data) / 2**20:.1f} MiB, too big",
                      "Save it smaller (as JPEG, or resized to about 2000 px) and upload again.")
    with _pillow_errors(name):
        probe = Image.open(io.BytesIO(data))
        _check_header(probe, name)
        probe.verify()  # checksums and structure; it leaves `probe` unusable, hence a second open to decode
        img = Image.open(io.BytesIO(data))
    return convert_image(img, name)


def read_image_file(path: str | Path) -> Converted:
    """For the CLI: the size is checked from `stat` before reading, so a huge file is never read."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise _refuse(f"cannot read {str(path)!r}: {exc.strerror or exc}", "Check the path and try again.") from exc
    if not path.is_file():
        raise _refuse(f"{str(path)!r} is not a file", "Give the path of a PNG or JPEG file.")
    if st.st_size > MAX_UPLOAD_BYTES:
        raise _refuse(f"{path.name!r} is {st.st_size / 2**20:.1f} MiB, too big",
                      "Save it smaller (as JPEG, or resized to about 2000 px) and try again.")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_UPLOAD_BYTES + 1)  # bounded even if the file grew after stat
    except OSError as exc:
        raise _refuse(f"cannot read {str(path)!r}: {exc.strerror or exc}", "Check its permissions.") from exc
    return convert_upload(data, path.name)


# --------------------------------------------------------------------------- converting


def _upright(img: Image.Image, notes: list[str]) -> Image.Image:
    """Phones store photos sideways plus an EXIF tag; the garment must stand as the user saw it."""
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation in range(2, 9):
            img = ImageOps.exif_transpose(img)
            notes.append(f"rotated per EXIF (orientation {orientation})")
    except _DECODE_ERRORS:  # a broken EXIF block should not cost the user a good photo
        notes.append("EXIF unreadable: used as stored")
    return img


def _scale_high_bit(img: Image.Image, notes: list[str]) -> Image.Image:
    """16/32-bit pixels may use any part of their range (scans, scientific cameras): stretch the part used."""
    a = np.asarray(img, dtype=np.float32)
    finite = np.isfinite(a)
    lo, hi = (float(a[finite].min()), float(a[finite].max())) if finite.any() else (0.0, 0.0)
    a = np.where(finite, a, lo)
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    notes.append(f"{_HIGH_BIT[img.mode]} image scaled to 8 bits (its range {lo:g}..{hi:g} -> 0..255)")
    return Image.fromarray(np.rint(scaled).astype(np.uint8))


def _to_gray(img: Image.Image, name: str, notes: list[str]) -> Image.Image:
    """Any PNG/JPEG mode -> 8-bit L; transparent parts become white, like a product cut-out on a white page."""
    mode = img.mode
    if mode in _HIGH_BIT:
        return _scale_high_bit(img, notes)
    if mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema()[0] == 255:  # nothing actually transparent
            return rgba.convert("L")
        white = Image.new("L", img.size, 255)
        white.paste(rgba.convert("L"), mask=alpha)
        notes.append("transparency composited on white")
        return white
    if mode == "L":
        return img
    if mode in ("1", "P", "RGB"):
        return img.convert("L")  # ITU-R 601 luma
    try:
        rgb = img.convert("RGB")
    except ValueError as exc:
        raise _refuse(f"{name!r} uses colour mode {mode}, which cannot be converted",
                      "Save it as an ordinary RGB PNG or JPEG.") from exc
    notes.append(f"{mode} converted to RGB")
    return rgb.convert("L")


def _border(a: np.ndarray) -> np.ndarray:
    """The outer ~2% of each side: what the garment was photographed against."""
    h, w = a.shape
    kh, kw = max(1, round(0.02 * h)), max(1, round(0.02 * w))
    return np.concatenate([a[:kh].ravel(), a[-kh:].ravel(), a[:, :kw].ravel(), a[:, -kw:].ravel()])


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """Longest edge 28, aspect kept, shorter edge at least 1 px."""
    w, h = size
    if w >= h:
        return SIZE, max(1, round(h * SIZE / w))
    return max(1, round(w * SIZE / h)), SIZE


def convert_image(img: Image.Image, name: str = "image") -> Converted:
    """From an opened image (convert_upload calls it after its checks); the first frame of an animation."""
    _check_pixels(img, name)
    notes: list[str] = []
    source_mode = img.mode
    frames = getattr(img, "n_frames", 1)
    with _pillow_errors(name):
        if frames > 1:
            img.seek(0)
            notes.append(f"first of {frames} frames used")
        img.load()
    img = _upright(img, notes)
    gray = _to_gray(img, name, notes)

    factor = max(1, math.ceil(max(gray.size) / _WORK_SIDE))
    work = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.float32)
    ring = _border(work)
    inverted = bool(np.median(ring) > 127)
    if inverted:
        work, ring = 255 - work, 255 - ring
        notes.append("background was light: negated")
    bg = float(np.median(ring))
    floor = bg + 2 * float(np.median(np.abs(ring - bg)))  # a little above the background: JPEG noise maps to 0
    lifted = np.clip(work - floor, 0, None)
    mask = lifted > max(_MIN_CONTRAST, 0.15 * float(lifted.max()))
    if not mask.any():
        raise _refuse(f"nothing in {name!r} stands out from its background",
                      "Upload a photo of one garment on a plain background, filling most of the picture.")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (int(cols[0]) * factor, int(rows[0]) * factor,
           min(gray.width, (int(cols[-1]) + 1) * factor), min(gray.height, (int(rows[-1]) + 1) * factor))

    crop = gray.crop(box)
    small = crop.resize(_fit(crop.size), Image.Resampling.LANCZOS, reducing_gap=3.0).filter(ImageFilter.SHARPEN)
    a = np.asarray(small, dtype=np.float32)
    a = np.clip((255 - a if inverted else a) - floor, 0, None)
    if (a > 0).any():
        a *= 255.0 / max(float(np.percentile(a[a > 0], 99)), 1.0)  # the garment's brightest part near white
    out = np.zeros((SIZE, SIZE), np.uint8)
    x, y = (SIZE - small.width) // 2, (SIZE - small.height) // 2
    out[y : y + small.height, x : x + small.width] = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    out.flags.writeable = False
    return Converted(image=out, source_size=gray.size, source_mode=source_mode, inverted=inverted, box=box,
                     notes=tuple(notes))
