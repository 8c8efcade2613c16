"""Static configuration of the CAAE (docs/caae.md): shapes, widths, loss weights, optimiser.

`CAAEConfig` is a frozen (hashable) dataclass so it can be a static argument of
`jax.jit`. Two presets:

* `paper()` — the reference architecture: 96×96×3 (RGB), E 64-128-256-512 → 1024 → 50,
  G 6·6·512 → 256-128-64-32 → image, D_z 64-32-16-1, D_img 32-64-128-256 → 1024 → 1.
* `cpu()` — 64×64×1 with narrower layers: trains on the synthetic pool in minutes on
  two CPU cores.

`default_preset()` picks `paper()` when an accelerator is present, else `cpu()`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import numpy as np

from clifer_jax.classes import NUM_CLASSES


@dataclass(frozen=True)
class CAAEConfig:
    """Every static setting of the CAAE. Field groups: shapes, widths, losses, optimiser.

    Shapes: images are [image_size, image_size, channels]; z has `z_dim` entries in [-1, 1].
    The condition (one of `num_classes` expressions) is one-hot mapped to ±1 and tiled
    `cond_tile` times (docs/caae.md: "to about z's size"; 6 × 8 = 48 for z = 50).
    """

    name: str = "cpu"
    # ---- shapes -----------------------------------------------------------------------
    image_size: int = 64
    channels: int = 1
    z_dim: int = 50
    num_classes: int = NUM_CLASSES
    cond_tile: int = 8
    # ---- widths -----------------------------------------------------------------------
    kernel: int = 5
    enc_features: tuple[int, ...] = (16, 32, 64, 128)
    enc_dense: int = 256
    gen_features: tuple[int, ...] = (64, 32, 16, 8)  # stride-2 transposed convs
    gen_dense_features: int = 128  # depth of the dense map [s, s, ·], s = image_size / 2**len(gen_features)
    # Deliberate addition (docs/caae.md): class conditioning of G at every scale (FiLM),
    # besides the condition concatenated to z. Off in both presets.
    gen_film: bool = False
    # Deliberate addition (docs/caae.md, "Residual generator blocks"): the first
    # `gen_res_blocks` scales of G, coarsest first (the dense map, then each transposed
    # conv's output), are each followed by a class-conditioned residual block
    # h + conv3(relu(FiLM(conv3(relu(FiLM(h)))))), its last conv zero-initialised so the
    # block starts as the identity. 0 (both presets): the reference generator.
    gen_res_blocks: int = 0
    # Deliberate addition (docs/caae.md, "A latent split"): the first `expr_dims` entries of
    # z are its expression code: the latent head reads only them and G does not see them, so
    # G must draw the expression from its condition and E keeps the expression where CLIFER
    # reads it. 0 (both presets' reference behaviour): the head and G see all of z.
    expr_dims: int = 0
    dz_features: tuple[int, ...] = (64, 32, 16)
    dimg_features: tuple[int, ...] = (8, 16, 32, 64)
    dimg_dense: int = 128
    dimg_cond_tile: int = 1  # tiling of the condition maps concatenated inside D_img
    # Compute the stride-2 5×5 (transposed) convs as exact stride-1 3×3 convs on a
    # space-to-depth rearrangement (caae/layers.py): same parameters, same function,
    # several times faster on XLA:CPU.
    s2d_convs: bool = True
    # ---- losses (docs/caae.md) -------------------------------------------------------------
    l1_weight: float = 1.0
    tv_weight: float = 0.000085
    adv_z_weight: float = 0.01  # E against D_z
    adv_img_weight: float = 0.01  # G against D_img
    # Deliberate addition (docs/caae.md): D_img also sees G(z, c') for random c' ≠ label as
    # fake, and G is rewarded when D_img accepts it. Without it the conditional adversary
    # only ever sees the label it reconstructs, and nothing asks G to obey a *new* c.
    random_condition: bool = True
    # Deliberate addition: an auxiliary expression head on D_img (AC-GAN style), trained on
    # real images; G is trained so that G(z, c) is classified as c. 0 disables it.
    aux_class_weight: float = 0.0
    # Deliberate additions (docs/caae.md): a linear expression head on z, trained with E on
    # real images (so z stays expression-discriminative: CLIFER classifies in z), and the
    # same head — frozen, through a frozen E — asked to read c from E(G(z, c)) for the
    # random c (imagination consistency: pushes G to draw c, and z' = E(G(z, c)) into c's
    # region). 0 disables either.
    latent_class_weight: float = 0.05
    imagine_class_weight: float = 0.03
    identity_weight: float = 0.0  # VGG-Face perceptual loss (docs/caae.md: 0.5 when enabled)
    # The network of the identity loss (docs/caae.md): "vgg-face" (real faces) or
    # "synthetic" (`caae.identity_net`, trained on the CAAE pool's identities); and
    # whether the loss also compares each face with its translations G(z, c'), not only
    # with its reconstruction (an identity network is expression-invariant; VGG-Face's
    # conv maps are not).
    identity_net: str = "vgg-face"
    identity_translation: bool = False
    # Deliberate additions against the translations' texture and identity drift
    # (docs/caae.md): a StarGAN-style cycle term L1(G(E(G(z, c')), y), x) — translate to
    # the random c', re-encode, translate back, compare with the input (0 disables it) —
    # and the total variation taken over the translations G(z, c') too, not only over the
    # reconstructions.
    cycle_weight: float = 0.0
    tv_translation: bool = False
    # Deliberate addition: augmentation of the training faces (input and target alike) so
    # that E and G meet more identities than the pool's few: a random horizontal flip and a
    # random tone change x → a·x + b in [0, 1] (a ∈ 1 ± augment_tone, b ∈ ±augment_tone,
    # clipped). Without it G drifts held-out faces towards training identities.
    augment_flip: bool = False
    augment_tone: float = 0.0
    # ---- optimiser / schedule -------------------------------------------------------
    learning_rate: float = 1e-3  # cpu: ~600 updates fit the budget; 2e-4 learns too slowly in that many
    d_lr_scale: float = 1.0  # discriminators' learning rate = learning_rate × this
    beta1: float = 0.5
    batch_size: int = 32
    epochs: int = 2  # the cpu preset sets its own (docs/caae.md)
    d_steps: int = 1  # discriminator updates per E/G update (alternating)
    batch_norm_momentum: float = 0.9

    def __post_init__(self) -> None:
        n_up = len(self.gen_features)
        if self.image_size % (2 ** len(self.enc_features)) or self.image_size % (2**n_up):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2**{len(self.enc_features)} "
                f"(encoder) and 2**{n_up} (generator)"
            )
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.z_dim < 1 or self.num_classes < 2 or self.cond_tile < 1:
            raise ValueError("z_dim ≥ 1, num_classes ≥ 2 and cond_tile ≥ 1 are required")
        if isinstance(self.expr_dims, bool) or not 0 <= self.expr_dims < self.z_dim:
            raise ValueError(f"expr_dims must be an integer in [0, z_dim={self.z_dim}), got {self.expr_dims!r}")
        if isinstance(self.gen_res_blocks, bool) or not 0 <= self.gen_res_blocks <= n_up + 1:
            raise ValueError(f"gen_res_blocks must be an integer in [0, {n_up + 1}] (G has {n_up + 1} "
                             f"scales), got {self.gen_res_blocks!r}")
        if self.identity_net not in ("vgg-face", "synthetic"):
            raise ValueError(f"identity_net must be 'vgg-face' or 'synthetic', got {self.identity_net!r}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be ≥ 2 (batch-norm in the discriminators)")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, np.integer)) or self.epochs < 1:
            raise ValueError(f"epochs must be an integer ≥ 1 (an untrained CAAE gives random "
                             f"features and imagination), got {self.epochs!r}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """[H, W, C] of one image."""
        return (self.image_size, self.image_size, self.channels)

    @property
    def uses_image_discriminator(self) -> bool:
        """Whether an E/G term reads D_img (else training skips it: it would change nothing)."""
        return self.adv_img_weight > 0 or self.aux_class_weight > 0

    @property
    def gen_start(self) -> int:
        """Side of the generator's first feature map (6 for the paper preset)."""
        return self.image_size // (2 ** len(self.gen_features))

    @property
    def cond_dim(self) -> int:
        """Length of the tiled ±1 condition vector."""
        return self.num_classes * self.cond_tile

    def replace(self, **changes) -> "CAAEConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def parse_field(self, item: str) -> tuple[str, object]:
        """'FIELD=VALUE' (command-line text) → (field, value typed like the field here):
        booleans true/false/1/0/yes/no, tuples comma-separated integers. Raises ValueError
        for an unknown field, an unreadable value or one the config rejects."""
        name, _, text = item.partition("=")
        if name not in self.__dataclass_fields__ or not text:
            raise ValueError(f"{item!r}: expected FIELD=VALUE with a CAAEConfig field")
        kind = type(getattr(self, name))
        try:
            if kind is bool:
                if text.lower() not in _BOOL_WORDS:
                    raise ValueError(f"expected one of {sorted(_BOOL_WORDS)}")
                value = _BOOL_WORDS[text.lower()]
            elif kind is tuple:
                value = tuple(int(a) for a in text.split(","))
            else:
                value = kind(text)
            self.replace(**{name: value})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{item!r}: {e}") from None
        return name, value


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def paper() -> CAAEConfig:
    """The reference architecture of docs/caae.md (96×96×3, z = 50)."""
    return CAAEConfig(
        name="paper",
        image_size=96,
        channels=3,
        enc_features=(64, 128, 256, 512),
        enc_dense=1024,
        gen_features=(256, 128, 64, 32),
        gen_dense_features=512,
        dz_features=(64, 32, 16),
        dimg_features=(32, 64, 128, 256),
        dimg_dense=1024,
        dimg_cond_tile=8,
        learning_rate=2e-4,
        batch_size=64,
        epochs=50,
    )


def cpu() -> CAAEConfig:
    """64×64 grayscale, narrow layers: minutes on two CPU cores (the default without an
    accelerator). The TV over translations and the latent's expression head at 0.2 (at
    0.05 the memories' features depended on the training seed); no cycle term and no
    image adversary, 6 epochs: the adversary painted grain and blotches over G's faces
    and cost a third of every step, and the same budget spent on more updates keeps the
    person and the expression better (docs/caae.md, "The cpu preset: no image
    adversary, 6 epochs")."""
    return CAAEConfig(tv_translation=True, tv_weight=0.02, latent_class_weight=0.2, adv_img_weight=0.0,
                      epochs=6)


def default_preset() -> CAAEConfig:
    """`paper()` when JAX sees a GPU/TPU, otherwise `cpu()`."""
    return paper() if jax.default_backend() != "cpu" else cpu()


def tiny() -> CAAEConfig:
    """A few-second model for tests and smoke runs (`cpu()` with very narrow layers, one epoch)."""
    # keeps the image adversary (off in cpu()) so that tests exercise D_img
    return cpu().replace(name="tiny", enc_features=(4, 8, 8, 8), enc_dense=32,
                         gen_features=(8, 8, 8, 4), gen_dense_features=8,
                         dz_features=(8, 8, 8), dimg_features=(4, 8, 8, 8),
                         dimg_dense=16, batch_size=16, epochs=1, adv_img_weight=0.01)


PRESETS = {"paper": paper, "cpu": cpu, "tiny": tiny}


def preset(name: str) -> CAAEConfig:
    """A preset by name ('paper', 'cpu' or 'tiny')."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown CAAE preset {name!r}; expected one of {sorted(PRESETS)}") from None
