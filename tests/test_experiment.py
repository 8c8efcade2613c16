"""The per-subject loop of every model, vmapped over subjects, on generated features.

Features: x = identity_s + e_c + noise, with class directions e_c on the first six
axes and identities on the others; an oracle imagination swaps the class
direction, z' = z − e_k(z) + e_c (a CAAE that works perfectly). Sanity that can
fail (issue: the experiments): imagination gives unseen classes a chance after
the first step, and the GDM keeps old classes where the fine-tuned MLP forgets.
"""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, mlp, study

pytestmark = pytest.mark.filterwarnings("ignore:.*memory full")

S, C, L, LT, D = 4, 6, 10, 6, 12
ORDER = (5, 2, 3, 0, 4, 1)


def make_data(seed=0) -> study.SubjectData:
    rng = np.random.default_rng(seed)
    e = np.zeros((C, D)); e[np.arange(C), np.arange(C)] = 1.5
    ident = np.zeros((S, D)); ident[:, C:] = rng.normal(0, 1, (S, D - C))

    def draw(n):
        x = ident[:, None, None] + e[None, :, None] + 0.12 * rng.standard_normal((S, C, n, D))
        return x.astype(np.float32), np.broadcast_to(np.arange(C)[None, :, None], (S, C, n)).astype(np.int32)

    x, y = draw(L)
    xt, yt = draw(LT)
    mask = np.ones((S, C, L), bool)
    mask[:, :, -2:] = False                       # padding at the end of every class
    x[~mask] = 0.0
    return study.SubjectData(x=x, y=y, mask=mask, x_test=xt, y_test=yt,
                                  mask_test=np.ones((S, C, LT), bool))


def oracle_imagine(params, z, c):
    e = params["e"]
    k = jnp.argmax(z[:, :C], axis=-1)
    return z - e[k] + e[c]


def configs():
    g = gdm.GDMConfig(dim=D, capacity=C * L, semantic_capacity=C * L // 2)
    return g.replace(epochs=4), mlp.MLPConfig(feature_dim=D, epochs=10)


@pytest.fixture(scope="module")
def results():
    data = make_data()
    g, m = configs()
    params = {"e": jnp.zeros((C, D)).at[jnp.arange(C), jnp.arange(C)].set(1.5)}
    out = {}
    for model in ("mlp_finetune", "gdm", "clifer"):
        run = study.make_run(model, g, m, imagine_fn=oracle_imagine)
        preds = study.run_subjects(run, jax.random.key(0), data, ORDER, params)
        out[model] = {mem: study.score(preds[mem], data.y_test, data.mask_test, ORDER)
                      for mem in study.memories(model)}
        out[model]["_preds"] = preds
    return data, out


def test_imagination_gives_unseen_classes_a_chance(results):
    _, r = results
    clifer_f1 = r["clifer"]["episodic"]["exp2_f1"][:, 0]
    gdm_f1 = r["gdm"]["episodic"]["exp2_f1"][:, 0]
    assert gdm_f1.max() < 0.2                 # one class known: at most chance-like F1
    assert clifer_f1.mean() > gdm_f1.mean() + 0.3


def test_gdm_keeps_old_classes_where_finetuned_mlp_forgets(results):
    _, r = results
    gdm_last = r["gdm"]["episodic"]["exp1_f1"][:, -1]
    mlp_last = r["mlp_finetune"]["mlp"]["exp1_f1"][:, -1]
    assert gdm_last.mean() > 0.8
    assert gdm_last.mean() > mlp_last.mean() + 0.3


def test_shapes_and_experiment_definitions(results):
    data, r = results
    p = r["gdm"]["_preds"]["episodic"]
    assert p.shape == (S, len(ORDER), C, LT)
    s = r["gdm"]["episodic"]
    assert s["R"].shape == (S, len(ORDER), C)
    # after the last step both experiments test every class: identical scores
    np.testing.assert_allclose(s["exp1_f1"][:, -1], s["exp2_f1"][:, -1])
    # after the first step Experiment 1 tests one class only: F1 is 1 or 0 per subject
    assert set(np.round(s["exp1_f1"][:, 0], 6)) <= {0.0, 1.0}
    # the MLPs also return their fit per step, beside (not among) their memories
    mp = r["mlp_finetune"]["_preds"]
    assert study.memories("mlp_finetune") == ("mlp",) and set(mp) == {"mlp", "train_acc"}
    assert mp["train_acc"].shape == (S, len(ORDER))
    assert np.all((mp["train_acc"] >= 0) & (mp["train_acc"] <= 1))


def test_vmapped_subjects_equal_single_runs():
    data = make_data(1)
    g, _ = configs()
    run = study.make_run("gdm", g)
    batched = study.run_subjects(run, jax.random.key(0), data, ORDER)
    for s in range(2):
        one = jax.tree.map(lambda a: a[s:s + 1], data)
        single = study.run_subjects(run, jax.random.key(0), one, ORDER)
        np.testing.assert_array_equal(single["episodic"][0], batched["episodic"][s])
        np.testing.assert_array_equal(single["semantic"][0], batched["semantic"][s])


def test_unknown_model_and_missing_pieces():
    g, m = configs()
    with pytest.raises(ValueError, match="unknown model"):
        study.make_run("gdm++", g, m)
    with pytest.raises(ValueError, match="imagine_fn"):
        study.make_run("clifer", g, m)
    with pytest.raises(ValueError, match="MLPConfig"):
        study.make_run("mlp_joint", g)
