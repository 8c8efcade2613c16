"""Datasets: the procedural synthetic FER set, RAVDESS, MMI, BAUM-1s and the loading API.

    from clifer_jax.data import load_subjects
    train = load_subjects("synthetic", "train")   # SubjectArrays, generated in memory

Modules: ``synthetic`` (identities, prototypes, clips; ``render`` from ``renderer``),
``loading`` (``SubjectArrays``, ``load_subjects``, ``to_subject_arrays``),
``tfds_builders`` (array_record builders), ``ravdess``, ``frames`` (MMI/BAUM-1s and the
reference's frame sampling), ``faces`` (detector and crop), ``report`` (counted skips),
``difficulty`` (how hard a dataset is: within-subject 1-NN, distance ratio, domain gap).
See docs/data.md.
"""

from clifer_jax.data.loading import (
    DATASETS,
    SPLITS,
    SubjectArrays,
    describe,
    load_subjects,
    to_subject_arrays,
)

__all__ = ["DATASETS", "SPLITS", "SubjectArrays", "describe", "load_subjects",
           "to_subject_arrays"]
