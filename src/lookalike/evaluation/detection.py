"""Scoring face detectors: dlib's annotated group photos, matching at an IoU threshold, LFW's central face."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from lookalike.faces.detect import Box


def annotated_boxes(folder: Path) -> dict[Path, list[Box]]:
    """dlib's PASCAL VOC face boxes (its imglab XML), keyed by the photo in ``group_photos``.

    The XML names the original files; the copies in ``group_photos`` carry a ``dlib_`` prefix.
    Boxes marked ``ignore`` are left out.
    """
    out: dict[Path, list[Box]] = {}
    for xml in sorted(folder.glob("dlib_annotations_*.xml")):
        for image in ET.parse(xml).getroot().iter("image"):
            photo = folder / f"dlib_{image.get('file')}"
            boxes = []
            for b in image.iter("box"):
                if b.get("ignore") == "1":
                    continue
                left, top = int(b.get("left", 0)), int(b.get("top", 0))
                boxes.append(Box(left, top, left + int(b.get("width", 0)), top + int(b.get("height", 0))))
            if photo.exists():
                out[photo] = boxes
    return out


@dataclass(frozen=True)
class MatchCounts:
    """Detections against annotated boxes: each truth box matched at most once (greedy by IoU)."""

    truth: int
    found: int  # truth boxes matched by a detection
    false_positives: int  # detections matching no truth box

    @property
    def recall(self) -> float:
        return self.found / self.truth if self.truth else 1.0


def match(detected: list[Box], truth: list[Box], min_iou: float = 0.5) -> MatchCounts:
    """Greedy one-to-one matching of detections to truth boxes, best IoU first."""
    pairs = sorted(
        ((d.iou(t), i, j) for i, d in enumerate(detected) for j, t in enumerate(truth)), reverse=True
    )
    used_d: set[int] = set()
    used_t: set[int] = set()
    for iou, i, j in pairs:
        if iou < min_iou:
            break
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
    return MatchCounts(len(truth), len(used_t), len(detected) - len(used_d))
