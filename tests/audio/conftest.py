"""Speech made with espeak-ng (the words "yes" and "no", several voices and speeds) and a tiny wav2vec2.

espeak-ng is a Debian package (``apt-get install espeak-ng``). Without it these tests skip,
except under CI, which sets ``TUNEFORGE_REQUIRE_ESPEAK=1`` so that a missing program fails them.
espeak-ng writes 22,050 Hz WAV files, so every run also exercises resampling to 16 kHz.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

WORDS = ("no", "yes")
VOICES = ("en", "en-us", "en-gb-scotland", "en+f3", "en-us+m3", "en-gb-x-rp+f2")
SPEEDS = (120, 165, 210)


def _espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        if os.environ.get("TUNEFORGE_REQUIRE_ESPEAK") == "1":
            pytest.fail("espeak-ng is not installed but TUNEFORGE_REQUIRE_ESPEAK=1: apt-get install espeak-ng")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return found


def speak(espeak: str, text: str, path: Path, voice: str = "en", speed: int = 160) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


@pytest.fixture(scope="session")
def espeak():
    return _espeak()


@pytest.fixture(scope="session")
def speech_folder(espeak, tmp_path_factory) -> Path:
    """``root/yes/*.wav`` and ``root/no/*.wav``: 18 clips per word (6 voices x 3 speeds), 22.05 kHz mono."""
    root = tmp_path_factory.mktemp("speech")
    for word in WORDS:
        for voice in VOICES:
            for speed in SPEEDS:
                speak(espeak, word, root / word / f"{voice.replace('+', '_')}-{speed}.wav", voice, speed)
    return root


@pytest.fixture(scope="session")
def wav2vec2_dir(tmp_path_factory) -> Path:
    from helpers.tiny import tiny_wav2vec2

    return tiny_wav2vec2(tmp_path_factory.mktemp("tiny-wav2vec2"))
