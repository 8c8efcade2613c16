"""RAVDESS: names, archives and folders, decoding, face crops, splits, counted skips.

The test writes a few short .mp4 files with RAVDESS names: actor 01 zipped, actor 02 as a
folder. Faces are drawn by the synthetic renderer (the Haar cascade finds them); one
video shows no face, so its frames fall back to the centre crop.
"""

import os
import zipfile

import numpy as np
import pytest

from clifer_jax.classes import INDEX
from clifer_jax.data import faces, loading, ravdess, synthetic
from clifer_jax.data.report import SkipReport

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")
needs_haar = pytest.mark.skipif(not hasattr(cv2, "CascadeClassifier"),
                                reason="OpenCV without Haar cascades (OpenCV 5); pin <5")

N_FRAMES = 60  # four 15-frame windows: the RAVDESS sampling keeps windows 1 and 2
FACE_BOX = (80, 40, 160)  # x, y, side of the face in the 320×240 frame


def _face_frames(expression: int, subject: int, n: int = N_FRAMES) -> np.ndarray:
    ids = synthetic.sample_identities(7, subject + 1).take(subject)
    ramp = np.linspace(0.3, 1.0, n, dtype=np.float32)[:, None]
    faces_ = synthetic.render(ids, ramp * synthetic.prototype_aus(expression), None, 160)
    frames = np.full((n, 240, 320, 3), 90, np.uint8)
    x, y, s = FACE_BOX
    frames[:, y:y + s, x:x + s] = faces_
    return frames


def _blank_frames(n: int = N_FRAMES) -> np.ndarray:
    g = np.linspace(40, 200, 320, dtype=np.float32)[None, None, :, None]
    return np.broadcast_to(g, (n, 240, 320, 3)).astype(np.uint8)


def write_mp4(path, frames: np.ndarray, fps: int = 30) -> None:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 4_000_000  # few artefacts: the detector should see the drawn face
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _name(modality, emotion, repetition, actor, intensity=1, statement=1):
    fields = (modality, 1, emotion, intensity, statement, repetition, actor)
    return "-".join(f"{f:02d}" for f in fields) + ".mp4"


@pytest.fixture(scope="module")
def manual_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess")
    work = tmp_path_factory.mktemp("work")
    # Actor 01, zipped: neutral and happy, repetitions 1 and 2; a calm take (dropped);
    # an audio-video copy of a video-only take (duplicate); a malformed name; audio.
    a1 = {
        _name(2, 1, 1, 1): _face_frames(INDEX["Neutral"], 0),
        _name(2, 1, 2, 1): _face_frames(INDEX["Neutral"], 0),
        _name(2, 3, 1, 1): _face_frames(INDEX["Happiness"], 0),
        _name(2, 3, 2, 1): _face_frames(INDEX["Happiness"], 0),
        _name(1, 3, 2, 1): _face_frames(INDEX["Happiness"], 0),
        _name(2, 2, 1, 1): _face_frames(INDEX["Neutral"], 0),
    }
    with zipfile.ZipFile(root / "Video_Speech_Actor_01.zip", "w") as z:
        for name, frames in a1.items():
            write_mp4(work / name, frames)
            z.write(work / name, f"Actor_01/{name}")
        z.writestr("Actor_01/02-01-03-01-01-01.mp4", b"not six fields")
        z.writestr("Actor_01/03-01-03-01-01-01-01.wav", b"RIFF")
    # Actor 02, a folder: neutral and happy; one video with no face; one truncated.
    a2 = root / "Actor_02"
    a2.mkdir()
    write_mp4(a2 / _name(2, 1, 1, 2), _face_frames(INDEX["Neutral"], 1))
    write_mp4(a2 / _name(2, 1, 2, 2), _blank_frames())
    write_mp4(a2 / _name(2, 3, 1, 2), _face_frames(INDEX["Happiness"], 1))
    write_mp4(a2 / _name(2, 3, 2, 2), _face_frames(INDEX["Happiness"], 1))
    write_mp4(work / "trunc.mp4", _face_frames(INDEX["Sadness"], 1))
    data = (work / "trunc.mp4").read_bytes()
    (a2 / _name(2, 4, 1, 2)).write_bytes(data[: len(data) // 3])
    (a2 / "99-99-99-99-99-99-99.mp4").write_bytes(b"")
    (root / "notes.txt").write_text("foreign file")
    return root


def test_parse_name():
    n = ravdess.parse_name("Actor_01/02-01-06-02-01-02-17.mp4")
    assert (n.modality, n.emotion, n.intensity, n.repetition, n.actor) == (2, 6, 2, 2, 17)
    assert n.expression == INDEX["Fear"] and n.split == 1 and n.clip == 4 + 1
    assert ravdess.parse_name(_name(2, 2, 1, 1)).expression is None  # calm
    for bad, msg in [("02-01-06-02-01-02.mp4", "not a RAVDESS"),
                     ("02-01-09-01-01-01-01.mp4", "emotion"),
                     ("02-01-01-02-01-01-01.mp4", "neutral has no strong"),
                     ("02-01-03-01-01-01-25.mp4", "actor"),
                     ("02-01-03-01-01-01-01.avi", "not a RAVDESS")]:
        with pytest.raises(ValueError, match=msg):
            ravdess.parse_name(bad)


def test_find_videos_counts_every_skip(manual_dir):
    report = SkipReport()
    refs = ravdess.find_videos(manual_dir, report)
    names = sorted(os.path.basename(r.member or r.path) for r in refs)
    assert len(refs) == 9  # 4 from the zip (+1 duplicate dropped) and 5 from the folder
    assert _name(1, 3, 2, 1) not in names and _name(2, 3, 2, 1) in names  # video-only kept
    c = report.counts
    assert c["malformed file name"] == 2
    assert c["class not used by CLIFER (calm, disgust)"] == 1
    assert c["duplicate take (other modality)"] == 1
    assert c["not an .mp4 video"] == 1
    assert c["file outside Actor_NN folders and archives"] == 1


def test_missing_or_empty_manual_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="Video_Speech_Actor"):
        ravdess.find_videos(tmp_path / "nope", SkipReport())
    (tmp_path / "Actor_03").mkdir()
    (tmp_path / "Actor_03" / "readme.md").write_text("x")
    with pytest.raises(ValueError, match="no RAVDESS videos"):
        ravdess.find_videos(tmp_path, SkipReport())
    with pytest.raises(FileNotFoundError, match="manual_dir"):
        loading.load_subjects("ravdess", "train", data_dir=tmp_path / "tfds", manual_dir=None)


def test_decode_samples_the_reference_frames_and_rejects_truncated(manual_dir):
    report = SkipReport()
    refs = {os.path.basename(r.member or r.path): r
            for r in ravdess.find_videos(manual_dir, report)}
    got = ravdess.decode_sampled(refs[_name(2, 1, 1, 2)], lambda f: f.shape)
    assert [i for i, _ in got] == [28, 29, 43, 44]
    assert got[0][1] == (240, 320, 3)
    with pytest.raises(ValueError, match="cannot decode"):
        ravdess.decode_sampled(refs[_name(2, 4, 1, 2)], lambda f: f)


@needs_haar
def test_face_crop_finds_the_face_and_falls_back_to_the_centre():
    crop = faces.FaceCropper(size=64, channels=1)
    frame = _face_frames(INDEX["Neutral"], 0, n=1)[0]
    (x, y, s, _), found = crop.box(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    fx, fy, fs = FACE_BOX
    assert found
    assert abs(x + s / 2 - (fx + fs / 2)) < 0.15 * fs and abs(y + s / 2 - (fy + fs / 2)) < 0.2 * fs
    assert 0.4 * fs < s < 1.3 * fs
    out = crop(frame)
    assert out.shape == (64, 64, 1) and out.dtype == np.uint8
    (x, y, s, _), found = crop.box(cv2.cvtColor(_blank_frames(1)[0], cv2.COLOR_RGB2GRAY))
    assert not found and (x, y, s) == (40, 0, 240)
    crop(_blank_frames(1)[0])
    assert (crop.stats.detected, crop.stats.fallback) == (1, 1)
    rgb = faces.FaceCropper(size=32, channels=3, detector=lambda g: [(10, 10, 50, 50)])
    assert rgb(frame).shape == (32, 32, 3)
    with pytest.raises(ValueError, match="uint8"):
        crop(frame.astype(np.float32))


@needs_haar
def test_builder_counts_labels_splits_and_crops(manual_dir, tmp_path):
    from clifer_jax.data import tfds_builders

    data_dir = tmp_path / "tfds"
    tr = loading.load_subjects("ravdess", "train", data_dir=data_dir, manual_dir=manual_dir,
                               classes=(INDEX["Happiness"], INDEX["Neutral"]))
    te = loading.load_subjects("ravdess", "test", data_dir=data_dir,
                               classes=(INDEX["Happiness"], INDEX["Neutral"]))
    assert tr.subjects == (1, 2) and te.subjects == (1, 2)
    # One take per (actor, class, repetition), four sampled frames each.
    np.testing.assert_array_equal(tr.counts(), 4)
    np.testing.assert_array_equal(te.counts(), 4)
    assert tr.x.shape[-3:] == (64, 64, 1)
    np.testing.assert_array_equal(tr.frame[0, 0], [28, 29, 43, 44])
    np.testing.assert_array_equal(te.clip[0, 1], [1, 1, 1, 1])  # repetition 02
    meta = tfds_builders.make_builder("ravdess", data_dir=data_dir).info.metadata
    assert meta["centre_crop_fallbacks"] == 4  # the blank test video of actor 02
    assert meta["faces_detected"] == 7 * 4  # the other sampled frames
    assert meta["skipped"]["unreadable or truncated video"] == 1
    assert meta["skipped"]["malformed file name"] == 2
    # Sadness exists only as the truncated video: named, not silently empty.
    assert "subject 2: Sadness" in meta["missing_classes_train"]
    with pytest.raises(ValueError, match="subject 1: Anger"):
        loading.load_subjects("ravdess", "train", data_dir=data_dir)
