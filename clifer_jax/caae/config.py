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
    `cond_tile` times (docs/caae.md: 6 × 8 = 48 values beside z's 50).
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
    # Deliberate additions (docs/caae.md): a linear expression head on z, trained with E on
    # real images (so z stays expression-discriminative: CLIFER classifies in z), and the
    # same head — frozen, through a frozen E — asked to read c from E(G(z, c)) for the
    # random c (imagination consistency: pushes G to draw c, and z' = E(G(z, c)) into c's
    # region). 0 disables either.
    latent_class_weight: float = 0.05
    imagine_class_weight: float = 0.03
    identity_weight: float = 0.0  # identity loss (docs/caae.md: 0.5 with VGG-Face when enabled); 0 = off
    # The network of the identity loss (docs/caae.md): "vgg-face" (real faces) compares
    # each face with its reconstruction G(z, y); "synthetic" (`caae.identity_net`, trained
    # on the CAAE pool's identities) also with its translations G(z, c') (that network is
    # expression-invariant; VGG-Face's conv maps are not).
    identity_net: str = "vgg-face"
    # Deliberate addition against the translations' texture (docs/caae.md): the total
    # variation taken over the translations G(z, c') too, not only over the reconstructions.
    tv_translation: bool = False
    # Deliberate addition (docs/caae.md, "Paired translation"): the translation G(E(x_a), c')
    # compared with a face of the same identity showing c' (the pool's `subject`): mean
    # |G(E(x_a), c') − x_b| in pixels, and mean |E(G(E(x_a), c')) − E(x_b)| in the frozen
    # encoder's latent space. 0 disables either (the reference learned without pairs).
    paired_weight: float = 0.0
    paired_latent_weight: float = 0.0
    # ---- optimiser / schedule -------------------------------------------------------
    # Adam(learning_rate, beta1) for E/G and for the discriminators alike; one
    # discriminator update, then one E/G update, per step.
    learning_rate: float = 1e-3  # cpu: ~600 updates fit the budget; 2e-4 learns too slowly in that many
    beta1: float = 0.5
    batch_size: int = 32
    epochs: int = 2  # the cpu preset sets its own (docs/caae.md)
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
        if self.identity_net not in ("vgg-face", "synthetic"):
            raise ValueError(f"identity_net must be 'vgg-face' or 'synthetic', got {self.identity_net!r}")
        if not (self.paired_weight >= 0 and self.paired_latent_weight >= 0):
            raise ValueError(f"paired_weight and paired_latent_weight must be >= 0, got "
                             f"{self.paired_weight!r}, {self.paired_latent_weight!r}")
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
    def uses_pairs(self) -> bool:
        """Whether training needs each face's partner of the same identity (`paired_*`)."""
        return self.paired_weight > 0 or self.paired_latent_weight > 0

    @property
    def uses_image_discriminator(self) -> bool:
        """Whether an E/G term reads D_img (else training skips it: it would change nothing)."""
        return self.adv_img_weight > 0

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


# Options removed once screening showed they did not help (their code is in commit
# 8615700), each with the value that kept it off. A checkpoint's stored config that holds
# these values was trained exactly as the current code trains.
REMOVED_FIELDS: dict[str, object] = {
    "gen_film": False,            # FiLM class conditioning of G at every scale
    "gen_res_blocks": 0,          # class-conditioned residual blocks in G
    "expr_dims": 0,               # the latent split: an expression code of z hidden from G
    "cycle_weight": 0.0,          # StarGAN's cycle term L1(G(E(G(z, c')), y), x)
    "augment_flip": False,        # random horizontal flips of the training faces
    "augment_tone": 0.0,          # random tone changes of the training faces
    "aux_class_weight": 0.0,      # AC-GAN auxiliary expression head on D_img
    "d_steps": 1,                 # discriminator updates per E/G update
    "d_lr_scale": 1.0,            # the discriminators' learning rate / learning_rate
    "identity_translation": None,  # now implied by identity_net (see `without_removed_fields`)
}


def without_removed_fields(saved: dict) -> dict:
    """A stored config dict (a checkpoint's) without the `REMOVED_FIELDS`, each of which
    must hold the value under which the current code trains the same CAAE: its off value,
    and for `identity_translation` (identity_net == "synthetic") — the synthetic network
    compares translations, VGG-Face does not — or anything while identity_weight is 0.
    Raises ValueError naming a removed option that was in use."""
    out = {k: v for k, v in saved.items() if k not in REMOVED_FIELDS}
    for name, off in REMOVED_FIELDS.items():
        if name not in saved:
            continue
        value = saved[name]
        if name == "identity_translation":
            net = saved.get("identity_net", "vgg-face")
            if saved.get("identity_weight", 0.0) and bool(value) != (net == "synthetic"):
                raise ValueError(f"this CAAE was trained with identity_translation={value!r} and identity_net="
                                 f"{net!r}, an option that no longer exists (removed after commit 8615700): the "
                                 f"synthetic identity network now always compares the translations, VGG-Face "
                                 f"never; retrain it, or use that commit")
        elif value != off:
            raise ValueError(f"this CAAE was trained with {name}={value!r}, an option that no longer exists "
                             f"(removed after commit 8615700); retrain it, or use that commit")
    return out


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
    0.05 the memories' features depended on the training seed); no image adversary,
    6 epochs: the adversary painted grain and blotches over G's faces
    and cost a third of every step, and the same budget spent on more updates keeps the
    person and the expression better (docs/caae.md, "Presets"; docs/history.md)."""
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
