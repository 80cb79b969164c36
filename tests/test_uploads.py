"""Every kind of bad upload the OT colour page can get, written by the test itself.

Each file either loads (uint8 RGB, with a note saying what was converted/downscaled) or raises
ImageError with one readable line; never another exception."""
import io

import numpy as np
import pytest
from PIL import Image

from core.uploads import MAX_SIDE, ImageError, load_image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb(w=40, h=30, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def check_ok(li, shape=None):
    assert li.image.dtype == np.uint8 and li.image.ndim == 3 and li.image.shape[2] == 3
    assert li.image.flags["C_CONTIGUOUS"]
    if shape is not None:
        assert li.image.shape[:2] == shape


def one_line(exc: ImageError) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


def test_plain_png_and_jpeg_roundtrip():
    img = rgb()
    li = load_image(encode(img, "PNG"), "a.png")
    check_ok(li, (30, 40))
    assert np.array_equal(li.image, np.asarray(img)) and li.notes == [] and li.format == "PNG"
    lj = load_image(encode(img, "JPEG", quality=95), "a.jpg")
    check_ok(lj, (30, 40))
    assert lj.format == "JPEG"


@pytest.mark.parametrize("data, word", [
    (b"", "empty"),
    (b"hello, this is not an image\n" * 10, "not an image"),
    (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "not an image"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not an image"),
])
def test_empty_and_not_images_get_one_line(data, word):
    with pytest.raises(ImageError) as e:
        load_image(data, "upload.png")
    assert word in one_line(e.value) and "upload.png" in str(e.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_files_are_corrupt(fmt):
    data = encode(rgb(200, 150), fmt)
    with pytest.raises(ImageError) as e:
        load_image(data[: len(data) // 2], f"broken.{fmt.lower()}")
    assert "corrupt" in one_line(e.value) or "not an image" in str(e.value)


def test_garbage_after_a_valid_header_is_corrupt():
    data = bytearray(encode(rgb(64, 64), "PNG"))
    data[60:] = bytes(len(data) - 60)  # keep signature + IHDR, zero the image data
    with pytest.raises(ImageError) as e:
        load_image(bytes(data), "zeros.png")
    one_line(e.value)


def test_grayscale_becomes_grey_rgb():
    g = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), "L")
    li = load_image(encode(g, "PNG"), "g.png")
    check_ok(li, (16, 16))
    assert np.array_equal(li.image[..., 0], np.asarray(g)) and np.array_equal(li.image[..., 0], li.image[..., 2])
    assert any("Grayscale" in n for n in li.notes)
    b = load_image(encode(g.convert("1"), "PNG"), "bw.png")
    check_ok(b, (16, 16))
    assert set(np.unique(b.image)) <= {0, 255}


def test_rgba_is_flattened_onto_white():
    a = np.zeros((10, 10, 4), np.uint8)
    a[..., 0] = 255  # red
    a[:, :5, 3] = 255  # left half opaque, right half transparent
    li = load_image(encode(Image.fromarray(a, "RGBA"), "PNG"), "t.png")
    check_ok(li, (10, 10))
    assert (li.image[:, :5] == [255, 0, 0]).all() and (li.image[:, 5:] == 255).all()
    assert any("white" in n for n in li.notes)
    la = load_image(encode(Image.new("LA", (4, 4), (100, 255)), "PNG"), "la.png")
    assert (la.image == 100).all()


def test_palette_with_and_without_transparency():
    p = rgb(32, 32).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    li = load_image(encode(p, "PNG"), "p.png")
    check_ok(li, (32, 32))
    assert np.array_equal(li.image, np.asarray(p.convert("RGB")))
    assert any("Palette" in n for n in li.notes)
    p.info["transparency"] = 0
    lt = load_image(encode(p, "PNG", transparency=0), "pt.png")
    check_ok(lt, (32, 32))
    assert (lt.image[np.asarray(p) == 0] == 255).all()  # the transparent index became white


def test_16_bit_grayscale_is_scaled_not_clipped():
    v = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    im = Image.fromarray(v)  # mode I;16
    li = load_image(encode(im, "PNG"), "deep.png")
    check_ok(li, (64, 64))
    expected = np.round(v / 257.0).astype(np.uint8)
    assert np.abs(li.image[..., 0].astype(int) - expected).max() <= 1
    assert li.image.max() == 255 and li.image.min() == 0 and len(np.unique(li.image)) > 200  # not clipped to 2 levels
    assert any("16-bit" in n for n in li.notes)


def test_16_bit_rgb_tiff_and_float_tiff():
    f = Image.fromarray(np.linspace(-1, 3, 100).reshape(10, 10).astype(np.float32), "F")
    lf = load_image(encode(f, "TIFF"), "f.tif")
    check_ok(lf, (10, 10))
    assert lf.image.min() == 0 and lf.image.max() == 255 and any("rescaled" in n for n in lf.notes)
    i32 = Image.fromarray(np.arange(100, dtype=np.int32).reshape(10, 10) * 1000, "I")
    li = load_image(encode(i32, "TIFF"), "i.tif")
    check_ok(li, (10, 10))


def test_cmyk_jpeg_converted():
    c = rgb(20, 20).convert("CMYK")
    li = load_image(encode(c, "JPEG"), "c.jpg")
    check_ok(li, (20, 20))
    assert any("CMYK" in n for n in li.notes)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_uses_first_frame(fmt):
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    li = load_image(data, f"anim.{fmt.lower()}")
    check_ok(li, (24, 24))
    assert np.abs(li.image.astype(int) - [255, 0, 0]).max() <= 8  # red, the first frame
    assert any("3 frames" in n for n in li.notes)


def test_large_image_is_downscaled_with_a_note():
    big = Image.new("RGB", (3000, 1500), (10, 200, 30))
    li = load_image(encode(big, "PNG"), "big.png")
    check_ok(li, (MAX_SIDE // 2, MAX_SIDE))
    assert (li.image == [10, 200, 30]).all()
    assert li.original_size == (3000, 1500) and any("Downscaled from 3,000x1,500" in n for n in li.notes)


def test_huge_10000_square_jpeg_and_png():
    """The issue's 10,000 x 10,000 image: above Pillow's bomb warning, must load downscaled."""
    big = Image.new("L", (10_000, 10_000), 128)
    lj = load_image(encode(big, "JPEG", quality=50), "huge.jpg")
    check_ok(lj, (MAX_SIDE, MAX_SIDE))
    assert any("10,000x10,000" in n for n in lj.notes)
    lp = load_image(encode(big, "PNG", compress_level=1), "huge.png")
    check_ok(lp, (MAX_SIDE, MAX_SIDE))
    assert abs(int(lp.image.mean()) - 128) <= 1


def test_too_many_pixels_is_refused_before_decoding():
    # a valid PNG header claiming 20,000 x 20,000 pixels (400 megapixels), with almost no data
    import struct
    import zlib

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    with pytest.raises(ImageError) as e:
        load_image(data, "bomb.png")
    assert "too" in one_line(e.value) and "bomb.png" in str(e.value)


def test_exif_rotation_applied():
    img = rgb(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    li = load_image(encode(img, "JPEG", exif=exif.tobytes()), "phone.jpg")
    check_ok(li, (40, 20))
    assert any("EXIF" in n for n in li.notes)


def test_an_uploaded_set_becomes_a_dataset_whose_held_out_images_are_not_trained_on():
    from core.uploads import ImageSet, image_data

    rng = np.random.default_rng(3)
    imgs = rng.random((57, 3, 8, 8)).astype(np.float32)  # 57 distinct images
    d = image_data(ImageSet(imgs, [f"{i}.png" for i in range(57)], digest="ab" * 32), "photos.zip")
    rows = lambda X: {x.tobytes() for x in X}  # noqa: E731  (each image as its bytes)
    train, test = rows(d.X_train), rows(d.X_test)
    assert len(test) == 6 and len(train) == 51  # round(0.1 * 57) held out, by count
    assert not train & test  # disjoint: no held-out image is trained on
    assert train | test == rows(imgs.reshape(57, -1))  # and together every image once
    assert d.shape == (3, 8, 8) and d.name == "upload-" + "ab" * 6 and list(d.y_train) == [0] * 51
    again = image_data(ImageSet(imgs, [], digest="ab" * 32))
    np.testing.assert_array_equal(again.X_test, d.X_test)  # the same split every time
    other = image_data(ImageSet(imgs, [], digest="ab" * 32), seed=1)
    assert rows(other.X_test) != test  # another seed, another split
    with pytest.raises(ValueError):
        image_data(ImageSet(imgs[:1], [], digest=""))
