"""Comment text: the words and phrases that set one group of comments apart, and sentiment.

Pure Python over lists of strings, so it runs the same whatever backend the comments came from.

Themes
    Each comment is cut into lower-case words (letters of any script, inner apostrophes kept:
    ``don't``), English stop words are dropped, and its terms are its words plus its two-word
    phrases (adjacent words, neither a stop word). A term counts once per comment. Two sets of
    comments (e.g. detractors vs promoters, or this month's detractors vs last month's) are
    compared with the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi &
    Quinn 2008, "Fightin' Words"), the prior taken from both sets together; ``z`` is the
    log-odds divided by its standard error, so rare words do not win on a single mention.
    The prior is the two sets' combined term counts (``alpha_w = prior_scale * (y_a + y_b)``),
    which shrinks every estimate towards "no difference" in proportion to the evidence; a
    weak flat prior would instead let terms that one set never uses dominate or vanish.

Sentiment
    VADER (the ``vaderSentiment`` package: a rule-based English lexicon that ships inside the
    package, so it needs no download and runs offline). The score is VADER's compound score,
    -1 (most negative) to +1 (most positive).

Languages
    Any language is read without error. Sentiment is English (and emoji) only: a comment in
    which VADER knows no word gets no score (``None``) rather than a misleading 0. Themes work
    for languages written with spaces between words (stop words are English only); scripts
    without spaces (Chinese, Japanese, Thai) give whole runs of text as one "word".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import pandas as pd

__all__ = [
    "STOP_WORDS",
    "MIN_WORD_CHARS",
    "MAX_PHRASE_WORDS",
    "DEFAULT_MIN_COMMENTS",
    "DEFAULT_PRIOR_SCALE",
    "MAX_SENTIMENT_CHARS",
    "SENTIMENT_LIBRARY",
    "THEME_COLUMNS",
    "words",
    "terms",
    "distinguishing_terms",
    "sentiment",
    "sentiments",
]

MIN_WORD_CHARS = 2
MAX_PHRASE_WORDS = 2
DEFAULT_MIN_COMMENTS = 2
"""A term must appear in at least this many comments (both sets together) to be listed."""
DEFAULT_PRIOR_SCALE = 1.0
"""Weight of the Dirichlet prior relative to the combined counts of both sets."""
MAX_SENTIMENT_CHARS = 5000
"""Longer comments are scored on their first this-many characters."""
SENTIMENT_LIBRARY = "VADER (vaderSentiment 3.3)"
THEME_COLUMNS = ["term", "count_a", "count_b", "share_a", "share_b", "log_odds", "z"]

# English stop words. Negations (no, not, never, nothing, don't, ...) are kept on purpose:
# "not good" and "never arrived" are what detractors say.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself of off on once only or other our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves i'm
    i've i'd i'll it's that's there's they're we're you're we've they've you've he's she's
    let's get got us really one
    """.split()
)

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def words(text: str | None) -> list[str]:
    """The comment's words, lower-case, in order (numbers and punctuation dropped)."""
    if not text:
        return []
    cleaned = str(text).translate(_APOSTROPHES).casefold()
    return [w for w in _WORD.findall(cleaned) if len(w) >= MIN_WORD_CHARS]


def terms(text: str | None) -> set[str]:
    """The comment's terms: its non-stop words and its two-word phrases of non-stop words."""
    ws = words(text)
    out: set[str] = {w for w in ws if w not in STOP_WORDS}
    for n in range(2, MAX_PHRASE_WORDS + 1):
        for i in range(len(ws) - n + 1):
            gram = ws[i : i + n]
            if not any(g in STOP_WORDS for g in gram):
                out.add(" ".join(gram))
    return out


def _document_counts(texts: Iterable[str | None]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    n = 0
    for t in texts:
        n += 1
        counts.update(terms(t))
    return counts, n


def distinguishing_terms(
    texts_a: Sequence[str | None],
    texts_b: Sequence[str | None],
    *,
    min_comments: int = DEFAULT_MIN_COMMENTS,
    prior_scale: float = DEFAULT_PRIOR_SCALE,
) -> pd.DataFrame:
    """Terms ranked by how much more often they appear in set A than in set B.

    For a term w, with ``y_a`` / ``y_b`` the comments of A / B containing it, ``n_a`` / ``n_b``
    the total term mentions of each set, and the prior ``alpha_w = prior_scale * (y_a + y_b)``,
    ``alpha_0 = prior_scale * (n_a + n_b)``::

        log_odds = ln((y_a + alpha_w) / (n_a + alpha_0 - y_a - alpha_w))
                 - ln((y_b + alpha_w) / (n_b + alpha_0 - y_b - alpha_w))
        z        = log_odds / sqrt(1 / (y_a + alpha_w) + 1 / (y_b + alpha_w))

    Parameters
    ----------
    texts_a, texts_b
        The two sets of comments (``None`` and empty comments are allowed and count as
        comments without terms).
    min_comments
        Keep terms found in at least this many comments of A and B together.
    prior_scale
        Larger values pull every term more strongly towards "no difference".

    Returns
    -------
    DataFrame
        ``term``, ``count_a`` / ``count_b`` (comments containing it), ``share_a`` /
        ``share_b`` (those counts over the number of comments in the set, 0-1, or None for an
        empty set), ``log_odds``, ``z``; sorted by ``z`` from most typical of A to most
        typical of B (ties by term). Empty when either set has no terms.
    """
    counts_a, docs_a = _document_counts(texts_a)
    counts_b, docs_b = _document_counts(texts_b)
    n_a = sum(counts_a.values())
    n_b = sum(counts_b.values())
    if n_a == 0 or n_b == 0:  # one side said nothing: there is no contrast to draw
        return pd.DataFrame([], columns=THEME_COLUMNS)
    alpha_0 = prior_scale * (n_a + n_b)
    rows: list[dict[str, Any]] = []
    for term in set(counts_a) | set(counts_b):
        y_a, y_b = counts_a[term], counts_b[term]
        if y_a + y_b < min_comments:
            continue
        alpha = prior_scale * (y_a + y_b)
        rest_a = n_a + alpha_0 - y_a - alpha
        rest_b = n_b + alpha_0 - y_b - alpha
        if rest_a <= 0 or rest_b <= 0:  # the only term of both sets: nothing to contrast
            continue
        delta = math.log((y_a + alpha) / rest_a) - math.log((y_b + alpha) / rest_b)
        z = delta / math.sqrt(1 / (y_a + alpha) + 1 / (y_b + alpha))
        rows.append(
            {
                "term": term,
                "count_a": y_a,
                "count_b": y_b,
                "share_a": y_a / docs_a if docs_a else None,
                "share_b": y_b / docs_b if docs_b else None,
                "log_odds": delta,
                "z": z,
            }
        )
    rows.sort(key=lambda r: (-r["z"], r["term"]))
    return pd.DataFrame(rows, columns=THEME_COLUMNS)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str | None) -> float | None:
    """VADER's compound score (-1..+1), or None when VADER knows no word of the comment
    (empty, or not in English)."""
    if text is None or not str(text).strip():
        return None
    scores = _analyzer().polarity_scores(str(text)[:MAX_SENTIMENT_CHARS])
    if scores["pos"] == 0 and scores["neg"] == 0:
        return None
    return float(scores["compound"])


def sentiments(texts: Iterable[str | None]) -> list[float | None]:
    """:func:`sentiment` of each text, in order."""
    return [sentiment(t) for t in texts]
