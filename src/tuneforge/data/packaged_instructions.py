"""A small instruction set built from a packaged data set, for causal-LM fine-tuning (``tweets-instructions``).

Each tweet of ``tweets`` becomes a prompt asking for its sentiment in one word, and the response
is that word (``positive``, ``negative`` or ``neutral``): a fixed answer format whose success is
checkable by exact match of greedy generations. Only confidently labelled tweets are kept
(``confidence >= 0.6``), so the reference answers are mostly right.

Example::

    df = DATASETS.get("tweets-instructions")()     # columns: prompt, response, text, sentiment
"""
from __future__ import annotations

import pandas as pd

from .packaged import _packaged, load_tweets

PROMPT = ("Classify the sentiment of this tweet as positive, negative or neutral. Answer with one word.\n"
          "Tweet: {text}")
MIN_CONFIDENCE = 0.6


@_packaged("tweets-instructions", "tweets as instruction pairs: prompt 'Classify the sentiment of this tweet...' "
           "-> response 'positive|negative|neutral' (confident labels only)", ("train",),
           ("prompt", "response", "text", "sentiment"))
def load_tweet_instructions(split: str) -> pd.DataFrame:
    df = load_tweets("train")
    df = df[df["confidence"] >= MIN_CONFIDENCE].dropna(subset=["text", "sentiment"])
    df = df.drop_duplicates(subset="text").reset_index(drop=True)
    return pd.DataFrame({"prompt": [PROMPT.format(text=str(t).strip()) for t in df["text"]],
                         "response": df["sentiment"].astype(str).tolist(),
                         "text": df["text"].tolist(), "sentiment": df["sentiment"].tolist()})
