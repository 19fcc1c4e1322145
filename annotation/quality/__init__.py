"""Quality engine: pure functions on plain data (no ORM), so they are tested without a database.

Per kind of answer, a gold scorer (a float in [0, 1]) and a consensus method (an ``Aggregate``
whose confidence is in [0, 1], or None where no agreement is measured, e.g. free text):

- ``categorical``: majority vote (single and multiple choice); exact match / Jaccard.
- ``taxonomies``: Scale's multi-question categorization (subchoices, conditions): per-question
  consensus in dependency order, answer checks, gold scores.
- ``geometry`` (2D shapes, on ``polygons`` and ``matching``): IoU-matched F1; cluster and fuse.
- ``cuboids`` (3D): the same with 3D IoU.   ``tracks`` (video): per-frame box IoU of tracks.
- ``ranking``: Kendall's tau, Borda count, Bradley-Terry.   ``spans`` (NER): span F1, span vote.
- ``forms`` (text collection): per-field scores and consensus; free text goes to review.
- ``dawid_skene``: Dawid-Skene EM over many tasks (annotators' confusion matrices and the true
  labels), and one task's posterior from stored matrices at submit time.
- ``agreement``: Krippendorff's alpha (nominal, interval), pairwise agreement, each annotator's
  agreement with the consensus.

See ``annotation/quality.md`` for the choices and their reasons.
"""

from annotation.quality.agreement import (
    annotator_agreement,
    coincidence_matrix,
    krippendorff_alpha,
    pairwise_agreement,
)
from annotation.quality.categorical import (
    Aggregate,
    collect_answers,
    majority_vote,
    majority_vote_multi,
    quorum_for,
    score_exact,
    score_jaccard,
)
from annotation.quality.cuboids import consensus_cuboids, iou_3d, score_cuboids
from annotation.quality.dawid_skene import (
    DawidSkeneResult,
    accuracy_from_confusion,
    confusion_from_counts,
    dawid_skene,
    dawid_skene_single,
    default_confusion,
)
from annotation.quality.forms import aggregate_form, score_form
from annotation.quality.geometry import consensus_shapes, score_shapes, shape_polygon, similarity
from annotation.quality.matching import MATCH_THRESHOLD, cluster, consensus_objects, greedy_match, matched_f1
from annotation.quality.polygons import iou, iou_aabb
from annotation.quality.ranking import (
    borda,
    borda_aggregate,
    bradley_terry,
    kendall_tau,
    pairwise_aggregate,
    score_ranking,
)
from annotation.quality.spans import score_spans, span_vote
from annotation.quality.tracks import consensus_tracks, score_tracks, track_similarity

__all__ = [
    "MATCH_THRESHOLD",
    "Aggregate",
    "DawidSkeneResult",
    "accuracy_from_confusion",
    "aggregate_form",
    "annotator_agreement",
    "borda",
    "borda_aggregate",
    "bradley_terry",
    "cluster",
    "coincidence_matrix",
    "collect_answers",
    "confusion_from_counts",
    "consensus_cuboids",
    "consensus_objects",
    "consensus_shapes",
    "consensus_tracks",
    "dawid_skene",
    "dawid_skene_single",
    "default_confusion",
    "greedy_match",
    "iou",
    "iou_3d",
    "iou_aabb",
    "kendall_tau",
    "krippendorff_alpha",
    "majority_vote",
    "majority_vote_multi",
    "matched_f1",
    "pairwise_aggregate",
    "pairwise_agreement",
    "quorum_for",
    "score_cuboids",
    "score_exact",
    "score_form",
    "score_jaccard",
    "score_ranking",
    "score_shapes",
    "score_spans",
    "score_tracks",
    "shape_polygon",
    "similarity",
    "span_vote",
    "track_similarity",
]
