"""Image augmentation (data.augment): each augmentation changes training images as its options say,
evaluation batches are never augmented, a batch is a pure function of its generator (resume-exact),
mixup/cutmix give probability rows whose loss is the weighted sum of the two hard-label losses,
presets expand to their lists, and malformed entries are one clear recipe error."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tuneforge.data import Split, check_data, encode_split
from tuneforge.data.augment import AUGMENTATIONS, PRESETS, AugmentPipeline, parse_augment
from tuneforge.data.images import image_batch
from tuneforge.errors import RecipeError
from tuneforge.models.task_model import ImageSpec
from tuneforge.recipe import load_recipe
from tuneforge.recipe.schema import DataSection
from tuneforge.recipe.validate import recipe_problems
from tuneforge.tasks import TASKS

B, S = 8, 24
IDENTITY = ImageSpec(size=S, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # model input = pixels in 0..1


def gen(seed=0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def noise(seed=0, b=B) -> torch.Tensor:
    """Random colour images in 0.1..0.9 (B x 3 x S x S)."""
    return 0.1 + 0.8 * torch.rand(b, 3, S, S, generator=gen(seed))


def run(spec, x=None, seed=0) -> torch.Tensor:
    return AugmentPipeline(spec).images(noise() if x is None else x, gen(seed))


def one(name, **options) -> list[dict]:
    return [{"name": name, **options}]


# -- each augmentation does what it says ----------------------------------------------------------

def test_flips_mirror_exactly_and_p_decides_how_many():
    x = noise()
    assert torch.equal(run(one("hflip", p=1.0), x), x.flip(-1))
    assert torch.equal(run(one("vflip", p=1.0), x), x.flip(-2))
    assert torch.equal(run(one("hflip", p=0.0), x), x)
    half = run(["hflip"], x)
    flipped = [torch.equal(half[i], x[i].flip(-1)) for i in range(B)]
    kept = [torch.equal(half[i], x[i]) for i in range(B)]
    assert all(f or k for f, k in zip(flipped, kept)) and 0 < sum(flipped) < B


def _bar_angle(img: torch.Tensor) -> float:
    """Orientation in degrees (-90..90) of the bright bar in ``img`` (its pixels' principal axis)."""
    ys, xs = torch.nonzero(img[0] > 0.5, as_tuple=True)
    pts = torch.stack([xs.float() - xs.float().mean(), -(ys.float() - ys.float().mean())])
    w, v = torch.linalg.eigh(pts @ pts.T)
    major = v[:, -1]
    angle = float(torch.rad2deg(torch.atan2(major[1], major[0])))
    return (angle + 90) % 180 - 90


def test_rotation_keeps_the_size_and_turns_by_at_most_the_given_degrees():
    x = torch.zeros(B, 3, S, S)
    x[:, :, S // 2 - 1:S // 2 + 1, 2:S - 2] = 1.0  # a horizontal bar through the centre
    assert all(abs(_bar_angle(img)) < 0.5 for img in x)
    small, large = run(one("rotation", degrees=0.01), x), run(one("rotation", degrees=30), x, seed=1)
    assert small.shape == large.shape == x.shape
    assert torch.equal(small, x)  # 0.01 degree: no pixel moves
    angles = [_bar_angle(img) for img in large]
    assert all(abs(a) <= 30 + 4 for a in angles)  # (pixels are nearest-neighbour: a few degrees of slack)
    assert sum(abs(a) > 5 for a in angles) >= B // 2 and len({round(a) for a in angles}) > 2


def test_crop_keeps_the_output_size_and_zooms():
    x = noise()
    assert torch.allclose(run(one("crop", scale=[1.0, 1.0], ratio=[1.0, 1.0]), x), x, atol=1e-5)  # the whole image
    zoomed = run(one("crop", scale=[0.1, 0.1], ratio=[1.0, 1.0]), x)
    assert zoomed.shape == x.shape
    # a crop of 10% of the area blown up to full size: neighbouring pixels become alike
    def step(t):
        return (t[..., 1:] - t[..., :-1]).abs().mean()
    assert step(zoomed) < 0.5 * step(x)


def test_translate_shifts_in_black_edges_and_keeps_the_size():
    x = torch.ones(B, 3, S, S)
    out = run(one("translate", fraction=0.5), x)
    assert out.shape == x.shape and (out == 0).any() and (out == 1).any()


def test_color_jitter_changes_colours_but_not_geometry():
    x = torch.full((B, 3, S, S), 0.5)
    out = run(one("color-jitter", brightness=0.5, contrast=0.0, saturation=0.0), x)
    assert not torch.allclose(out, x)
    assert torch.allclose(out, out[..., :1, :1].expand_as(out))  # each image stays one flat colour


def test_grayscale_makes_the_channels_equal():
    out = run(one("grayscale", p=1.0))
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    assert not torch.equal(run(one("grayscale", p=0.0))[:, 0], run(one("grayscale", p=0.0))[:, 1])


def test_blur_smooths_detail_and_leaves_flat_images_alone():
    x = torch.zeros(B, 3, S, S)
    x[..., ::2, :] = 1.0  # stripes
    out = run(one("blur", p=1.0, kernel_size=5, sigma=[1.0, 2.0]), x)
    assert out.shape == x.shape and out.std() < 0.5 * x.std()
    flat = torch.full((B, 3, S, S), 0.3)
    assert torch.allclose(run(one("blur", p=1.0), flat), flat, atol=1e-5)


def test_erasing_paints_one_constant_rectangle():
    x = noise()  # values in 0.1..0.9, so 1.0 marks erased pixels
    out = run(one("erasing", p=1.0, value=1.0, scale=[0.1, 0.2]), x)
    for i in range(B):
        mask = (out[i] == 1.0).all(0)
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert len(rows) and mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a full rectangle
        assert torch.equal(out[i][:, ~mask], x[i][:, ~mask])                                  # the rest untouched
        assert 0.05 <= mask.float().mean() <= 0.3


@pytest.mark.parametrize("name", ["randaugment", "trivialaugment", "autoaugment"])
def test_policies_change_images_within_range_and_keep_the_size(name):
    x = noise()
    out = run([name], x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert sum(not torch.allclose(out[i], x[i]) for i in range(B)) >= B // 2


def test_every_registered_augmentation_is_covered_here():
    covered = {"hflip", "vflip", "rotation", "crop", "translate", "color-jitter", "grayscale", "blur", "erasing",
               "randaugment", "trivialaugment", "autoaugment", "mixup", "cutmix"}
    assert set(AUGMENTATIONS.names()) == covered


# -- determinism and where augmentation applies ---------------------------------------------------

def heavy_split(n=B, classes=4):
    pixels = torch.randint(0, 256, (n, 3, S, S), dtype=torch.uint8, generator=gen(3))
    model = type("M", (), {"preprocessor": ImageSpec(S, (0.5,) * 3, (0.25,) * 3), "num_outputs": classes})()
    return encode_split(Split(pixels, np.arange(n) % classes), model, DataSection(train="x", augment="heavy"))


def test_equal_generators_give_equal_batches_and_the_global_rng_is_untouched():
    enc = heavy_split()
    idx = np.arange(B)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    a, b = enc.batch(idx, train=True, generator=gen(5)), enc.batch(idx, train=True, generator=gen(5))
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    assert torch.equal(a["pixel_values"], b["pixel_values"]) and torch.equal(a["targets"], b["targets"])
    c = enc.batch(idx, train=True, generator=gen(6))
    assert not torch.equal(a["pixel_values"], c["pixel_values"])


def test_grey_images_are_augmented_as_three_equal_channels():
    pixels = torch.randint(0, 256, (B, 1, 16, 16), dtype=torch.uint8, generator=gen(2))
    model = type("M", (), {"preprocessor": IDENTITY, "num_outputs": 2})()
    enc = encode_split(Split(pixels, np.arange(B) % 2), model, DataSection(train="x", augment="medium"))
    x = enc.batch(np.arange(B), train=True, generator=gen(0))["pixel_values"]
    assert x.shape == (B, 3, S, S) and not torch.equal(x, enc.batch(np.arange(B))["pixel_values"])


def test_validation_and_test_batches_are_never_augmented():
    enc = heavy_split()
    idx = np.arange(B)
    plain = image_batch(enc.pixels, enc.spec, None, None)
    for kwargs in ({}, {"generator": gen(1)}):
        out = enc.batch(idx, train=False, **kwargs)
        assert torch.equal(out["pixel_values"], plain)
        assert out["targets"].dtype == torch.int64 and out["targets"].tolist() == (np.arange(B) % 4).tolist()
    assert not torch.equal(enc.batch(idx, train=True, generator=gen(1))["pixel_values"], plain)


# -- mixup and cutmix -----------------------------------------------------------------------------

def mixed(name, seed=0, classes=B):
    pixels = torch.randint(0, 256, (B, 3, S, S), dtype=torch.uint8, generator=gen(4))
    y = torch.arange(B)  # all different: every row mixes two classes
    enc = encode_split(Split(pixels, y.numpy()), type("M", (), {"preprocessor": IDENTITY, "num_outputs": classes})(),
                       DataSection(train="x", augment=[name]))
    out = enc.batch(np.arange(B), train=True, generator=gen(seed))
    return enc, y, out["pixel_values"], out["targets"]


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_mixed_targets_are_probability_rows_and_the_loss_is_the_weighted_sum(name):
    enc, y, x, soft = mixed(name)
    assert soft.shape == (B, B) and soft.dtype == torch.float32
    assert torch.allclose(soft.sum(1), torch.ones(B)) and (soft >= 0).all()
    other = y.roll(1)  # each image is mixed with its neighbour in the batch
    lam = soft[0, y[0]].item()
    assert 0 < lam < 1
    expected = lam * F.one_hot(y, B) + (1 - lam) * F.one_hot(other, B)
    assert torch.allclose(soft, expected.float(), atol=1e-6)
    outputs = torch.randn(B, B, generator=gen(9))
    loss = TASKS.get("image-classification").loss(outputs, soft)
    assert torch.allclose(loss, lam * F.cross_entropy(outputs, y) + (1 - lam) * F.cross_entropy(outputs, other),
                          atol=1e-6)
    plain = image_batch(enc.pixels, IDENTITY, None, None)
    if name == "mixup":
        assert torch.allclose(x, lam * plain + (1 - lam) * plain.roll(1, 0), atol=1e-6)
    else:  # every pixel is its own image's or the neighbour's; the neighbour's share is 1 - lam
        own, pasted = (x == plain).all(1), (x == plain.roll(1, 0)).all(1)
        assert (own | pasted).all()
        assert abs(pasted.float().mean().item() - (1 - lam)) < 1e-6


def test_soft_loss_of_one_hot_rows_is_the_hard_loss():
    outputs, y = torch.randn(6, 3, generator=gen(2)), torch.tensor([0, 1, 2, 2, 1, 0])
    task = TASKS.get("image-classification")
    assert torch.allclose(task.loss(outputs, F.one_hot(y, 3).float()), task.loss(outputs, y), atol=1e-6)


def test_with_mixup_and_cutmix_each_batch_uses_one_of_them():
    pixels = torch.randint(0, 256, (B, 3, S, S), dtype=torch.uint8, generator=gen(4))
    enc = encode_split(Split(pixels, np.arange(B)), type("M", (), {"preprocessor": IDENTITY, "num_outputs": B})(),
                       DataSection(train="x", augment=["mixup", "cutmix"]))
    plain = image_batch(enc.pixels, IDENTITY, None, None)
    kinds = set()
    for seed in range(12):
        x = enc.batch(np.arange(B), train=True, generator=gen(seed))["pixel_values"]
        cut = ((x == plain).all(1) | (x == plain.roll(1, 0)).all(1)).all()
        kinds.add("cutmix" if cut else "mixup")
    assert kinds == {"mixup", "cutmix"}


def test_mixing_needs_single_label_classification():
    data = DataSection(train="x", augment="heavy")
    problems = check_data(data, TASKS.get("image-regression"))
    assert any(p.startswith("data.augment: mixup and cutmix blend the labels") and "image-regression" in p
               for p in problems)
    assert not any(p.startswith("data.augment") for p in check_data(data, TASKS.get("image-classification")))
    assert any(p == "data.augment: augmentation applies to image tasks only"
               for p in check_data(DataSection(train="x", augment=["hflip"]), TASKS.get("text-classification")))


# -- presets and malformed entries ----------------------------------------------------------------

def test_presets_expand_to_their_lists_with_every_option_filled_in():
    names = {p: [e["name"] for e in parse_augment(p)] for p in PRESETS}
    assert names == {"none": [], "light": ["hflip", "crop"], "medium": ["hflip", "crop", "rotation", "color-jitter"],
                     "heavy": ["hflip", "crop", "randaugment", "erasing", "mixup", "cutmix"]}
    medium = parse_augment("medium")
    assert medium[1] == {"name": "crop", "scale": [0.5, 1.0], "ratio": [0.75, 1.3333]}
    assert DataSection(train="x", augment="medium").augment == medium
    assert parse_augment(["light", {"name": "rotation", "degrees": 5}])[-1] == {"name": "rotation", "degrees": 5.0}
    assert parse_augment(medium) == medium  # the saved recipe reads back the same


@pytest.mark.parametrize("value, message", [
    ("hflp", 'unknown augmentation \'hflp\' (did you mean "hflip"?)'),
    (["mediun"], 'did you mean "medium"?'),
    ([{"name": "rotation", "degree": 10}], '(rotation): \'degree\' is not an option (did you mean "degrees"?)'),
    ([{"name": "rotation", "degrees": -5}], "(rotation): degrees: input should be greater than 0"),
    ([{"name": "crop", "scale": [0.9, 0.2]}], "(crop): scale: must be [low, high]"),
    ([{"name": "blur", "kernel_size": 4}], "(blur): kernel_size: must be odd"),
    ([{"degrees": 10}], "a mapping needs a 'name' key"),
    (["light", "hflip"], "entry 2: 'hflip' is listed twice (also entry 1 (preset 'light'))"),
    (7, "a preset name or a list of augmentations"),
])
def test_malformed_entries_are_one_recipe_error(value, message):
    with pytest.raises(RecipeError) as e:
        load_recipe({"task": "image-classification", "model": {"name": "x"},
                     "data": {"train": "x", "augment": value}})
    assert len(e.value.problems) == 1 and e.value.problems[0].startswith("data.augment: ")
    assert message in e.value.problems[0]


def test_cache_on_with_augmentation_is_a_recipe_problem():
    recipe = load_recipe({"task": "image-classification", "model": {"name": "x"},
                          "data": {"train": "x", "augment": "light"}, "train": {"cache_frozen": "on"}})
    assert any(p.startswith("train.cache_frozen: 'on' records the frozen blocks' outputs once per image, but "
                            "data.augment changes") for p in recipe_problems(recipe))
    recipe.train.cache_frozen = "auto"
    assert not any(p.startswith("train.cache_frozen") for p in recipe_problems(recipe))


def test_augment_views_needs_augmentation_without_mixing_and_lets_cache_on_pass():
    task = TASKS.get("image-classification")
    assert "data.augment_views: fixes augmented views, but data.augment is empty" in " ".join(
        check_data(DataSection(train="x", augment_views=2), task))
    assert "data.augment_views: fixes one augmented view per image, but mixup and cutmix" in " ".join(
        check_data(DataSection(train="x", augment="heavy", augment_views=2), task))
    assert not any(p.startswith("data.augment") for p in
                   check_data(DataSection(train="x", augment="medium", augment_views=2), task))
    recipe = load_recipe({"task": "image-classification", "model": {"name": "x"},
                          "data": {"train": "x", "augment": "light", "augment_views": 3},
                          "train": {"cache_frozen": "on"}})
    assert not any(p.startswith("train.cache_frozen") for p in recipe_problems(recipe))
