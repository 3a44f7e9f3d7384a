"""Text comparison metrics, deterministic and dependency-free.

Normalisation follows the SQuAD evaluation script (lowercase, strip punctuation, drop the articles
a/an/the, collapse whitespace) so token_f1 and exact_match agree with numbers people already know."""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

_DROP_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


# Cached: an evaluation compares every answer with its expected text, and datasets repeat both (the
# same expected answer on many rows, a deterministic agent giving the same answer). str in, str out.
@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    text = text.lower().translate(_DROP_PUNCT)  # one C pass, not a Python loop per character
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def exact_match(prediction: str, truth: str) -> float:
    return 1.0 if normalize(prediction) == normalize(truth) else 0.0


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = tokens(prediction), tokens(truth)
    if not pred or not gold:
        # SQuAD's convention: two empty answers agree, one empty answer scores 0.
        return 1.0 if pred == gold else 0.0
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence, O(len(a)·len(b)) time and O(len(b)) memory."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            cur[j] = prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, truth: str, beta: float = 1.0) -> float:
    """ROUGE-L F-measure over normalised tokens (beta = 1: precision and recall weigh the same)."""
    pred, gold = tokens(prediction), tokens(truth)
    if not pred or not gold:
        return 1.0 if pred == gold else 0.0
    lcs = lcs_length(pred, gold)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(gold)
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)
