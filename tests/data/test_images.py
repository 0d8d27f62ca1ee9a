"""Decoding image columns once, and turning uint8 batches into model pixels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tuneforge.data.images import decode_images, image_batch, read_image_folder
from tuneforge.errors import DataError
from tuneforge.models.task_model import ImageSpec


def test_mixed_grey_and_rgb_become_three_channels(tmp_path, make_image):
    make_image(tmp_path / "a.png", grey=True)
    make_image(tmp_path / "b.jpg", grey=False, fmt="JPEG")
    pixels = decode_images(["a.png", "b.jpg"], None, tmp_path, None, "t.csv")
    assert pixels.shape == (2, 3, 10, 12) and pixels.dtype == torch.uint8
    assert torch.equal(pixels[0, 0], pixels[0, 1])  # grey copied into every channel


def test_all_grey_stays_one_channel_and_resizes(tmp_path, make_image):
    make_image(tmp_path / "a.png", size=(12, 10), grey=True)
    make_image(tmp_path / "b.png", size=(20, 20), grey=True)
    pixels = decode_images([str(tmp_path / "a.png"), "b.png"], 16, tmp_path, None, "t.csv")
    assert pixels.shape == (2, 1, 16, 16)


def test_mixed_sizes_without_size_get_a_common_square(tmp_path, make_image):
    make_image(tmp_path / "a.png", size=(12, 10))
    make_image(tmp_path / "b.png", size=(20, 20))
    assert decode_images(["a.png", "b.png"], None, tmp_path, None, "t.csv").shape[-2:] == (16, 16)


def test_numpy_arrays(tmp_path):
    arrays = [np.zeros((8, 8), np.uint8), np.full((8, 8, 3), 255, np.uint8)]
    pixels = decode_images(arrays, None, None, None, "mem")
    assert pixels.shape == (2, 3, 8, 8) and pixels[1].min() == 255
    assert decode_images([np.ones((5, 5), np.float32)], 8, None, None, "mem").max() == 255


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty (0 bytes)"),
    (b"this is not an image", "is not a readable image"),
])
def test_bad_files_name_file_and_row(tmp_path, content, expected, make_image):
    make_image(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(DataError) as info:
        decode_images(["ok.png", "bad.png"], None, tmp_path, None, "t.csv")
    message = str(info.value)
    assert expected in message and "bad.png" in message and "row 2 of t.csv" in message


def test_truncated_file(tmp_path, make_image):
    data = make_image(tmp_path / "full.png", size=(64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.png is corrupt or truncated"):
        decode_images(["cut.png"], 8, tmp_path, None, "t.csv")


def test_missing_file_and_bad_values(tmp_path):
    with pytest.raises(DataError, match="row 1 of t.csv: image file .*gone.png does not exist"):
        decode_images(["gone.png"], 8, tmp_path, None, "t.csv")
    with pytest.raises(DataError, match="must be a file path or a numpy array"):
        decode_images([3.5], 8, tmp_path, None, "t.csv")
    with pytest.raises(DataError, match="got shape"):
        decode_images([np.zeros((2, 2, 2, 2), np.uint8)], 8, None, None, "mem")


def test_path_outside_root_is_refused(tmp_path, make_image):
    make_image(tmp_path / "secret.png")
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="outside data.root"):
        decode_images(["../secret.png"], 8, tmp_path / "data", tmp_path / "data", "t.csv")
    assert decode_images(["../secret.png"], 8, tmp_path / "data", tmp_path, "t.csv").shape == (1, 3, 8, 8)


def test_image_folder(tmp_path, make_image_folder):
    df = read_image_folder(make_image_folder(tmp_path / "imgs", per_class=2))
    assert df["label"].tolist() == ["cat", "cat", "dog", "dog"]
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DataError, match="empty: no images found"):
        read_image_folder(tmp_path / "empty")


def test_image_batch_normalises_resizes_and_augments():
    spec = ImageSpec(size=12, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    pixels = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    x = image_batch(pixels, spec, [], None)
    assert x.shape == (4, 3, 12, 12) and x.dtype == torch.float32 and -1.0 <= x.min() and x.max() <= 1.0
    same = image_batch(torch.full((2, 3, 12, 12), 255, dtype=torch.uint8), spec, [], None)
    assert torch.allclose(same, torch.ones_like(same))
    ramp = torch.arange(12, dtype=torch.uint8).repeat(8, 3, 12, 1) * 20
    a = image_batch(ramp, spec, ["hflip", "crop"], torch.Generator().manual_seed(0))
    b = image_batch(ramp, spec, ["hflip", "crop"], torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (8, 3, 12, 12)
    flipped = image_batch(ramp, spec, ["hflip"], torch.Generator().manual_seed(1))
    plain = image_batch(ramp, spec, [], None)
    n_flipped = sum(torch.equal(flipped[i], plain[i].flip(-1)) for i in range(8))
    assert 0 < n_flipped < 8
