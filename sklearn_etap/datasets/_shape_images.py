"""Vectorized drawing of one textured, rotated shape per image.

Every image is a solid background with a little pixel noise and one shape on
it. All images of a chunk are drawn at once with array operations over
(images, rows, columns): no Python loop over pixels or images.
"""

import numpy as np

SHAPES = ("ellipse", "rectangle", "triangle", "diamond")
TEXTURES = ("solid", "striped", "checkered", "dotted")
# name -> RGB in [0, 1]
PALETTE = {
    "red": (1.0, 0.1, 0.1),
    "green": (0.1, 0.9, 0.1),
    "blue": (0.15, 0.2, 1.0),
    "yellow": (1.0, 0.95, 0.1),
    "magenta": (1.0, 0.1, 1.0),
    "cyan": (0.1, 0.95, 1.0),
    "white": (1.0, 1.0, 1.0),
    "orange": (1.0, 0.55, 0.05),
}
# the unlit part of a textured shape keeps this share of its colour
_SHADE = 0.35
# texture period, in units of the image side
_PERIOD = 1 / 6
# rows of images drawn at once: bounds the temporary arrays (~ chunk * side^2 * 40 B)
CHUNK = 1024


def draw_attributes(rng, n_samples):
    """Draw every image's attributes; sizes and positions in units of the side."""
    return {
        "shape": rng.randint(len(SHAPES), size=n_samples),
        "colour": rng.randint(len(PALETTE), size=n_samples),
        "texture": rng.randint(len(TEXTURES), size=n_samples),
        # half-length of the major axis
        "size": rng.uniform(0.16, 0.4, size=n_samples),
        # minor axis / major axis
        "aspect": rng.uniform(0.45, 1.0, size=n_samples),
        "x": rng.uniform(0.2, 0.8, size=n_samples),
        "y": rng.uniform(0.2, 0.8, size=n_samples),
        # every shape but the triangle repeats after half a turn
        "rotation": rng.uniform(0.0, np.pi, size=n_samples),
        "brightness": rng.uniform(0.05, 0.6, size=n_samples),
        # > 0: reddish background, < 0: bluish
        "tint": rng.uniform(-1.0, 1.0, size=n_samples),
        "noisy": rng.randint(2, size=n_samples),
    }


def _shape_masks(u, v, a, b, shape):
    """Whether each pixel lies inside its image's shape, in the shape's frame."""
    au, bv = np.abs(u) / a, np.abs(v) / b
    inside = np.empty(u.shape, dtype=bool)
    for kind, name in enumerate(SHAPES):
        rows = shape == kind
        if not rows.any():
            continue
        if name == "ellipse":
            mask = au[rows] ** 2 + bv[rows] ** 2 <= 1
        elif name == "rectangle":
            mask = (au[rows] <= 1) & (bv[rows] <= 1)
        elif name == "diamond":
            mask = au[rows] + bv[rows] <= 1
        else:  # triangle, apex at v = -b, base at v = +b
            height = (v[rows] / b[rows] + 1) / 2
            mask = (height >= 0) & (height <= 1) & (au[rows] <= height)
        inside[rows] = mask
    return inside


def _texture_lit(u, v, texture, period):
    """Whether each pixel of the shape is lit (full colour) or shaded.

    The phases are shifted by half a period so that the centre of every shape
    is lit, whatever its texture.
    """
    phase_u, phase_v = u / period + 0.5, v / period + 0.5
    lit = np.ones(u.shape, dtype=bool)
    for kind, name in enumerate(TEXTURES):
        rows = texture == kind
        if name == "solid" or not rows.any():
            continue
        pu, pv = phase_u[rows], phase_v[rows]
        if name == "striped":
            lit[rows] = np.floor(pu) % 2 == 0
        elif name == "checkered":
            lit[rows] = (np.floor(pu) + np.floor(pv)) % 2 == 0
        else:  # dotted: a disc in the middle of every cell
            du, dv = pu - np.floor(pu) - 0.5, pv - np.floor(pv) - 0.5
            lit[rows] = du**2 + dv**2 <= 0.35**2
    return lit


def render(attributes, rows, image_size, noise_rng):
    """Images of ``rows`` as uint8 of shape (len(rows), 3, side, side)."""
    side = image_size
    att = {name: values[rows, None, None] for name, values in attributes.items()}
    centres = (np.arange(side) + 0.5) / side
    dx = centres[None, None, :] - att["x"]
    dy = centres[None, :, None] - att["y"]
    cos, sin = np.cos(att["rotation"]), np.sin(att["rotation"])
    u = dx * cos + dy * sin
    v = -dx * sin + dy * cos
    a = att["size"]
    b = att["size"] * att["aspect"]
    shape, texture = att["shape"][:, 0, 0], att["texture"][:, 0, 0]
    inside = _shape_masks(u, v, a, b, shape)
    lit = _texture_lit(u, v, texture, _PERIOD)

    palette = np.array(list(PALETTE.values()), dtype=np.float32)
    colour = palette[attributes["colour"][rows]][:, :, None, None]
    shade = np.where(lit, np.float32(1.0), np.float32(_SHADE))[:, None]
    tint = np.array([1.0, 0.0, -1.0], dtype=np.float32)[None, :, None, None]
    background = att["brightness"][:, None] + 0.15 * att["tint"][:, None] * tint
    image = np.where(inside[:, None], colour * shade, background.astype(np.float32))
    sigma = np.where(att["noisy"][:, None] == 1, 0.1, 0.02).astype(np.float32)
    image += sigma * noise_rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
