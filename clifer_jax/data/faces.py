"""Face cropping for the real datasets (docs/data.md): largest detected face, else a centre crop.

The detector is OpenCV's frontal-face Haar cascade, which ships inside the
``opencv-python-headless`` 4.x wheel (OpenCV 5 dropped the cascades). Any callable with
the same contract can stand in for it (``FaceCropper(detector=...)``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height in pixels
Detector = Callable[[np.ndarray], list[Box]]  # uint8 [H, W] grayscale → boxes

_DETECT_MAX_SIDE = 480  # detection runs on a downscaled copy: faster, same largest face


def haar_detector(min_face_frac: float = 0.12) -> Detector:
    """OpenCV's bundled frontal-face Haar cascade; faces smaller than ``min_face_frac`` of
    the image's shorter side are ignored. Raises ``RuntimeError`` when OpenCV lacks it."""
    import cv2

    path = os.path.join(getattr(getattr(cv2, "data", None), "haarcascades", ""),
                        "haarcascade_frontalface_default.xml")
    if not hasattr(cv2, "CascadeClassifier") or not os.path.exists(path):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no bundled Haar cascade (OpenCV 5 removed them); "
            "install opencv-python-headless>=4.8,<5")
    cascade = cv2.CascadeClassifier(path)

    def detect(gray: np.ndarray) -> list[Box]:
        h, w = gray.shape
        scale = min(1.0, _DETECT_MAX_SIDE / max(h, w))
        small = gray if scale == 1.0 else cv2.resize(
            gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        side = max(int(min(small.shape) * min_face_frac), 20)
        boxes = cascade.detectMultiScale(small, scaleFactor=1.1, minNeighbors=3,
                                         minSize=(side, side))
        return [tuple(int(round(c / scale)) for c in b) for b in np.reshape(boxes, (-1, 4))]

    return detect


@dataclasses.dataclass
class CropStats:
    """How the frames of a dataset were cropped: counted, never silent."""

    detected: int = 0
    fallback: int = 0

    def as_dict(self) -> dict:
        return {"faces_detected": self.detected, "centre_crop_fallbacks": self.fallback}


class FaceCropper:
    """Crop the largest face (with ``margin`` of its size on each side), square, resized to
    ``size`` × ``size`` with ``channels`` 1 (grayscale) or 3 (RGB); when no face is found,
    the largest centred square is used and counted in ``stats.fallback``."""

    def __init__(self, size: int = 64, channels: int = 1, margin: float = 0.1,
                 detector: Detector | None = None):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if size < 8:
            raise ValueError(f"size must be >= 8, got {size}")
        self.size, self.channels, self.margin = int(size), int(channels), float(margin)
        self.detector = detector if detector is not None else haar_detector()
        self.stats = CropStats()

    def box(self, gray: np.ndarray) -> tuple[Box, bool]:
        """Square crop box of a grayscale frame and whether a face was detected."""
        h, w = gray.shape
        faces = self.detector(gray)
        if faces:
            x, y, bw, bh = max(faces, key=lambda b: b[2] * b[3])
            side = int(round(max(bw, bh) * (1 + 2 * self.margin)))
            cx, cy = x + bw / 2, y + bh / 2
            found = True
        else:
            side, cx, cy, found = min(h, w), w / 2, h / 2, False
        side = min(side, h, w)
        x0 = int(np.clip(round(cx - side / 2), 0, w - side))
        y0 = int(np.clip(round(cy - side / 2), 0, h - side))
        return (x0, y0, side, side), found

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """uint8 [H, W, 3] (RGB) or [H, W] / [H, W, 1] → uint8 [size, size, channels]."""
        import cv2

        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or min(frame.shape[:2]) < 8:
            raise ValueError(f"expected a uint8 image at least 8×8, got {frame.dtype} "
                             f"{frame.shape}")
        if frame.ndim == 3 and frame.shape[2] == 1:
            frame = frame[..., 0]
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        (x, y, s, _), found = self.box(gray)
        if found:
            self.stats.detected += 1
        else:
            self.stats.fallback += 1
        src = gray if self.channels == 1 or frame.ndim == 2 else frame
        crop = cv2.resize(np.ascontiguousarray(src[y:y + s, x:x + s]), (self.size, self.size),
                          interpolation=cv2.INTER_AREA)
        if self.channels == 1:
            return crop[..., None]
        return crop if crop.ndim == 3 else np.repeat(crop[..., None], 3, axis=-1)
