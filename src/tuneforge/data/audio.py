"""Audio folders, one-time decoding of an audio column, and per-batch waveform preparation.

Clips are decoded once, at load time, with ``soundfile`` (WAV, FLAC, OGG, MP3), mixed down
to mono and resampled (``scipy.signal.resample_poly``) to one rate, 16 kHz unless asked
otherwise: the rate of every wav2vec2 / HuBERT checkpoint. A model that wants another rate
gets its clips resampled once more when the split is encoded (:func:`at_rate`). Clips
longer than ``data.max_seconds`` are cut, and the cut is reported (:attr:`Clips.truncated`).
Each batch is then turned into padded, normalised ``input_values`` (and an attention mask
when the model's feature extractor uses one) by the model's own feature extractor, the
same code ``transformers.pipeline("audio-classification")`` runs.

Example::

    df = read_audio_folder("speech/")          # columns audio (path), label (folder name)
    clips = decode_clips(df["audio"], rate=16000, max_seconds=5.0, base_dir=None, root=None, source="speech/")
    batch = audio_batch([clips.waves[i] for i in (0, 1)], extractor)   # input_values, attention_mask
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..extras import require_extra

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}
DEFAULT_RATE = 16000   # wav2vec2, HuBERT, WavLM, Data2Vec-audio, AST all take 16 kHz
AUDIO_NEEDS = "decoding audio clips (soundfile)"   # what names the audio extra when soundfile is missing


@dataclass
class Clips:
    """Mono float32 waveforms at ``rate`` Hz, one per row, and how many were cut to ``max_seconds``."""

    waves: list[np.ndarray]
    rate: int
    truncated: int = 0
    max_seconds: Optional[float] = None
    cut_rows: list[str] = field(default_factory=list)   # the first few rows that were cut (for the report)

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.waves[i]

    def subset(self, indices) -> "Clips":
        return Clips([self.waves[int(i)] for i in indices], self.rate, self.truncated, self.max_seconds,
                     self.cut_rows)

    def seconds(self) -> np.ndarray:
        return np.array([len(w) / self.rate for w in self.waves])


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def read_audio_folder(folder: str | Path) -> pd.DataFrame:
    """A table of ``audio`` (absolute path) and ``label`` (sub-folder name) for a folder of class folders."""
    folder = Path(folder)
    rows = [(str(p.resolve()), sub.name)
            for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            for p in sorted(sub.rglob("*")) if _is_audio(p)]
    if not rows:
        loose = any(_is_audio(p) for p in folder.iterdir())
        hint = (" (audio files lie directly in it: put them in one sub-folder per class)" if loose
                else f" (looked for {', '.join(sorted(AUDIO_SUFFIXES))} files in its sub-folders)")
        raise DataError(f"{folder}: no audio files found{hint}")
    df = pd.DataFrame(rows, columns=["audio", "label"])
    df.attrs["tuneforge.lines"] = None
    return df


def folder_has_audio(folder: Path) -> bool:
    """Cheap check (stops at the first audio file) used by ``check_data``."""
    return any(sub.is_dir() and any(_is_audio(p) for p in sub.rglob("*")) for sub in folder.iterdir())


def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``wave`` (1-D) resampled from ``from_rate`` to ``to_rate`` Hz by polyphase filtering (anti-aliased)."""
    if from_rate == to_rate or len(wave) == 0:
        return wave.astype(np.float32, copy=False)
    from scipy.signal import resample_poly
    g = gcd(int(from_rate), int(to_rate))
    return resample_poly(wave, int(to_rate) // g, int(from_rate) // g).astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Frames x channels (or 1-D) -> 1-D float32, the channels averaged."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def read_audio_file(path: Path, where: str) -> tuple[np.ndarray, int]:
    """(mono float32 samples in -1..1, sampling rate) of an audio file; DataError naming it when unreadable."""
    require_extra("audio", AUDIO_NEEDS)
    import soundfile
    if not path.exists():
        raise DataError(f"{where}: audio file {path} does not exist")
    if path.is_dir():
        raise DataError(f"{where}: {path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise DataError(f"{where}: audio file {path} is empty (0 bytes)")
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError) as e:  # soundfile.LibsndfileError is a RuntimeError
        raise DataError(f"{where}: {path} is not a readable audio file ({_first_line(e)}); "
                        "replace or remove it") from None
    if samples.shape[0] == 0:
        raise DataError(f"{where}: audio file {path} holds no samples; replace or remove it")
    return to_mono(samples), int(rate)


def _wave_of(value, base_dir: Optional[Path], root: Optional[Path], where: str) -> tuple[np.ndarray, int]:
    """(mono samples, rate) of one cell: a file path, or ``{"array": ..., "sampling_rate": ...}``."""
    if isinstance(value, dict):
        if "array" not in value or "sampling_rate" not in value:
            raise DataError(f"{where}: an in-memory clip must be a dict with 'array' and 'sampling_rate'; "
                            f"got keys {sorted(value)}")
        wave = np.asarray(value["array"], dtype=np.float32)
        if wave.ndim == 2:  # channels x frames (as datasets gives) or frames x channels
            wave = wave.mean(axis=0) if wave.shape[0] < wave.shape[1] else wave.mean(axis=1)
        if wave.ndim != 1 or wave.size == 0:
            raise DataError(f"{where}: an in-memory clip must be a non-empty 1-D (or 2-D) array, got shape "
                            f"{np.shape(value['array'])}")
        return wave, int(value["sampling_rate"])
    if isinstance(value, (str, Path)) and str(value).strip():
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        path = path.resolve()
        if root is not None and not path.is_relative_to(root):
            raise DataError(f"{where}: audio path {str(value)!r} resolves to {path}, outside data.root "
                            f"({root}); move the file inside it or change data.root")
        return read_audio_file(path, where)
    raise DataError(f"{where}: an audio cell must be a file path or a dict with 'array' and 'sampling_rate', got "
                    f"{type(value).__name__} {value!r:.60}")


def decode_clips(values, rate: int, max_seconds: Optional[float], base_dir: Optional[Path],
                 root: Optional[Path], source: str, row_labels: Optional[Sequence[str]] = None) -> Clips:
    """Decode paths (or in-memory clips) to mono ``rate`` Hz waveforms, cut to ``max_seconds``.

    Paths are relative to ``base_dir`` and must stay inside ``root`` when it is given. A missing,
    empty or corrupt file is a DataError naming the row and the file.
    """
    values = list(values)
    if not values:
        raise DataError(f"{source}: no audio clips to decode")
    labels = row_labels if row_labels is not None else [f"row {i + 1} of {source}" for i in range(len(values))]
    limit = int(round(max_seconds * rate)) if max_seconds else None
    waves, cut = [], []
    for value, where in zip(values, labels):
        wave, native = _wave_of(value, Path(base_dir) if base_dir else None, Path(root) if root else None, where)
        wave = resample(wave, native, rate)
        if limit is not None and len(wave) > limit:
            wave = wave[:limit]
            cut.append(where)
        waves.append(np.ascontiguousarray(wave, dtype=np.float32))
    return Clips(waves, rate, len(cut), max_seconds, cut[:3])


def at_rate(clips: Clips, rate: int) -> Clips:
    """``clips`` resampled to ``rate`` (the model's rate), or the same object when it already is."""
    if clips.rate == rate:
        return clips
    return Clips([resample(w, clips.rate, rate) for w in clips.waves], rate, clips.truncated, clips.max_seconds,
                 clips.cut_rows)


def audio_batch(waves: Sequence[np.ndarray], extractor) -> dict:
    """Padded ``input_values`` (float32 ``B x T``; ``input_features`` for spectrogram models) and, when
    the extractor uses one, ``attention_mask``.

    The model's feature extractor normalises each clip (zero mean, unit variance, when it is set
    to) before padding to the batch's longest clip, as it does inside transformers' pipeline.
    """
    wants_mask = bool(getattr(extractor, "return_attention_mask", False))
    out = extractor(list(waves), sampling_rate=extractor.sampling_rate, padding=True, return_tensors="pt",
                    return_attention_mask=wants_mask)
    key = "input_values" if "input_values" in out else "input_features"   # waveforms, or spectrograms (Whisper)
    batch = {key: out[key].float()}
    if wants_mask:
        batch["attention_mask"] = out["attention_mask"].long()
    return batch


def truncation_note(split: str, clips: Clips) -> Optional[str]:
    """One line saying how many clips of ``split`` were cut to ``data.max_seconds`` (None when none were)."""
    if not clips.truncated:
        return None
    return (f"{split}: {clips.truncated} of {len(clips)} clips were longer than data.max_seconds "
            f"({clips.max_seconds:g} s) and were cut to it (e.g. {', '.join(clips.cut_rows)})")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
