"""Checks of a trained CAAE against the ground truth the synthetic renderer draws (docs/caae.md).

On held-out identities, disjoint from the CAAE's training pool (a synthetic pool drawn like
the test subjects: `experiments.train_caae` uses the development subjects, "dev", unless
`--subject-set test` asks for the test subjects, "eval"):

* expression transfer: a CNN expression classifier trained on real rendered faces (train
  clips) labels translate(face, c) as c — fraction over (face, c) pairs; and the same
  with a blur-robust judge (trained on the frames that show their label,
  `VISIBLE_INTENSITY`, and blurred copies of them), which also reads G's reconstructions;
* identity kept: a CNN subject classifier over the held-out identities (train clips)
  gives the source subject for the translation — same pairs;
* PSNR / SSIM of each translation against the true face of that subject with
  expression c (`render(identity, prototype_aus(c))`, canonical pose, no noise), next
  to the same figures for the untranslated source (the "do nothing" baseline);
* latent quality: a linear (softmax) probe on z, trained on train clips, tested on held-out
  clips; and the same probe applied to imagined latents E(G(z, c)), scored against c;
* the probe's ceiling: the same linear probe on the action units each face truly shows
  (`effective_aus`, both sides) — what a perfect expression code would give;
* imagined latents as a personal memory reads them: the class of the nearest real latent of
  the same subject's train clips (`subject_1nn`);
* the oracle's figures (`oracle_*`, given the oracle's faces): the same judges, probe and
  1-NN applied to the faces CLIFER's oracle imagination draws for each source and class —
  what a G that drew exactly those faces would score.

Every classifier is a pure function of explicit keys; same params and seed → same report.
"""

from __future__ import annotations


import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from clifer_jax.caae.api import CAAEParams, encode, images_to_model, imagine, translate
from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES
from clifer_jax.data.synthetic import effective_aus, prototype_aus, render
from clifer_jax.imagination import oracle_images

# Frames at or above this fraction of their class's full prototype show their label
# (`clifer_jax.data.difficulty.low_intensity_share` calls the others low-intensity).
VISIBLE_INTENSITY = 0.3
ROBUST_BLUR_SIGMAS = (1.0, 2.0, 3.0)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """[N, H, W, C] images blurred by a Gaussian of `sigma` px (each image, each channel)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.asarray(x, np.float32), sigma=(0, sigma, sigma, 0))

# ------------------------------------------------------------------ image metrics


def psnr(x: jax.Array, y: jax.Array) -> jax.Array:
    """Per-image PSNR in dB of images in [0, 1], [N, H, W, C] → [N]."""
    mse = jnp.mean((x - y) ** 2, axis=(1, 2, 3))
    return 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-12))


def _gauss_window(size: int = 11, sigma: float = 1.5) -> jax.Array:
    g = jnp.exp(-((jnp.arange(size) - (size - 1) / 2) ** 2) / (2 * sigma**2))
    g = g / jnp.sum(g)
    return jnp.outer(g, g)[:, :, None, None]  # HWIO, one channel


def ssim(x: jax.Array, y: jax.Array) -> jax.Array:
    """Per-image SSIM (Wang et al. 2004; 11×11 Gaussian σ 1.5, K = 0.01, 0.03, valid
    windows, mean over channels) of images in [0, 1], [N, H, W, C] → [N]."""
    n, h, w, c = x.shape
    to_maps = lambda a: a.transpose(0, 3, 1, 2).reshape(n * c, h, w, 1)  # noqa: E731
    win = _gauss_window()
    f = lambda a: jax.lax.conv_general_dilated(  # noqa: E731
        a, win, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    a, b = to_maps(x), to_maps(y)
    mu_a, mu_b = f(a), f(b)
    var_a = f(a * a) - mu_a**2
    var_b = f(b * b) - mu_b**2
    cov = f(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return jnp.mean(s.reshape(n, c, -1), axis=(1, 2))


# ------------------------------------------------------------------ classifiers


class SmallCNN(nn.Module):
    """Evaluation classifier: a 5×5 conv (16, ReLU; stride 2 above 32 px), then two 3×3
    convs (32, 64, ReLU) each followed by 2×2 average pooling, then dense → classes.
    (Stride-1 convs + pooling: strided convs' gradients are slow on XLA:CPU.)"""

    num_classes: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        stride = 2 if x.shape[1] > 32 else 1
        x = nn.relu(nn.Conv(16, (5, 5), strides=(stride, stride), padding="SAME")(x))
        for f in (32, 64):
            x = nn.avg_pool(nn.relu(nn.Conv(f, (3, 3), padding="SAME")(x)), (2, 2), strides=(2, 2))
        return nn.Dense(self.num_classes)(x.reshape((x.shape[0], -1)))


class Linear(nn.Module):
    """Softmax regression."""

    num_classes: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(self.num_classes)(x)


def fit_classifier(
    model: nn.Module, x: np.ndarray, y: np.ndarray, key: jax.Array, *,
    steps: int = 400, batch_size: int = 64, lr: float = 2e-3, weight_decay: float = 1e-4,
    augment_noise: float = 0.0,
):
    """Train `model` (logits) on x [N, ...] float, y int [N] with AdamW; returns a jitted
    `predict(x) -> int [N]`. Minibatches and noise come from `key` only."""
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int32)
    k_init, k_batch, k_noise = jax.random.split(key, 3)
    params = model.init(k_init, x[:1])
    tx = optax.adamw(lr, weight_decay=weight_decay)
    bs = min(batch_size, x.shape[0])

    @jax.jit
    def step(p, opt, xb, yb, k):
        if augment_noise > 0:
            xb = xb + augment_noise * jax.random.normal(k, xb.shape)
        g = jax.grad(lambda q: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(model.apply(q, xb), yb)))(p)
        upd, opt = tx.update(g, opt, p)
        return optax.apply_updates(p, upd), opt

    # A Python loop over a jitted step: on XLA:CPU the same step inside `lax.scan` ran
    # ~20× slower (convolutions in a while loop miss the fast runtime path).
    batches = np.asarray(jax.random.randint(k_batch, (steps, bs), 0, x.shape[0]))
    noise_keys = jax.random.split(k_noise, steps)
    opt = tx.init(params)
    for i in range(steps):
        params, opt = step(params, opt, x[batches[i]], y[batches[i]], noise_keys[i])

    # params travel as an argument: closed-over arrays become XLA constants, and
    # constant-folding a conv over them made prediction take minutes.
    apply = jax.jit(lambda p, xb: jnp.argmax(model.apply(p, xb), axis=-1))

    def predict(xs) -> np.ndarray:
        xs = np.asarray(xs, np.float32)
        n, bs = len(xs), 512
        pad = np.concatenate([xs, np.repeat(xs[-1:], (-n) % bs, axis=0)]) if n % bs else xs
        return np.concatenate([np.asarray(apply(params, pad[i : i + bs])) for i in range(0, len(pad), bs)])[:n]

    return predict


def _linear_probe(n_classes: int, x: np.ndarray, y: np.ndarray, key: jax.Array):
    """A softmax probe fitted on standardised features x [N, D] (the report's probes)."""
    return fit_classifier(Linear(n_classes), x, y, key, steps=2000, lr=1e-2, batch_size=512)


def _standardise(train: np.ndarray, *others: np.ndarray):
    mu, sd = train.mean(0), train.std(0) + 1e-6
    return [(a - mu) / sd for a in (train, *others)]


# ------------------------------------------------------------------ the report


def shows_label(intensity, expression) -> np.ndarray:
    """[N] bool: the frames that show their label — Neutral, or an expression at
    `VISIBLE_INTENSITY` of its full prototype or more."""
    intensity, expression = np.asarray(intensity), np.asarray(expression)
    return (intensity >= VISIBLE_INTENSITY) | (expression == EXPRESSIONS.index("Neutral"))


def evaluate(
    params: CAAEParams,
    data: dict,
    identities,
    *,
    seed: int = 0,
    frames: tuple[int, ...] | None = None,
    classifier_steps: int = 400,
    oracle_faces=None,
) -> dict:
    """The issue's figures for a trained CAAE on held-out synthetic identities.

    data: `clifer_jax.data.synthetic.generate(config, pool)` (rendered at the CAAE's image
    size; pool "dev", the development subjects, or "eval", the test subjects); identities:
    `sample_identities(config.seed, n_subjects, pool)` of the same pool.
    frames: which frame indices of held-out clips serve as sources (default: all).
    oracle_faces: optional uint8 [n_sources, 6, H, W, C], each source drawn with each class
    as CLIFER's oracle imagination draws it (`oracle_faces`); adds the `oracle_*` figures.
    Returns a dict of floats (fractions in [0, 1], PSNR in dB), and the two judges'
    readings of the translations as [6, 6] nested lists (`transfer_confusion*`: row c
    holds the fractions of translations into c read as each class).
    """
    cfg = params.config
    k_expr, k_subj, k_probe = jax.random.split(jax.random.key(seed), 3)
    images = images_to_model(data["image"], cfg)  # [-1, 1]
    x01 = (images + 1.0) * 0.5
    expr, subj, split = (np.asarray(data[k]) for k in ("expression", "subject", "split"))
    n_subj = int(subj.max()) + 1
    tr, te = split == 0, split == 1
    src = _sources(data, frames)
    if oracle_faces is not None:
        oracle_faces = np.asarray(oracle_faces)
        if oracle_faces.ndim != 5 or oracle_faces.shape[:2] != (int(src.sum()), NUM_CLASSES):
            raise ValueError(f"oracle_faces must be [{int(src.sum())} sources, {NUM_CLASSES}, H, W, C], "
                             f"got shape {oracle_faces.shape}")

    # classifiers on real rendered faces (train clips of the held-out identities)
    expr_clf = fit_classifier(SmallCNN(NUM_CLASSES), x01[tr], expr[tr], k_expr, steps=classifier_steps)
    subj_clf = fit_classifier(SmallCNN(n_subj), x01[tr], subj[tr], k_subj, steps=classifier_steps)
    real_hit = expr_clf(x01[te]) == expr[te]
    out = {
        "real_expression_accuracy": float(np.mean(real_hit)),
        "real_subject_accuracy": float(np.mean(subj_clf(x01[te]) == subj[te])),
        "n_sources": int(src.sum()),
    }
    # per class: what the judge can read on real faces bounds what transfer into c can score
    out.update({f"real_expression_accuracy_{c}": float(np.mean(real_hit[expr[te] == c])) for c in range(NUM_CLASSES)})
    # A second, blur-robust judge: trained only on frames that show their label (onset
    # frames carry their clip's class but look neutral) and on copies of them blurred by
    # ROBUST_BLUR_SIGMAS px, as G's faces are blurred; twice the steps (4× the images).
    shows = shows_label(data["intensity"], expr)
    x_vis, y_vis = x01[tr & shows], expr[tr & shows]
    rob_clf = fit_classifier(SmallCNN(NUM_CLASSES), np.concatenate([x_vis] + [_blur(x_vis, s) for s in ROBUST_BLUR_SIGMAS]),
                             np.tile(y_vis, 1 + len(ROBUST_BLUR_SIGMAS)), k_expr, steps=2 * classifier_steps)
    x_te, y_te = x01[te & shows], expr[te & shows]
    out["real_expression_accuracy_robust"] = float(np.mean(rob_clf(x_te) == y_te))
    out["real_blurred_expression_accuracy_robust"] = float(np.mean(rob_clf(_blur(x_te, 2.0)) == y_te))
    # how much of the source's own expression G's reconstructions show, read by that judge
    out["reconstruction_expression_accuracy_robust"] = float(np.mean(rob_clf(translate(params, x_te, y_te)) == y_te))

    # ground truth: each subject with each expression, canonical pose, no noise
    protos = np.stack([prototype_aus(c) for c in range(NUM_CLASSES)])  # [6, 11]
    ident = identities.take((slice(None), None))  # [S, 1]
    truth = render(ident, np.broadcast_to(protos, (n_subj, NUM_CLASSES, protos.shape[1])), None, cfg.image_size)
    truth = images_to_model(truth.reshape(-1, cfg.image_size, cfg.image_size, truth.shape[-1]), cfg)
    truth = ((truth + 1.0) * 0.5).reshape(n_subj, NUM_CLASSES, *cfg.image_shape)

    xs = x01[src]
    hit_e, hit_r, hit_s, ps, ss, ps0, ss0, confusion, confusion_r = [], [], [], [], [], [], [], [], []
    for c in range(NUM_CLASSES):
        tgt = jnp.asarray(truth[subj[src], c])
        out_c = translate(params, xs, c)
        read, read_r = expr_clf(out_c), rob_clf(out_c)
        hit_e.append(read == c)
        hit_r.append(read_r == c)
        # what each judge reads the translations into c as: row c of [6, 6] fractions
        confusion.append(np.bincount(read, minlength=NUM_CLASSES) / len(read))
        confusion_r.append(np.bincount(read_r, minlength=NUM_CLASSES) / len(read_r))
        hit_s.append(subj_clf(out_c) == subj[src])
        ps.append(np.asarray(psnr(out_c, tgt)))
        ss.append(np.asarray(ssim(out_c, tgt)))
        ps0.append(np.asarray(psnr(jnp.asarray(xs), tgt)))
        ss0.append(np.asarray(ssim(jnp.asarray(xs), tgt)))
        out[f"transfer_accuracy_{c}"] = float(np.mean(hit_e[-1]))
        out[f"transfer_accuracy_robust_{c}"] = float(np.mean(hit_r[-1]))
    if oracle_faces is not None:
        # what a G that drew exactly the oracle's faces would score (the judges read them)
        oracle_x = (images_to_model(oracle_faces.reshape(-1, *oracle_faces.shape[2:]), cfg) + 1.0) * 0.5
        oracle_class = np.tile(np.arange(NUM_CLASSES), len(xs))
        oracle_subject = np.repeat(subj[src], NUM_CLASSES)
        out["oracle_transfer_accuracy"] = float(np.mean(expr_clf(oracle_x) == oracle_class))
        out["oracle_transfer_accuracy_robust"] = float(np.mean(rob_clf(oracle_x) == oracle_class))
        out["oracle_identity_accuracy"] = float(np.mean(subj_clf(oracle_x) == oracle_subject))
    recon = translate(params, xs, expr[src])
    out.update(
        expression_transfer_accuracy=float(np.mean(np.concatenate(hit_e))),
        expression_transfer_accuracy_robust=float(np.mean(np.concatenate(hit_r))),
        transfer_confusion=np.round(np.stack(confusion), 4).tolist(),
        transfer_confusion_robust=np.round(np.stack(confusion_r), 4).tolist(),
        identity_kept_accuracy=float(np.mean(np.concatenate(hit_s))),
        psnr_translation_db=float(np.mean(np.concatenate(ps))),
        ssim_translation=float(np.mean(np.concatenate(ss))),
        psnr_source_baseline_db=float(np.mean(np.concatenate(ps0))),
        ssim_source_baseline=float(np.mean(np.concatenate(ss0))),
        psnr_reconstruction_db=float(np.mean(np.asarray(psnr(recon, jnp.asarray(xs))))),
        ssim_reconstruction=float(np.mean(np.asarray(ssim(recon, jnp.asarray(xs))))),
    )

    # linear probe on z (train clips → held-out clips), then on imagined latents
    z = np.asarray(encode(params, data["image"]))
    z_tr, z_te = _standardise(z[tr], z[te])
    probe = _linear_probe(NUM_CLASSES, z_tr, expr[tr], k_probe)
    out["linear_probe_accuracy"] = float(np.mean(probe(z_te) == expr[te]))
    # its ceiling: the same probe on the action units each face truly shows (both sides)
    au = np.concatenate(effective_aus(identities.take(subj), np.asarray(data["aus"])), axis=-1)
    a_tr, a_te = _standardise(au[tr], au[te])
    au_probe = _linear_probe(NUM_CLASSES, a_tr, expr[tr], k_probe)
    out["true_au_probe_accuracy"] = float(np.mean(au_probe(a_te) == expr[te]))
    z_src = z[src]
    hits, own = [], []
    for c in range(NUM_CLASSES):
        zi = np.asarray(imagine(params, z_src, c))
        hits.append(probe(_standardise(z[tr], zi)[1]) == c)
        own.append(subject_1nn(z[tr], expr[tr], subj[tr], zi, subj[src]) == c)
    out["imagined_latent_probe_accuracy"] = float(np.mean(np.concatenate(hits)))
    # as a personal memory reads them: the class of the nearest of the subject's own real
    # training latents (a class probe over all subjects can read a latent that no frame of
    # this person resembles)
    out["imagined_latent_subject_1nn_accuracy"] = float(np.mean(np.concatenate(own)))
    if oracle_faces is not None:
        # the same two readings of E(oracle face): what CLIFER's oracle imagination feeds the memories
        z_or = np.asarray(encode(params, oracle_x))
        out["oracle_latent_probe_accuracy"] = float(np.mean(probe(_standardise(z[tr], z_or)[1]) == oracle_class))
        out["oracle_latent_subject_1nn_accuracy"] = float(np.mean(
            subject_1nn(z[tr], expr[tr], subj[tr], z_or, oracle_subject) == oracle_class))
    return out


def oracle_faces(data_config, pool: str, data: dict, frames: tuple[int, ...] | None = None) -> np.ndarray:
    """uint8 [n_sources, 6, H, W, 1]: every source of `evaluate` (held-out frames, `frames`)
    drawn with each class as CLIFER's oracle imagination draws it — its subject at its own
    expressive intensity for the class, under the frame's viewing conditions
    (`imagination.oracle_images`). data: `generate(data_config, pool)`."""
    src = _sources(data, frames)
    column = lambda key: np.asarray(data[key])[src][:, None, None]  # noqa: E731  [n, 1, 1]
    faces = oracle_images(data_config, np.asarray(data["subject"])[src], column("expression"), column("clip"),
                          column("frame"), np.ones((int(src.sum()), 1, 1), bool), pool=pool)
    return faces[:, 0, 0]


def _sources(data: dict, frames: tuple[int, ...] | None) -> np.ndarray:
    """[N] bool: the frames of held-out clips that serve as sources (`frames`: their indices; None: all)."""
    te = np.asarray(data["split"]) == 1
    return te if frames is None else te & np.isin(np.asarray(data["frame"]), frames)


def subject_1nn(z_ref: np.ndarray, y_ref: np.ndarray, s_ref: np.ndarray, z: np.ndarray, s: np.ndarray) -> np.ndarray:
    """[M] int: for each latent z[m], the label of its nearest reference latent of the same
    subject s[m] (Euclidean, after standardising by the references).

    z_ref [R, D], y_ref [R], s_ref [R]: reference latents, labels, subjects; z [M, D], s [M].
    Every subject of s must have a reference.
    """
    z_ref, y_ref, s_ref, z, s = (np.asarray(a) for a in (z_ref, y_ref, s_ref, z, s))
    if z_ref.ndim != 2 or z.ndim != 2 or z.shape[1] != z_ref.shape[1]:
        raise ValueError(f"z_ref and z must be [R, D] and [M, D], got {z_ref.shape} and {z.shape}")
    if y_ref.shape != (len(z_ref),) or s_ref.shape != (len(z_ref),) or s.shape != (len(z),):
        raise ValueError(f"y_ref and s_ref must be [{len(z_ref)}] and s [{len(z)}], got "
                         f"{y_ref.shape}, {s_ref.shape}, {s.shape}")
    ref, query = _standardise(z_ref, z)
    pred = np.empty(len(z), np.int64)
    for subject in np.unique(s):  # a loop over subjects (24), each a vectorised distance matrix
        r, q = s_ref == subject, s == subject
        if not r.any():
            raise ValueError(f"subject {subject} has no reference latent")
        d = ((query[q, None, :] - ref[None, r, :]) ** 2).sum(-1)
        pred[q] = y_ref[r][np.argmin(d, axis=1)]
    return pred


def identity_diagnosis(
    params: CAAEParams,
    data: dict,
    *,
    seed: int = 0,
    frames: tuple[int, ...] | None = None,
    classifier_steps: int = 400,
    blur_sigmas: tuple[float, ...] = (1.0, 2.0),
) -> dict:
    """Where identity is lost (docs/caae.md): the subject classifier of `evaluate` (same
    seed, same training) applied to real held-out faces blurred by Gaussians of
    `blur_sigmas` px, to reconstructions G(E(x), y) and to translations into every class;
    a linear probe reading the subject from z (train clips → held-out clips); and the
    reconstructions' hit rate per subject. `data` as for `evaluate`.
    """
    cfg = params.config
    _, k_subj, k_probe = jax.random.split(jax.random.key(seed), 3)
    x01 = np.asarray((images_to_model(data["image"], cfg) + 1.0) * 0.5)
    expr, subj, split = (np.asarray(data[k]) for k in ("expression", "subject", "split"))
    n_subj = int(subj.max()) + 1
    tr, te = split == 0, split == 1
    src = _sources(data, frames)
    subj_clf = fit_classifier(SmallCNN(n_subj), x01[tr], subj[tr], k_subj, steps=classifier_steps)
    xs, ys = x01[src], subj[src]
    out: dict = {"n_sources": int(src.sum()), "real_subject_accuracy": float(np.mean(subj_clf(xs) == ys))}
    for s in blur_sigmas:
        out[f"blurred_{s:g}px_subject_accuracy"] = float(np.mean(subj_clf(_blur(xs, s)) == ys))
    rec_hit = subj_clf(translate(params, xs, expr[src])) == ys
    out["reconstruction_identity_accuracy"] = float(np.mean(rec_hit))
    out["translation_identity_accuracy"] = float(np.mean(
        np.concatenate([subj_clf(translate(params, xs, c)) == ys for c in range(NUM_CLASSES)])))
    out["reconstruction_identity_per_subject"] = [float(np.mean(rec_hit[ys == s])) for s in range(n_subj)]
    z_tr, z_te = _standardise(*(np.asarray(encode(params, data["image"][m])) for m in (tr, te)))
    probe = _linear_probe(n_subj, z_tr, subj[tr], k_probe)
    out["z_subject_probe_accuracy"] = float(np.mean(probe(z_te) == subj[te]))
    return out
