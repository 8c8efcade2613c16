"""MMI and BAUM-1s from frame folders: sampling, class names, splits and counted skips."""

import numpy as np
import pytest

from clifer_jax.classes import EXPRESSIONS, INDEX
from clifer_jax.data import frames, loading, synthetic
from clifer_jax.data.report import SkipReport

cv2 = pytest.importorskip("cv2")
needs_haar = pytest.mark.skipif(not hasattr(cv2, "CascadeClassifier"),
                                reason="OpenCV without Haar cascades (OpenCV 5); pin <5")

# Folder names as the datasets and the reference code spell them.
FOLDERS = {"Anger": "Angry", "Sadness": "Sad", "Happiness": "Happy", "Surprise": "Surprise",
           "Fear": "Fear", "Neutral": "Neutral"}


def test_sample_frames_follows_the_reference():
    np.testing.assert_array_equal(frames.sample_frames(60, "ravdess"), [28, 29, 43, 44])
    assert frames.sample_frames(44, "ravdess").size == 0  # first and last window only
    np.testing.assert_array_equal(frames.sample_frames(31, "baum"), [13, 14, 28, 29])
    np.testing.assert_array_equal(frames.sample_frames(10, "baum"), [8, 9])
    np.testing.assert_array_equal(frames.sample_frames(1, "baum"), [0])
    np.testing.assert_array_equal(frames.sample_frames(31, "mmi"),
                                  list(range(2, 12)) + list(range(17, 27)))
    np.testing.assert_array_equal(frames.sample_frames(7, "mmi"), range(7))
    assert frames.sample_frames(0, "mmi").size == 0
    with pytest.raises(ValueError, match="scheme"):
        frames.sample_frames(10, "affectnet")


def test_class_names():
    assert frames.class_from_name("Angry") == INDEX["Anger"]
    assert frames.class_from_name(" happiness ") == INDEX["Happiness"]
    assert frames.class_from_name("Sad") == INDEX["Sadness"]
    assert frames.class_from_name("Contempt") is None
    with pytest.raises(ValueError, match="unknown class folder"):
        frames.class_from_name("Smile")
    assert sorted(frames.natural_key(n) for n in ["f10", "f2", "f1"]) == [
        frames.natural_key(n) for n in ["f1", "f2", "f10"]]


def _write_video(folder, subject, expression, n):
    folder.mkdir(parents=True)
    ids = synthetic.sample_identities(11, subject + 1).take(subject)
    ramp = np.linspace(0.3, 1.0, n, dtype=np.float32)[:, None]
    img = synthetic.render(ids, ramp * synthetic.prototype_aus(expression), None, 96)
    for i, im in enumerate(img):
        cv2.imwrite(str(folder / f"frame{i + 1}.png"), im[..., 0])


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """S001: all six classes (two Anger videos); S002: no Fear; plus foreign content."""
    r = tmp_path_factory.mktemp("frames")
    for s, subject in enumerate(["S001", "S002"]):
        for name, folder in FOLDERS.items():
            if subject == "S002" and name == "Fear":
                continue
            _write_video(r / subject / folder / "v1", s, INDEX[name], 31)
        (r / subject / "Contempt" / "v1").mkdir(parents=True)
    _write_video(r / "S001" / "Angry" / "v2", 0, INDEX["Anger"], 16)
    (r / "S001" / "Smile" / "v1").mkdir(parents=True)
    (r / "S002" / "Happy" / "v2").mkdir()  # empty video folder
    (r / "S002" / "Sad" / "v1" / "frame3.png").write_bytes(b"\x89PNG broken")
    (r / "S002" / "Sad" / "v1" / "notes.txt").write_text("x")
    (r / "README").write_text("foreign file")
    return r


def test_scan_counts_skips_and_drops_incomplete_subjects(root):
    report = SkipReport()
    videos = frames.scan_frames(root, report)
    assert {v.subject_name for v in videos} == {"S001", "S002"}
    c = report.counts
    assert c["class not used by CLIFER"] == 2 and c["unknown class folder"] == 1
    assert c["video folder without frames"] == 1  # Contempt/v1 folders are never opened
    assert c["non-image file in a video folder"] == 1
    assert c["file where a subject folder was expected"] == 1
    report = SkipReport()
    videos = frames.scan_frames(root, report, require_all_classes=True)
    assert {v.subject_name for v in videos} == {"S001"}
    assert "S002 (no Fear)" in report.examples["subject lacks a class"]


def test_split_rule(root):
    videos = frames.scan_frames(root, SkipReport())
    rows = [(v.subject, v.expression, v.clip, i, sp)
            for v, i, _, sp in frames.split_video_frames(videos, "mmi")]
    anger = [r for r in rows if r[0] == 0 and r[1] == INDEX["Anger"]]
    assert {r[4] for r in anger if r[2] == 0} == {0} and {r[4] for r in anger if r[2] == 1} == {1}
    neutral = [r[4] for r in rows if r[0] == 0 and r[1] == INDEX["Neutral"]]
    assert neutral == [0] * 10 + [1] * 10  # one video: later half of its frames is test


def test_bad_roots(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        frames.scan_frames(tmp_path / "nope", SkipReport())
    with pytest.raises(ValueError, match="no usable videos"):
        frames.scan_frames(tmp_path, SkipReport())  # empty
    (tmp_path / "holiday").mkdir()
    (tmp_path / "holiday" / "beach").mkdir()
    with pytest.raises(ValueError, match="no usable videos"):
        frames.scan_frames(tmp_path, SkipReport())  # foreign
    with pytest.raises(FileNotFoundError, match="manual_dir"):
        loading.load_subjects("mmi", "train", data_dir=tmp_path / "tfds",
                              manual_dir=tmp_path / "missing")


@needs_haar
def test_mmi_builder(root, tmp_path):
    from clifer_jax.data import tfds_builders

    data_dir = tmp_path / "tfds"
    classes = tuple(i for i, n in enumerate(EXPRESSIONS) if n != "Fear")
    tr = loading.load_subjects("mmi", "train", data_dir=data_dir, manual_dir=root,
                               classes=classes)
    assert tr.subjects == (0, 1) and tr.x.shape[-3:] == (64, 64, 1)
    c = dict(zip(tr.classes, tr.counts()[0]))
    assert c[INDEX["Anger"]] == 20 and c[INDEX["Neutral"]] == 10
    assert tr.counts()[1, tr.classes.index(INDEX["Sadness"])] == 9  # one unreadable frame
    te = loading.load_subjects("mmi", "test", data_dir=data_dir, classes=classes)
    assert dict(zip(te.classes, te.counts()[0]))[INDEX["Anger"]] == 10  # video v2
    np.testing.assert_array_equal(te.clip[0, te.classes.index(INDEX["Anger"])][:10], 1)
    with pytest.raises(ValueError, match="subject 1: Fear"):
        loading.load_subjects("mmi", "train", data_dir=data_dir)
    assert loading.load_subjects("mmi", "train", data_dir=data_dir,
                                 drop_incomplete=True).subjects == (0,)
    info = tfds_builders.make_builder("mmi", data_dir=data_dir).info
    meta = info.metadata
    assert meta["skipped"]["unreadable frame image"] == 1
    assert meta["subject_names"] == {"0": "S001", "1": "S002"}
    n = sum(split.num_examples for split in info.splits.values())
    assert n == tr.counts().sum() + te.counts().sum() + 20  # + S001's Fear
    assert meta["faces_detected"] + meta["centre_crop_fallbacks"] == n


@needs_haar
def test_baum_builder_keeps_complete_subjects(root, tmp_path):
    from clifer_jax.data import tfds_builders

    data_dir = tmp_path / "tfds"
    tr_config = tfds_builders.ImageConfig(name="rgb32", image_size=32, channels=3)
    tr = loading.load_subjects("baum1", "train", data_dir=data_dir, manual_dir=root,
                               config=tr_config)
    assert tr.subjects == (0,) and tr.x.shape[-3:] == (32, 32, 3)
    # 31 frames: two windows, the last two frames of each; one video → halves.
    neutral = tr.frame[0, tr.classes.index(INDEX["Neutral"])]
    np.testing.assert_array_equal(neutral, [13, 14, -1, -1])
    # Anger has two videos: all of v1 (31 frames) is train, v2 is test.
    np.testing.assert_array_equal(tr.counts()[0], [4, 2, 2, 2, 2, 2])
    meta = tfds_builders.make_builder("baum1", data_dir=data_dir, config=tr_config).info.metadata
    assert meta["skipped"]["subject lacks a class"] == 1
