"""Procedural multi-attribute images shaped like CelebA: up to 40 binary tasks."""

import os
from numbers import Integral, Real

import numpy as np
from numpy.lib.format import open_memmap
from sklearn.utils import Bunch, check_random_state

from .._validation import Interval, StrOptions, validate_params
from ._shape_images import CHUNK, PALETTE, SHAPES, TEXTURES, draw_attributes, render

_COLOURS = tuple(PALETTE)
_RGB = np.array(list(PALETTE.values()))


def _one_of(attribute, names, name):
    return lambda att: att[attribute] == names.index(name)


def _channel(k):
    return lambda att: _RGB[att["colour"], k] > 0.6


def _tilt(quarter):
    low, high = quarter * np.pi / 4, (quarter + 1) * np.pi / 4
    return lambda att: (att["rotation"] >= low) & (att["rotation"] < high)


def _shape(name):
    return _one_of("shape", SHAPES, name)


def _colour(name):
    return _one_of("colour", _COLOURS, name)


def _texture(name):
    return _one_of("texture", TEXTURES, name)


def _dark(att):
    return att["brightness"] < 0.3


def _large(att):
    return att["size"] > 0.32


def _elongated(att):
    return att["aspect"] < 0.65


# Ordered so that the first 20 tasks already cover every attribute family.
TASKS = {
    "ellipse": _shape("ellipse"),
    "red": _colour("red"),
    "striped": _texture("striped"),
    "large": _large,
    "left": lambda att: att["x"] < 0.4,
    "tilt_0_45": _tilt(0),
    "elongated": _elongated,
    "dark_background": _dark,
    "rectangle": _shape("rectangle"),
    "has_red": _channel(0),
    "checkered": _texture("checkered"),
    "small": lambda att: att["size"] < 0.24,
    "top": lambda att: att["y"] < 0.4,
    "tilt_45_90": _tilt(1),
    "noisy_background": lambda att: att["noisy"] == 1,
    "triangle": _shape("triangle"),
    "blue": _colour("blue"),
    "dotted": _texture("dotted"),
    "centred": lambda att: (att["x"] - 0.5) ** 2 + (att["y"] - 0.5) ** 2 < 0.12**2,
    "large_ellipse": lambda att: _large(att) & (att["shape"] == 0),
    "diamond": _shape("diamond"),
    "green": _colour("green"),
    "yellow": _colour("yellow"),
    "magenta": _colour("magenta"),
    "cyan": _colour("cyan"),
    "white": _colour("white"),
    "orange": _colour("orange"),
    "has_green": _channel(1),
    "has_blue": _channel(2),
    "solid": _texture("solid"),
    "medium_size": lambda att: (att["size"] >= 0.24) & (att["size"] <= 0.32),
    "right": lambda att: att["x"] > 0.6,
    "bottom": lambda att: att["y"] > 0.6,
    "tilt_90_135": _tilt(2),
    "tilt_135_180": _tilt(3),
    "warm_background": lambda att: att["tint"] > 1 / 3,
    "striped_or_checkered": lambda att: np.isin(att["texture"], (1, 2)),
    "reddish_on_dark": lambda att: _channel(0)(att) & _dark(att),
    "top_left": lambda att: (att["x"] < 0.4) & (att["y"] < 0.4),
    "thin_rectangle": lambda att: (att["shape"] == 1) & _elongated(att),
}

_DESCR = """\
Procedural shapes (CelebA-like multi-attribute images)
------------------------------------------------------
Images: {n_samples} RGB images of {side}x{side} pixels, channels first,
flattened to {n_features} features ({dtype}). Each shows one shape (ellipse,
rectangle, triangle, diamond) of one of 8 colours, with a texture (solid,
striped, checkered, dotted), a size, an elongation, a position and a rotation
drawn at random, on a tinted background of random brightness with weak or
strong pixel noise.
Tasks: {n_tasks} binary attributes read from those draws (one-hot shape,
colour and texture, colour channels, size and position bands, rotation
quarters, background, and a few conjunctions such as "large_ellipse"),
correlated and mutually exclusive in places, as CelebA's attributes are.
Split: the draws are independent, so the first {n_train} images are the
training split and the last {n_test} the test split (slices: no copy of a
memory-mapped file).
"""


@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_tasks": [Interval(Integral, 1, len(TASKS), closed="both")],
        "image_size": [Interval(Integral, 8, None, closed="left")],
        "dtype": [StrOptions({"float32", "uint8"})],
        "path": [str, os.PathLike, None],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_shapes(
    n_samples=10_000,
    *,
    n_tasks=40,
    image_size=32,
    dtype="float32",
    path=None,
    test_size=0.2,
    random_state=None,
):
    """Generate images of textured shapes with up to 40 binary attribute tasks.

    A workload shaped like CelebA (many binary attributes of one image, some
    correlated, some exclusive) that installs with nothing: every image shows
    one shape whose kind, colour, texture, size, elongation, position and
    rotation, and whose background's brightness, tint and noise, are drawn at
    random; each task is one binary attribute of those draws. The images are
    drawn in chunks with array operations and can be written straight to a
    memory-mapped ``.npy`` file.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of images, train and test together.
    n_tasks : int, default=40
        Keep the first ``n_tasks`` of the 40 attribute tasks; the first 20
        already cover every attribute family.
    image_size : int, default=32
        Side of the square images, in pixels.
    dtype : {"float32", "uint8"}, default="float32"
        Storage of the pixels: ``"float32"`` in [0, 1] (what
        :class:`~sklearn_etap.TorchAffinityExtractor` takes without a copy
        of another dtype), or ``"uint8"`` in 0..255 (4 times smaller; divide
        by 255 per batch).
    path : str or path-like, default=None
        Write the images of both splits to this ``.npy`` file (overwritten)
        and return memory-mapped slices of it; ``None`` keeps them in memory.
    test_size : float, default=0.2
        Fraction of the images in the test split (the last ones).
    random_state : int, RandomState instance or None, default=None
        Seed of every draw; an int gives the same images and labels every time.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``X_test`` (``(n, 3 * image_size**2)``, channels
        first: reshape to ``(n, 3, image_size, image_size)``), ``Y_train``,
        ``Y_test`` (float32 in {0, 1}, ``(n, n_tasks)``), ``task_names``,
        ``feature_names`` (``"c_row_col"``), ``task_types`` (``"binary"``),
        ``DESCR``, ``image_shape`` (``(3, image_size, image_size)``),
        ``train_ids``, ``test_ids``, ``attributes`` (dict of the per-image
        draws, for all images: ``shape``, ``colour``, ``texture`` as indices
        into ``shape_names``, ``colour_names``, ``texture_names``; ``size``,
        ``aspect``, ``x``, ``y``, ``rotation``, ``brightness``, ``tint``,
        ``noisy``) and ``path`` (the file, or None).

    Examples
    --------
    >>> from sklearn_etap.datasets import make_shapes
    >>> data = make_shapes(1000, n_tasks=20, image_size=16, random_state=0)
    >>> data.X_train.shape, data.Y_train.shape, data.X_test.shape
    ((800, 768), (800, 20), (200, 768))
    >>> data.image_shape, data.task_names[:4]
    ((3, 16, 16), ['ellipse', 'red', 'striped', 'large'])
    >>> images = data.X_train.reshape(-1, *data.image_shape)
    >>> float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    True
    """
    n_test = int(np.ceil(test_size * n_samples))
    n_train = n_samples - n_test
    if n_train < 1:
        raise ValueError(
            f"n_samples={n_samples} with test_size={test_size} leaves no "
            "training image; increase n_samples or lower test_size."
        )
    rng = check_random_state(random_state)
    attributes = draw_attributes(rng, n_samples)
    noise_rng = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    names = list(TASKS)[:n_tasks]
    Y = np.column_stack([TASKS[name](attributes) for name in names])
    Y = Y.astype(np.float32)

    n_features = 3 * image_size**2
    shape = (n_samples, n_features)
    if path is None:
        X = np.empty(shape, dtype=dtype)
    else:
        path = os.fspath(path)
        X = open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    for start in range(0, n_samples, CHUNK):
        rows = np.arange(start, min(start + CHUNK, n_samples))
        pixels = render(attributes, rows, image_size, noise_rng).reshape(len(rows), -1)
        if dtype == "uint8":
            X[rows] = pixels
        else:
            X[rows] = pixels.astype(np.float32) / np.float32(255)
    if path is not None:
        X.flush()
        X = open_memmap(path, mode="r")

    return Bunch(
        X_train=X[:n_train],
        X_test=X[n_train:],
        Y_train=Y[:n_train],
        Y_test=Y[n_train:],
        task_names=names,
        feature_names=[
            f"{c}_{r}_{k}"
            for c in "rgb"
            for r in range(image_size)
            for k in range(image_size)
        ],
        task_types=["binary"] * n_tasks,
        DESCR=_DESCR.format(
            n_samples=n_samples,
            side=image_size,
            n_features=n_features,
            dtype=dtype,
            n_tasks=n_tasks,
            n_train=n_train,
            n_test=n_test,
        ),
        image_shape=(3, image_size, image_size),
        train_ids=np.arange(n_train),
        test_ids=np.arange(n_train, n_samples),
        attributes=attributes,
        shape_names=list(SHAPES),
        colour_names=list(_COLOURS),
        texture_names=list(TEXTURES),
        path=path,
    )
