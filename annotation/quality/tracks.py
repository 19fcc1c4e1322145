"""Video tracks (``videoannotation``): a track is ``{track_id, label, frames: [{frame, left, top,
width, height}]}``, one box per frame where the object is visible.

Two tracks' similarity is their mean per-frame box IoU over the frames either of them covers (a
frame only one of them covers counts 0), so a track that is right on half the frames scores 0.5.
Gold score: soft F1 per label over matched tracks (a matched pair counts its similarity), i.e.
the mean per-frame box agreement of matched tracks, penalised for missed and extra tracks.
Consensus: tracks matched across annotators are fused frame by frame: a frame is kept when at
least half the members cover it, with the mean of their boxes there.
"""

from __future__ import annotations

from collections.abc import Sequence

from annotation.quality import matching, polygons
from annotation.quality.geometry import mean

BOX = ("left", "top", "width", "height")


def _boxes(track: dict) -> dict[int, tuple]:
    return {int(f["frame"]): tuple(float(f[k]) for k in BOX) for f in track["frames"]}


def track_similarity(a: dict, b: dict) -> float:
    fa, fb = _boxes(a), _boxes(b)
    frames = set(fa) | set(fb)
    if not frames:
        return 1.0
    return sum(polygons.iou_aabb(fa[f], fb[f]) for f in set(fa) & set(fb)) / len(frames)


def group(track: dict) -> str:
    return track["label"]


def score_tracks(
    answer: Sequence[dict], gold: Sequence[dict], *, threshold: float = matching.MATCH_THRESHOLD
) -> float:
    return matching.matched_f1(
        answer, gold, group=group, similarity=track_similarity, threshold=threshold, soft=True
    )


def fuse(members: Sequence[dict]) -> dict:
    base = members[matching.medoid(members, track_similarity)]
    per_member = [_boxes(m) for m in members]
    interpolated = [{int(f["frame"]) for f in m["frames"] if f.get("interpolated")} for m in members]
    frames = []
    for frame in sorted({f for boxes in per_member for f in boxes}):
        here = [boxes[frame] for boxes in per_member if frame in boxes]
        if len(here) * 2 >= len(members):
            box = {"frame": frame} | {k: mean([b[i] for b in here]) for i, k in enumerate(BOX)}
            if all(
                frame in marked
                for boxes, marked in zip(per_member, interpolated, strict=True)
                if frame in boxes
            ):
                box["interpolated"] = True  # every annotator's box here was interpolated
            frames.append(box)
    return {"track_id": base["track_id"], "label": base["label"], "frames": frames}


def consensus_tracks(
    per_annotator: Sequence[Sequence[dict]],
    *,
    quorum: int | None = None,
    threshold: float = matching.MATCH_THRESHOLD,
) -> tuple[list[dict], float]:
    """Fused tracks (renumbered ``track-1``, ``track-2``… in the order they first appear, since
    two annotators' own ids may collide), each with its ``confidence``; and the task's."""
    kept, confidence = matching.consensus_objects(
        per_annotator, group=group, similarity=track_similarity, fuse=fuse, quorum=quorum, threshold=threshold
    )
    kept = [(t, c) for t, c in kept if t["frames"]]
    kept.sort(key=lambda tc: (tc[0]["frames"][0]["frame"], tc[0]["label"], tc[0]["frames"][0]["left"]))
    return [
        t | {"track_id": f"track-{k}", "confidence": round(c, 6)} for k, (t, c) in enumerate(kept, start=1)
    ], confidence
