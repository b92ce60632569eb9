"""Is a situation happening now? Nearest labelled exemplars in any language, patterns as a backstop.

Exemplars (``bot/data/exemplars/<lang>.jsonl``) are short messages labelled with the situation they
describe (door, work, school, detained, stopped) or ``none`` for questions about what could
happen, past events and general questions on the same topics. A message is compared with all of
them through the multilingual embedding model: the margin between its nearest urgent exemplars and
its nearest ``none`` exemplars is the urgency signal, so contrast pairs ("ICE is at my door" /
"what if ICE comes to my door") teach the line in every language we have exemplars for. The
knowledge base adds both sides for free: every question phrasing of an urgent script is an urgent
exemplar, and every phrasing of an ordinary section is a ``none`` one (hundreds of real questions).
The English/Spanish patterns of :mod:`bot.guard` stay as a readable backstop: a pattern alone
decides unless the message also has a "what if" or past-event cue, when the neighbours decide.
The threshold is fitted on the dev split (``bot/data/policy.json``).

Two more labels serve the other decisions: ``offtopic`` (taxes, divorce, the weather) feeds the
relevance model's off-topic and scope signals, and ``harm`` (report or expose someone, forged papers,
changing the bot's rules) lets :meth:`UrgencyClassifier.harm` refuse such requests in any language,
the English/Spanish patterns of :mod:`bot.guard` again the backstop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bot.guard import detect_urgent, is_hypothetical, situation_hint

log = logging.getLogger(__name__)

Situation = Literal["door", "work", "school", "detained", "stopped"]
SITUATIONS: tuple[Situation, ...] = ("door", "work", "school", "detained", "stopped")
#: Position of each script in the urgent document (its sections, in this order in every language).
SCRIPT_INDEX: dict[Situation, int] = {s: i for i, s in enumerate(SITUATIONS)}
EXEMPLAR_DIR = Path(__file__).resolve().parent / "data" / "exemplars"
#: Exemplars of questions the knowledge base does not cover (taxes, divorce, the weather): not
#: urgent, and the relevance decision measures how close a message is to them.
OFF_TOPIC = "offtopic"
#: Exemplars of requests the bot refuses (report or expose someone, forged papers, changing the
#: bot's rules): not urgent; :meth:`UrgencyClassifier.harm` measures how close a message is.
HARM = "harm"
#: Nearest exemplars averaged on each side of the margin, and voting for the situation.
K_MARGIN = 3
K_VOTE = 5
#: The fitted classifier decides only near the urgent exemplars: a message whose nearest urgent
#: exemplars are this much further than its nearest ordinary questions is not urgent, however a
#: linear model extrapolates ("write me a poem" is far from both). Set by hand just below every urgent
#: dev message's margin (the lowest was -0.025).
MIN_MARGIN = -0.03


@dataclass(frozen=True)
class Urgency:
    """The urgency decision and the signals behind it (for ``--explain`` and the evaluation)."""

    situation: Situation | None
    margin: float  # mean similarity to the nearest urgent exemplars minus to the nearest others
    nearest: Situation | None  # the situation the nearest urgent exemplars vote for
    pattern: str | None  # what the English/Spanish patterns found ("now": a place unclear)
    hypothetical: bool  # a "what if" / past-event cue was found

    def explain(self) -> dict[str, Any]:
        """The signals, for a trace."""
        return {
            "situation": self.situation,
            "margin": round(self.margin, 4),
            "nearest": self.nearest,
            "pattern": self.pattern,
            "hypothetical": self.hypothetical,
        }


def load_exemplars(folder: Path = EXEMPLAR_DIR) -> list[dict[str, str]]:
    """Every exemplar line of every language file."""
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("label") in (*SITUATIONS, "none", OFF_TOPIC, HARM) and row.get("text"):
                    rows.append({"lang": str(row.get("lang", path.stem)), **row})
    return rows


class UrgencyClassifier:
    """Nearest-exemplar urgency with the embedding model; vectors cached under the data dir."""

    def __init__(self, embedder: Any, cache_dir: Path | None = None) -> None:
        self.embedder = embedder
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._vectors: np.ndarray | None = None
        self._labels: list[str] = []
        self._combined: tuple[str, np.ndarray, list[str], np.ndarray] | None = None

    def _load(self) -> tuple[np.ndarray, list[str]]:
        with self._lock:
            if self._vectors is None:
                rows = load_exemplars()
                texts = [r["text"] for r in rows]
                self._labels = [r["label"] for r in rows]
                self._vectors = self._embed(texts)
            return self._vectors, self._labels

    def _embed(self, texts: list[str]) -> np.ndarray:
        model = str(getattr(self.embedder, "model_name", type(self.embedder).__name__))
        digest = hashlib.sha256("\n".join([model, *texts]).encode()).hexdigest()[:16]
        cache = self.cache_dir / f"exemplars-{digest}.npy" if self.cache_dir else None
        if cache is not None and cache.is_file():
            try:
                return np.load(cache)
            except (OSError, ValueError):
                log.warning("exemplar cache unreadable; embedding the exemplars again")
        batch = getattr(self.embedder, "embed_queries", None)
        vectors = batch(texts) if callable(batch) else [self.embedder.embed_query(t) for t in texts]
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.save(cache, matrix)
            except OSError:
                log.warning("could not cache the exemplar vectors")
        return matrix

    def warm_up(self) -> None:
        """Embed the exemplars now rather than on the first message."""
        self._load()

    def assess(
        self,
        text: str,
        vector: Any,
        threshold: float,
        corpus: Any = None,
        weights: tuple[list[float], float] | None = None,
    ) -> Urgency:
        """Decide whether ``text`` (with its question vector) describes a situation happening now.

        ``weights`` is the fitted linear classifier over the question vector (policy file); its
        probability is the urgency signal. Without it, the nearest-exemplar margin is used.
        """
        pattern = detect_urgent(text)
        hypothetical = is_hypothetical(text)
        margin, nearest = self.margin(vector, corpus)
        score = margin
        if weights is not None and vector is not None and len(weights[0]) == len(vector):
            z = float(np.dot(np.asarray(weights[0]), np.asarray(vector))) + weights[1]
            score = 1.0 / (1.0 + float(np.exp(-max(-50.0, min(50.0, z)))))
        near = margin >= MIN_MARGIN and nearest is not None
        found: str | None = None
        if pattern is not None and pattern != "now" and not hypothetical:
            found = pattern
        elif pattern == "now" and not hypothetical and near:
            # "now" without a place ("what now", "ahorita") is a weak cue: it decides only where
            # the message is also near the urgent exemplars ("ice locator says no results what
            # now" is a question about the locator)
            found = pattern
        elif (
            score >= threshold and near and not hypothetical and not self._off_topic_nearer(vector)
        ):
            found = pattern or nearest
        if found is not None and (found == "now" or pattern is None):
            # the place: named in the message if it says, else what the nearest exemplars say
            found = situation_hint(text) or (nearest if found == "now" else found) or "door"
        situation: Situation | None = found  # type: ignore[assignment]
        return Urgency(situation, score, nearest, pattern, hypothetical)

    def training_rows(self, corpus: Any = None) -> tuple[np.ndarray, list[str]]:
        """Exemplar and knowledge-base question vectors with their labels (for fitting)."""
        return self._with_corpus(corpus)

    def _with_corpus(self, corpus: Any) -> tuple[np.ndarray, list[str]]:
        """Exemplars plus the knowledge base's question entries (cached per index generation)."""
        combined = self._combined_with(corpus)
        return combined[0], combined[1]

    def _combined_with(self, corpus: Any) -> tuple[np.ndarray, list[str], np.ndarray]:
        """The rows, their labels and which labels are urgent situations."""
        matrix, labels = self._load()
        if corpus is None:
            return matrix, labels, _urgent_mask(labels)
        key = corpus.info.collection
        with self._lock:
            if self._combined is not None and self._combined[0] == key:
                return self._combined[1], self._combined[2], self._combined[3]
            rows = [matrix]
            all_labels = list(labels)
            for lang, vectors in corpus.vectors.items():
                # each section's question rows, sections in order (arrays, not a loop per section:
                # this runs on the first question after a new generation is swapped in)
                section_label = np.array(
                    [
                        SITUATIONS[s.index] if s.urgent and s.index < len(SITUATIONS) else "none"
                        for s in corpus.by_lang[lang]
                    ],
                    dtype=object,
                )
                order = np.argsort(vectors.question_owner, kind="stable")
                if not len(order):
                    continue
                rows.append(vectors.questions[order])
                all_labels += section_label[vectors.question_owner[order]].tolist()
            combined = np.concatenate(rows) if len(rows) > 1 else matrix
            self._combined = (key, combined, all_labels, _urgent_mask(all_labels))
            return combined, all_labels, self._combined[3]

    def _off_topic_nearer(self, vector: Any) -> bool:
        """Whether the nearest off-topic exemplars are closer than the nearest urgent ones: a
        linear model can call "write me a poem about my mom" urgent, its neighbours do not."""
        matrix, labels = self._load()
        urgent = np.array([label in SITUATIONS for label in labels])
        if vector is None or not urgent.any():
            return False
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        top_urgent = float(np.sort(sims[urgent])[::-1][:K_MARGIN].mean())
        return self.off_topic(vector) > top_urgent

    def off_topic(self, vector: Any) -> float:
        """Mean similarity of the nearest off-topic exemplars (-1 without any)."""
        matrix, labels = self._load()
        mask = np.array([label == OFF_TOPIC for label in labels])
        if vector is None or not mask.any():
            return -1.0
        sims = matrix[mask] @ np.asarray(vector, dtype=np.float32)
        return float(np.sort(sims)[::-1][:K_MARGIN].mean())

    def harm(self, vector: Any, corpus: Any = None) -> float:
        """Mean similarity of the nearest "harm" exemplars minus that of the nearest other rows
        (exemplars of every other label and the knowledge base's question phrasings): at or above
        :data:`bot.guard.HARM_MARGIN`, and with the policy's harm classifier agreeing, a request
        to refuse. -1 without a vector or exemplars."""
        matrix, labels, _ = self._combined_with(corpus)
        mask = np.array([label == HARM for label in labels], dtype=bool)
        if vector is None or not mask.any() or mask.all():
            return -1.0
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        top_harm = np.sort(sims[mask])[::-1][:K_MARGIN].mean()
        top_other = np.sort(sims[~mask])[::-1][:K_MARGIN].mean()
        return float(top_harm - top_other)

    def margin(self, vector: Any, corpus: Any = None) -> tuple[float, Situation | None]:
        """Nearest urgent minus nearest non-urgent similarity, and the situation voted for."""
        matrix, labels, urgent = self._combined_with(corpus)
        if vector is None or not len(labels):
            return -1.0, None
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        if not urgent.any() or urgent.all():
            return -1.0, None
        top_urgent = np.sort(sims[urgent])[::-1][:K_MARGIN].mean()
        top_other = np.sort(sims[~urgent])[::-1][:K_MARGIN].mean()
        votes: dict[str, float] = {}
        for i in np.argsort(-np.where(urgent, sims, -np.inf))[:K_VOTE]:
            votes[labels[i]] = votes.get(labels[i], 0.0) + float(sims[i])
        nearest = max(votes, key=lambda k: votes[k])
        return float(top_urgent - top_other), nearest  # type: ignore[return-value]


def _urgent_mask(labels: list[str]) -> np.ndarray:
    """True where a label names an urgent situation (not "none", off-topic or harm)."""
    return np.array([label in SITUATIONS for label in labels], dtype=bool)
