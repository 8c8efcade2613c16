"""Procedural grayscale face renderer driven by identity, action units and nuisance (docs/data.md).

The drawing kernel is one jitted JAX function over a flat batch of B images: every step is
an elementwise operation on ``[B, H, W]`` arrays, which XLA fuses, so one call renders
thousands of faces per second on a CPU. Parameters are handled in NumPy around it.

Coordinates: face space ``(u, v)`` with ``u`` to the right of the image (the subject's
left) and ``v`` downwards, the face centre near the origin and the image spanning about
``[-1, 1]``. Shapes are soft masks (``_inside``) of approximate signed distances,
composited back to front; the one-pixel softness is the antialiasing.

The renderer is deterministic: pixel noise comes from an integer hash of
``(noise_seed, pixel index)``, not from a global random state.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

AU_NAMES: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU12", "AU15", "AU20", "AU23", "AU26"
)
NUM_AUS: int = len(AU_NAMES)
AU1, AU2, AU4, AU5, AU6, AU7, AU12, AU15, AU20, AU23, AU26 = range(NUM_AUS)
_ZOOM = np.float32(1.12)  # face-space units per image unit: faces fill a tight crop


@struct.dataclass
class Identity:
    """Per-subject parameters; every field has leading shape ``batch`` (``[]`` for one face).

    Geometry (face-space units, the image spans [-1, 1]): ``face_w``/``face_h`` half-axes of
    the oval, ``chin`` taper of the lower half, ``eye_sep`` half distance between the eyes,
    ``eye_y``, ``eye_w``/``eye_h`` half-width and resting half-opening, ``brow_h`` height
    above the eye, ``brow_t`` half-thickness, ``nose_len``, ``nose_w``, ``mouth_y``,
    ``mouth_w`` half-width, ``lip_t`` lip thickness, ``hairline``, ``hair_vol`` (hair
    width relative to the face), ``hair_part`` (tilt of the hairline), ``hair_len`` in
    [0, 1]. Tones in [0, 1]:
    ``skin``, ``hair``, ``background``.
    Personal style: ``au_gain`` [..., 11] multiplies intended AUs, ``au_coupling``
    [..., 11, 11] adds co-activated AUs (row AU drives column AU), ``au_rest`` [..., 11] is
    the resting offset (a slight smile, frown...), ``asym`` in [-1, 1] scales the face's
    left side by ``1 + asym`` and the right side by ``1 - asym``.
    """

    face_w: np.ndarray
    face_h: np.ndarray
    chin: np.ndarray
    eye_sep: np.ndarray
    eye_y: np.ndarray
    eye_w: np.ndarray
    eye_h: np.ndarray
    brow_h: np.ndarray
    brow_t: np.ndarray
    nose_len: np.ndarray
    nose_w: np.ndarray
    mouth_y: np.ndarray
    mouth_w: np.ndarray
    lip_t: np.ndarray
    hairline: np.ndarray
    hair_vol: np.ndarray
    hair_part: np.ndarray
    hair_len: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    background: np.ndarray
    au_gain: np.ndarray
    au_coupling: np.ndarray
    au_rest: np.ndarray
    asym: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.face_w)

    def take(self, index) -> "Identity":
        """Index every field along the batch axes (``index`` as in NumPy)."""
        return _tree_map(lambda a: np.asarray(a)[index], self)


@struct.dataclass
class Nuisance:
    """Per-image viewing conditions; every field has the image batch shape.

    ``roll`` (radians), ``dx``/``dy`` (face-space shift), ``scale``, ``yaw`` (shift of the
    inner features, a cheap stand-in for turning the head), ``light_angle``/``light`` (a
    linear lighting gradient of relative strength ``light``), ``brightness`` (added),
    ``contrast`` (multiplied), ``noise`` (pixel noise standard deviation, intensity units)
    and ``noise_seed`` (uint32, which noise field).

    Optional (``None`` means 0 / off, which draws exactly what the fields above draw):
    ``head_yaw``/``head_pitch`` (radians) turn the head in 3-D: the face is drawn on a
    cylinder, so the side turning away is foreshortened and its edge hidden;
    ``jaw``/``lips`` are speech articulation added to what the face shows (AU26 jaw drop
    and AU23 lip narrowing units, independent of the expression); ``occluder`` (0 none,
    1 hand, 2 strand of hair, 3 glasses) at face-space ``occ_u``/``occ_v`` with size
    ``occ_size``; ``blur`` widens every edge by ``1 + blur`` pixels (defocus, motion);
    ``blocks`` is the standard deviation of a per-8×8-block offset (compression).
    """

    roll: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    scale: np.ndarray
    yaw: np.ndarray
    light_angle: np.ndarray
    light: np.ndarray
    brightness: np.ndarray
    contrast: np.ndarray
    noise: np.ndarray
    noise_seed: np.ndarray
    head_yaw: np.ndarray | None = None
    head_pitch: np.ndarray | None = None
    jaw: np.ndarray | None = None
    lips: np.ndarray | None = None
    occluder: np.ndarray | None = None
    occ_u: np.ndarray | None = None
    occ_v: np.ndarray | None = None
    occ_size: np.ndarray | None = None
    blur: np.ndarray | None = None
    blocks: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.roll)


OPTIONAL_NUISANCE: tuple[str, ...] = ("head_yaw", "head_pitch", "jaw", "lips", "occluder",
                                      "occ_u", "occ_v", "occ_size", "blur", "blocks")
OCCLUDERS: tuple[str, ...] = ("none", "hand", "hair", "glasses")


def _tree_map(fn, obj):
    return type(obj)(**{k: None if getattr(obj, k) is None else fn(getattr(obj, k))
                        for k in obj.__dataclass_fields__})


def canonical_nuisance(shape: tuple[int, ...] = ()) -> Nuisance:
    """Frontal, centred, evenly lit and noise-free view for every image of ``shape``."""
    z = np.zeros(shape, np.float32)
    return Nuisance(
        roll=z, dx=z, dy=z, scale=z + 1.0, yaw=z, light_angle=z, light=z,
        brightness=z, contrast=z + 1.0, noise=z, noise_seed=np.zeros(shape, np.uint32),
        **{k: z for k in OPTIONAL_NUISANCE},
    )


def sample_nuisance(rng: np.random.Generator, shape: tuple[int, ...], strength: float = 1.0
                    ) -> Nuisance:
    """Independent random viewing conditions; ``strength`` scales every deviation.

    At strength 1: head roll 1°, shift 0.008 (a quarter pixel at 64×64), scale 0.8%,
    yaw 0.01 (standard deviations), a lighting gradient of up to 15%, brightness 0.02,
    contrast 3% and pixel noise of 0.015 (about 4 grey levels).
    """
    s = float(strength)
    n = lambda sd: (rng.standard_normal(shape) * sd * s).astype(np.float32)  # noqa: E731
    return Nuisance(
        roll=n(np.deg2rad(1.0)), dx=n(0.008), dy=n(0.008), scale=1.0 + n(0.008), yaw=n(0.01),
        light_angle=rng.uniform(0, 2 * np.pi, shape).astype(np.float32),
        light=(rng.uniform(0.0, 0.15, shape) * s).astype(np.float32),
        brightness=n(0.02), contrast=1.0 + n(0.03),
        noise=np.full(shape, 0.015 * s, np.float32),
        noise_seed=rng.integers(0, 2**32, shape, dtype=np.uint32),
        **{k: np.zeros(shape, np.float32) for k in OPTIONAL_NUISANCE},  # no draws: off
    )


def effective_aus(identity: Identity, aus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intended AUs [..., 11] → what this face shows on its (left, right) side, each [..., 11].

    Personal style: ``rest + gain * (aus + aus @ coupling)``, then the asymmetry, clipped
    to [0, 1.3] (a strong expresser may exceed the prototype's apex a little).
    """
    aus = np.asarray(aus, np.float32)
    driven = aus + np.einsum("...i,...ij->...j", aus, identity.au_coupling)
    shown = identity.au_rest + identity.au_gain * driven
    a = identity.asym[..., None]
    return np.clip(shown * (1 + a), 0, 1.3), np.clip(shown * (1 - a), 0, 1.3)


# ----------------------------------------------------------------------------- drawing


def _inside(d: jnp.ndarray, px: float) -> jnp.ndarray:
    """Soft membership from a signed distance ``d`` (negative inside), one pixel wide."""
    return jnp.clip(0.5 - d / px, 0.0, 1.0)


def _over(img: jnp.ndarray, alpha: jnp.ndarray, value) -> jnp.ndarray:
    """Composite ``value`` over ``img`` with coverage ``alpha``."""
    return img + alpha * (value - img)


def _ellipse(u, v, cu, cv, ru, rv):
    """Approximate signed distance to an axis-aligned ellipse (exact on the axes)."""
    r = jnp.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
    return (r - 1.0) * jnp.minimum(ru, rv)


def _hash_uniform(seed: jnp.ndarray, n: int) -> jnp.ndarray:
    """Deterministic uniforms in (0, 1): [B, n] from uint32 seeds [B] (a PCG-style hash)."""
    x = (seed.astype(jnp.uint32)[:, None] * jnp.uint32(0x9E3779B9)
         + jnp.arange(n, dtype=jnp.uint32)[None])
    x = x ^ (x >> jnp.uint32(16))
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> jnp.uint32(15))
    x = x * jnp.uint32(0x846CA68B)
    x = x ^ (x >> jnp.uint32(16))
    return (x.astype(jnp.float32) + 0.5) * jnp.float32(1.0 / 2**32)


@functools.partial(jax.jit, static_argnames="size")
def _draw(idn: dict, left: jnp.ndarray, right: jnp.ndarray, nui: dict, size: int
          ) -> jnp.ndarray:
    """Render a flat batch: ``idn``/``nui`` map field → [B] arrays, ``left``/``right`` are
    the effective AUs [B, 11] of each side → uint8 [B, size, size]."""
    B = left.shape[0]
    c = (jnp.arange(size, dtype=jnp.float32) + 0.5) * jnp.float32(2.0 / size) - 1.0
    X = c[None, None, :]
    Y = c[None, :, None]
    col = lambda k: nui[k][:, None, None]  # noqa: E731
    p = lambda k: idn[k][:, None, None]  # noqa: E731

    # Inverse pose: image (X, Y) → face space (u, v).
    cr, sr = jnp.cos(col("roll")), jnp.sin(col("roll"))
    zoom = col("scale") * _ZOOM
    px = jnp.float32(2.0 / size) / zoom * (1.0 + col("blur"))  # edge width, face-space units
    xs, ys = (X - col("dx")) / zoom, (Y - col("dy")) / zoom
    u = cr * xs + sr * ys
    v = -sr * xs + cr * ys
    v = v - jnp.float32(0.1)  # the face sits a little low so that hair shows above it
    # A 3-D head turn: the face lies on a cylinder (radius 0.78 across, 0.95 along), so a
    # screen point maps back through the arcsine; points off the cylinder move rigidly.
    # Exactly the identity when the turn is 0.
    def turn(w, angle, radius):
        c = jnp.clip(w / radius, -0.995, 0.995)
        back = radius * jnp.sin(jnp.arcsin(c) - angle) + (w - radius * c)
        return jnp.where(angle != 0, back, w)

    hy, hp = col("head_yaw"), col("head_pitch")
    u = turn(u, hy, jnp.float32(0.78))
    v = turn(v, hp, jnp.float32(0.95))
    # Inner features shift when the head turns; the nose, which stands out, a bit more.
    uf = u - col("yaw") - jnp.where(hy != 0, 0.06 * jnp.sin(hy), 0.0)

    side = u > 0  # subject's left on screen right
    w_left = jnp.clip(0.5 + u / 0.16, 0.0, 1.0)  # smooth blend: no seam at the midline

    def au(k):
        r = right[:, k, None, None]
        return r + (left[:, k, None, None] - r) * w_left

    skin = p("skin")
    img = jnp.broadcast_to(p("background"), (B, size, size)).astype(jnp.float32)

    # Jaw drop lengthens the lower face.
    fw, fh = p("face_w"), p("face_h")
    jaw = 0.1 * au(AU26)
    lower = v > 0
    fh_eff = jnp.where(lower, fh + jaw, fh)
    fw_eff = fw * jnp.where(lower, 1.0 - p("chin") * jnp.clip(v / fh_eff, 0, 1) ** 2, 1.0)

    # Neck, hair mass behind the head, ears.
    neck = jnp.maximum(jnp.abs(u) - 0.55 * fw, -(v - 0.3))
    img = _over(img, _inside(neck, px), 0.8 * skin)
    hair_back = _ellipse(u, v, 0.0, -0.1 * p("hair_vol"), fw * p("hair_vol"), fh * 0.98)
    hair_end = -0.15 + 0.75 * p("hair_len")  # short hair ends above the ears
    curtain = jnp.maximum(jnp.abs(u) - fw * p("hair_vol") * 0.97, -0.1 * p("hair_vol") - v)
    hair = jnp.maximum(jnp.minimum(hair_back, curtain), v - hair_end)
    img = _over(img, _inside(hair, px), p("hair"))
    for s in (-1.0, 1.0):
        ear = _ellipse(u, v, s * fw * 0.98, 0.02, 0.07, 0.14)
        img = _over(img, _inside(ear, px), 0.85 * skin)

    # Face oval with simple rounded shading.
    r = jnp.sqrt((u / fw_eff) ** 2 + (v / fh_eff) ** 2)
    face = (r - 1.0) * jnp.minimum(fw_eff, fh_eff)
    shade = 0.78 + 0.22 * jnp.sqrt(jnp.clip(1.0 - r**2, 0.0, 1.0))
    img = _over(img, _inside(face, px), skin * shade)
    hairline = p("hairline") + 0.55 * u**2 + p("hair_part") * u
    fringe = jnp.maximum(jnp.minimum(face, hair_back), v - hairline)
    img = _over(img, _inside(fringe, px), p("hair"))

    # Features in face space, relative to the eye line.
    ey, es, ew = p("eye_y"), p("eye_sep"), p("eye_w")
    eu = jnp.where(side, es, -es)  # this side's eye centre
    du = (uf - eu) * jnp.where(side, 1.0, -1.0)  # along the eye, + towards the face's edge

    # Forehead wrinkles (AU1/AU2) and the frown furrow (AU4).
    brow_y0 = ey - p("brow_h")
    wr = jnp.clip(0.6 * au(AU1) + 0.4 * au(AU2) - 0.15, 0.0, 1.0)
    for k in (1.0, 2.0):
        yk = brow_y0 - 0.03 - 0.06 * k + 0.12 * uf**2
        dist = jnp.maximum(jnp.abs(v - yk) - 0.006, jnp.abs(uf) - 0.26)
        img = _over(img, 0.6 * wr * _inside(dist, px), 0.5 * skin)
    fur = jnp.clip(au(AU4) - 0.1, 0.0, 1.0)
    dist = jnp.maximum(jnp.abs(jnp.abs(uf) - 0.035) - 0.006, jnp.abs(v - brow_y0 + 0.01) - 0.05)
    img = _over(img, 0.75 * fur * _inside(dist, px), 0.45 * skin)

    # Eye sockets, eyes, lids.
    up_open = p("eye_h") * (1.0 + 1.1 * au(AU5) - 0.25 * au(AU7) - 0.2 * au(AU6))
    lo_open = p("eye_h") * 0.8 * (1.0 - 0.45 * au(AU6) - 0.45 * au(AU7) + 0.25 * au(AU5))
    t = jnp.clip(1.0 - (du / ew) ** 2, 0.0, None)
    lid_up = ey - up_open * t
    lid_lo = ey + lo_open * t
    socket = _ellipse(du, v, 0.0, ey - 0.02, ew * 1.35, p("eye_h") * 2.4)
    img = _over(img, 0.25 * _inside(socket, px), 0.65 * skin)
    aperture = jnp.minimum(_inside(lid_up - v, px), _inside(v - lid_lo, px)) * (t > 0)
    iris_r = jnp.float32(0.55) * ew
    iris = _inside(jnp.hypot(du, v - ey) - iris_r, px)
    pupil = _inside(jnp.hypot(du, v - ey) - 0.45 * iris_r, px)
    eye = jnp.full_like(skin, 0.92)  # sclera
    eye = _over(eye, iris, 0.3)
    eye = _over(eye, pupil, 0.05)
    img = _over(img, aperture, eye)
    lash = jnp.maximum(jnp.abs(v - lid_up + 0.006) - 0.011, jnp.abs(du) - ew * 1.02)
    img = _over(img, 0.9 * _inside(lash, px), 0.12)
    cheek = jnp.clip(au(AU6) + 0.5 * au(AU7) - 0.15, 0.0, 1.0)  # lower-lid bulge line
    yk = ey + lo_open * t + 0.035
    dist = jnp.maximum(jnp.abs(v - yk) - 0.006, jnp.abs(du) - ew * 0.9)
    img = _over(img, 0.65 * cheek * _inside(dist, px), 0.5 * skin)

    # Cheek raise (AU6) lifts and rounds the cheeks: a highlight with a shadow below.
    apple = _inside(_ellipse(du, v, 0.0, ey + 0.2, ew * 1.3, 0.085), 6 * px)  # soft edge
    img = _over(img, 0.45 * au(AU6) * apple, jnp.minimum(skin * 1.12, 1.0))
    under = _inside(_ellipse(du, v, 0.0, ey + 0.3, ew * 1.4, 0.05), 3 * px) * (1.0 - apple)
    img = _over(img, 0.3 * au(AU6) * under, 0.75 * skin)

    # Brows: a thick tapered arc from the inner to the outer end.
    raise_in = 0.1 * au(AU1) - 0.075 * au(AU4)
    raise_out = 0.09 * au(AU2) - 0.02 * au(AU4)
    inward = 0.035 * au(AU4)
    b_in, b_out = 0.35 * ew - inward, 1.35 * ew
    s = jnp.clip((du - b_in) / (b_out - b_in), 0.0, 1.0)
    arch = 0.035 * (1.0 - 0.6 * au(AU4)) * 4.0 * s * (1.0 - s)
    by = brow_y0 - raise_in * (1.0 - s) - raise_out * s - arch + 0.035 * au(AU4)
    bt = p("brow_t") * (1.15 - 0.5 * s)
    dist = jnp.maximum(jnp.abs(v - by) - bt, jnp.maximum(b_in - du, du - b_out))
    img = _over(img, 0.95 * _inside(dist, px), jnp.minimum(p("hair"), 0.45 * skin))

    # Nose: nostrils, the wings around them and the lower edge of the tip.
    ny = ey + p("nose_len")
    nw = p("nose_w")
    for s in (-1.0, 1.0):
        nostril = _ellipse(uf, v, s * nw * 0.5, ny, 0.022, 0.012)
        img = _over(img, 0.8 * _inside(nostril, px), 0.35 * skin)
        ring = jnp.abs(jnp.hypot(uf - s * nw * 0.75, v - ny + 0.01) - 0.03) - 0.005
        wing = jnp.maximum(ring, ny - 0.02 - v)
        img = _over(img, 0.4 * _inside(wing, px), 0.6 * skin)
    tip = jnp.maximum(jnp.abs(jnp.hypot(uf, (v - ny) * 1.6) - nw * 0.55) - 0.005, ny - v)
    img = _over(img, 0.3 * _inside(tip, px), 0.6 * skin)

    # Mouth: the centre line bends at the corners (AU12 up, AU15/AU20 down), the lips
    # part with AU26, and AU20 widens while AU23 narrows and thins it.
    my = p("mouth_y") + 0.5 * jaw
    mw = p("mouth_w") * (1.0 + 0.18 * au(AU12) + 0.3 * au(AU20) - 0.15 * au(AU23)
                         - 0.12 * au(AU26))
    x = uf / mw
    t = jnp.clip(1.0 - x**2, 0.0, None)
    corner = 0.1 * au(AU12) - 0.08 * au(AU15) - 0.015 * au(AU20)
    mid = my - corner * (1.0 - t) + 0.015 * au(AU12) * t
    gap = (0.18 * au(AU26) + 0.02 * au(AU12) * au(AU6)) * t**0.7
    lip = p("lip_t") * (1.0 - 0.7 * au(AU23) - 0.3 * au(AU20)) * (0.35 + 0.65 * t**0.5)
    in_up, in_lo = mid - 0.3 * gap, mid + 0.7 * gap
    out_up, out_lo = in_up - 0.8 * lip, in_lo + lip
    hmask = jnp.abs(x) < 1.0
    lips = jnp.minimum(_inside(out_up - v, px), _inside(v - out_lo, px)) * hmask
    img = _over(img, lips, 0.5 * skin)
    hole = jnp.minimum(_inside(in_up - v, px), _inside(v - in_lo, px)) * hmask
    teeth_lo = in_up + jnp.minimum(0.5 * (in_lo - in_up), 0.03)
    teeth = jnp.minimum(hole, _inside(v - teeth_lo, px))
    img = _over(img, hole, 0.1)
    img = _over(img, teeth * jnp.clip(gap / 0.02, 0, 1), 0.8)
    seam = (jnp.maximum(jnp.abs(v - mid) - 0.007 - 0.005 * au(AU23), jnp.abs(x) - 1.02)
            + 0.02 * jnp.clip(gap / 0.01, 0, 1))  # the closed-lips line fades as they part
    img = _over(img, 0.8 * _inside(seam, px), 0.25 * skin)

    # Nasolabial folds deepen with AU12 (and a little with AU6, AU20).
    fold = 0.7 * jnp.clip(au(AU12) + 0.3 * au(AU6) + 0.3 * au(AU20) - 0.2, 0.0, 1.0)
    vv = jnp.clip((v - ny) / jnp.maximum(my - corner + 0.04 - ny, 0.05), 0.0, 1.0)
    fu = nw * 1.5 + vv * (mw + 0.04 - nw * 1.5) + 0.03 * jnp.sin(jnp.pi * vv)
    dist = jnp.maximum(jnp.abs(jnp.abs(uf) - fu) - 0.007,
                       jnp.maximum(ny - v, v - (my - corner + 0.05)))
    img = _over(img, 0.6 * fold * _inside(dist, px), 0.5 * skin)

    # Occluders: a hand, a strand of hair across an eye, glasses (one code per image).
    occ, ou, ov = col("occluder"), col("occ_u"), col("occ_v")
    osz = jnp.maximum(col("occ_size"), 0.05)  # a size of 0 (no occluder) stays finite
    palm = _ellipse(u, v, ou, ov, 0.75 * osz, 0.55 * osz)
    fingers = jnp.maximum(jnp.abs(jnp.mod(u - ou + 2.0, 0.12 * osz + 1e-3) - 0.06 * osz)
                          - 0.045 * osz, jnp.abs(v - ov + 0.75 * osz) - 0.4 * osz)
    fingers = jnp.maximum(fingers, jnp.abs(u - ou) - 0.6 * osz)
    hand = jnp.where(occ == 1, _inside(jnp.minimum(palm, fingers), px), 0.0)
    img = _over(img, hand, jnp.minimum(skin * 1.05, 1.0) * (0.9 + 0.1 * (v - ov)))
    strand = jnp.maximum(jnp.abs(u - ou - 0.35 * (v - ov)) - 0.12 * osz, v - ov - 0.25)
    strand = jnp.maximum(strand, p("hairline") - 0.1 - v)
    img = _over(img, jnp.where(occ == 2, _inside(strand, px), 0.0), p("hair"))
    lens = _ellipse(jnp.abs(u), v, es, ey + 0.01, ew * 1.6, ew * 1.15)
    rim = jnp.abs(lens) - 0.012
    bridge = jnp.maximum(jnp.abs(v - ey + 0.02) - 0.01, jnp.abs(u) - es + ew * 1.5)
    glasses = occ == 3
    img = _over(img, jnp.where(glasses, 0.25 * _inside(lens, px), 0.0), 0.3)
    img = _over(img, jnp.where(glasses, _inside(jnp.minimum(rim, bridge), px), 0.0), 0.08)

    # Lighting, photometric jitter, noise.
    la = col("light_angle")
    img = img * (1.0 + col("light") * (jnp.cos(la) * X + jnp.sin(la) * Y))
    img = (img - 0.5) * col("contrast") + 0.5 + col("brightness")
    noise_u = _hash_uniform(nui["noise_seed"], 2 * size * size).reshape(B, 2, size, size)
    gauss = jnp.sqrt(-2.0 * jnp.log(noise_u[:, 0])) * jnp.cos(2 * jnp.pi * noise_u[:, 1])
    img = img + col("noise") * gauss
    nb = (size + 7) // 8  # compression-like artefacts: an offset per 8×8 block
    blk = _hash_uniform(nui["noise_seed"] ^ jnp.uint32(0x5BD1E995), nb * nb) - 0.5
    idx = (jnp.arange(size) // 8)[:, None] * nb + (jnp.arange(size) // 8)[None, :]
    img = img + col("blocks") * 3.46 * blk[:, idx]
    return jnp.clip(jnp.rint(img * 255.0), 0, 255).astype(jnp.uint8)


def render(identity: Identity, aus, nuisance: Nuisance | None = None, image_size: int = 64
           ) -> np.ndarray:
    """Draw faces: ``identity`` (batch shape ``I``), ``aus`` [..., 11] → uint8 [..., H, W, 1].

    The batch shape is ``broadcast(I, aus.shape[:-1])`` (one identity can wear many AU
    vectors). ``aus`` are the *intended* intensities; the identity's personal style is
    applied here (``effective_aus``). ``nuisance=None`` draws the canonical frontal,
    noise-free view, for ground-truth comparisons. Deterministic.
    """
    if not isinstance(identity, Identity):
        raise TypeError(f"identity must be an Identity, got {type(identity).__name__}")
    if nuisance is not None and not isinstance(nuisance, Nuisance):
        raise TypeError(f"nuisance must be a Nuisance or None, got {type(nuisance).__name__}")
    aus = np.asarray(aus, np.float32)
    if aus.ndim < 1 or aus.shape[-1] != NUM_AUS:
        raise ValueError(f"aus must have shape [..., {NUM_AUS}], got {aus.shape}")
    if not np.all(np.isfinite(aus)):
        raise ValueError("aus contains NaN or inf")
    size = int(image_size)
    if size < 16:
        raise ValueError(f"image_size must be >= 16, got {image_size}")
    shape = np.broadcast_shapes(identity.shape, aus.shape[:-1])
    if nuisance is None:
        nuisance = canonical_nuisance(shape)
    shape = np.broadcast_shapes(shape, nuisance.shape)
    n = int(np.prod(shape))

    def flat(a, tail=()):
        a = np.asarray(a)
        return np.broadcast_to(a, shape + a.shape[a.ndim - len(tail):]).reshape((n,) + tail)

    fields = Identity.__dataclass_fields__
    tails = {k: np.shape(getattr(identity, k))[len(identity.shape):] for k in fields}
    ident = Identity(**{k: flat(getattr(identity, k), tails[k]) for k in fields})
    left, right = effective_aus(ident, flat(aus, (NUM_AUS,)))
    if nuisance.jaw is not None or nuisance.lips is not None:  # speech, independent of class
        for k, name in ((AU26, "jaw"), (AU23, "lips")):
            if getattr(nuisance, name) is not None:
                add = flat(getattr(nuisance, name)).astype(np.float32)
                left[:, k] += add
                right[:, k] += add
    idn = {k: getattr(ident, k).astype(np.float32) for k in fields
           if not tails[k] and k != "asym"}  # the style is already in left/right
    nui = {k: flat(np.zeros((), np.float32) if getattr(nuisance, k) is None
                   else getattr(nuisance, k))
           for k in Nuisance.__dataclass_fields__ if k not in ("jaw", "lips")}
    nui = {k: a if k == "noise_seed" else a.astype(np.float32) for k, a in nui.items()}

    # Fixed chunk sizes (powers of two up to 256) bound the number of compiled shapes and
    # keep the [B, H, W] temporaries cache-sized; a short last chunk is padded.
    chunk = 256 if n >= 256 else max(8, 1 << max(n - 1, 0).bit_length())
    out = np.empty((n, size, size), np.uint8)
    for i in range(0, n, chunk):
        m = min(chunk, n - i)

        def part(a):
            a = a[i:i + m]
            return a if m == chunk else np.concatenate([a, np.repeat(a[-1:], chunk - m, 0)])

        img = _draw({k: part(a) for k, a in idn.items()}, part(left), part(right),
                    {k: part(a) for k, a in nui.items()}, size=size)
        out[i:i + m] = np.asarray(img)[:m]
    return out.reshape(shape + (size, size, 1))
