"""make_shapes: deterministic, balanced, memory-mapped, labels readable in pixels."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_etap.datasets import make_shapes
from sklearn_etap.datasets._shape_images import PALETTE


def test_deterministic_under_random_state():
    a = make_shapes(300, n_tasks=10, image_size=12, random_state=3)
    b = make_shapes(300, n_tasks=10, image_size=12, random_state=3)
    c = make_shapes(300, n_tasks=10, image_size=12, random_state=4)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.Y_test, b.Y_test)
    assert not np.array_equal(a.X_train, c.X_train)
    assert not np.array_equal(a.Y_train, c.Y_train)


def test_shapes_dtypes_and_split():
    data = make_shapes(250, n_tasks=40, image_size=10, test_size=0.2, random_state=0)
    assert data.X_train.shape == (200, 300) and data.X_test.shape == (50, 300)
    assert data.Y_train.shape == (200, 40) and data.Y_test.shape == (50, 40)
    assert data.X_train.dtype == np.float32 and data.Y_train.dtype == np.float32
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1
    assert set(np.unique(data.Y_train)) == {0.0, 1.0}
    assert len(data.task_names) == len(set(data.task_names)) == 40
    assert len(data.feature_names) == 300 and data.image_shape == (3, 10, 10)
    np.testing.assert_array_equal(data.test_ids, np.arange(200, 250))
    # the first tasks of the 40 are the tasks of a smaller set
    small = make_shapes(250, n_tasks=20, image_size=10, random_state=0)
    assert small.task_names == data.task_names[:20]
    np.testing.assert_array_equal(small.Y_train, data.Y_train[:, :20])


def test_uint8_storage_holds_the_same_pixels():
    kwargs = dict(n_tasks=5, image_size=12, random_state=1)
    floats = make_shapes(120, **kwargs)
    bytes_ = make_shapes(120, dtype="uint8", **kwargs)
    assert bytes_.X_train.dtype == np.uint8
    np.testing.assert_array_equal(
        bytes_.X_train.astype(np.float32) / np.float32(255), floats.X_train
    )


def test_memory_mapped_file_matches_in_memory(tmp_path):
    path = tmp_path / "shapes.npy"
    kwargs = dict(n_tasks=6, image_size=12, random_state=2)
    mapped = make_shapes(150, path=path, **kwargs)
    in_memory = make_shapes(150, **kwargs)
    assert isinstance(mapped.X_train, np.memmap) and isinstance(
        mapped.X_test, np.memmap
    )
    assert not mapped.X_train.flags.writeable  # read-only view of the file
    np.testing.assert_array_equal(mapped.X_train, in_memory.X_train)
    on_disk = np.load(path)
    assert on_disk.shape == (150, 3 * 12 * 12)
    np.testing.assert_array_equal(on_disk[120:], in_memory.X_test)


def test_label_balance_and_exclusive_families():
    data = make_shapes(4000, n_tasks=40, image_size=8, random_state=0)
    Y = np.vstack([data.Y_train, data.Y_test])
    rate = dict(zip(data.task_names, Y.mean(axis=0)))
    # every task has both labels in fair numbers, like CelebA's attributes
    assert min(rate.values()) > 0.05 and max(rate.values()) < 0.7
    families = {
        "shape": (["ellipse", "rectangle", "triangle", "diamond"], 1 / 4),
        "texture": (["solid", "striped", "checkered", "dotted"], 1 / 4),
        "colour": (list(PALETTE), 1 / 8),
        "tilt": (["tilt_0_45", "tilt_45_90", "tilt_90_135", "tilt_135_180"], 1 / 4),
        "size": (["small", "medium_size", "large"], 1 / 3),
    }
    column = {name: k for k, name in enumerate(data.task_names)}
    for names, expected in families.values():
        block = Y[:, [column[n] for n in names]]
        np.testing.assert_array_equal(block.sum(axis=1), 1.0)  # exactly one each
        # binomial standard error at n=4000 is under 0.007
        np.testing.assert_allclose(block.mean(axis=0), expected, atol=0.03)
    both = Y[:, column["large"]] * Y[:, column["ellipse"]]
    np.testing.assert_array_equal(both, Y[:, column["large_ellipse"]])


def test_colour_labels_can_be_read_back_from_the_pixels():
    """The centre pixel of a low-noise shape shows its palette colour."""
    side = 24
    data = make_shapes(600, n_tasks=40, image_size=side, test_size=0.5, random_state=5)
    att = {k: v[: len(data.X_train)] for k, v in data.attributes.items()}
    images = data.X_train.reshape(-1, *data.image_shape)
    # every texture is lit at the centre; strong noise blurs the colour
    keep = att["noisy"] == 0
    assert keep.sum() > 120
    rows = np.flatnonzero(keep)
    r = np.minimum((att["y"][rows] * side).astype(int), side - 1)
    c = np.minimum((att["x"][rows] * side).astype(int), side - 1)
    centre = images[rows, :, r, c]  # (n, 3)
    palette = np.array(list(PALETTE.values()))
    distance = ((centre[:, None, :] - palette[None]) ** 2).sum(axis=2)
    read_colour = distance.argmin(axis=1)
    assert (read_colour == att["colour"][rows]).mean() > 0.97
    red = data.task_names.index("red")
    read_red = read_colour == list(PALETTE).index("red")
    assert (read_red == (data.Y_train[rows, red] == 1)).mean() > 0.97


def test_size_label_can_be_read_back_from_the_pixels():
    """Large shapes cover more pixels that differ from the background."""
    side = 24
    data = make_shapes(400, n_tasks=4, image_size=side, random_state=6)
    att = data.attributes
    images = data.X_train.reshape(-1, *data.image_shape)
    n = len(images)
    background = att["brightness"][:n, None] + 0.15 * att["tint"][:n, None] * np.array(
        [1, 0, -1]
    )
    far = np.abs(images - background[:, :, None, None]).max(axis=1) > 0.3
    cover = far.mean(axis=(1, 2))
    large = data.Y_train[:, data.task_names.index("large")] == 1
    quiet = att["noisy"][:n] == 0
    assert cover[large & quiet].mean() > 2 * cover[~large & quiet].mean()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_tasks=41), "n_tasks"),
        (dict(dtype="float64"), "dtype"),
        (dict(image_size=4), "image_size"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        make_shapes(20, **kwargs)


def test_a_split_without_training_images_is_refused():
    with pytest.raises(ValueError, match="no training image"):
        make_shapes(2, test_size=0.9, image_size=8)
