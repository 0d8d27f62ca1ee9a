"""Run a model card's code as a user would: copied out of the written README.md, run from its folder."""
from __future__ import annotations

import os
import re
from pathlib import Path


def code_blocks(card_file) -> list[str]:
    """The Python blocks of the card's "## Loading" section, in order."""
    text = Path(card_file).read_text(encoding="utf-8")
    loading = text[text.index("## Loading"):]
    loading = loading[:loading.index("\n## ", 1)] if "\n## " in loading[1:] else loading
    return re.findall(r"```python\n(.*?)```", loading, re.S)


def run_block(card_file, index: int = 0, cwd=None) -> dict:
    """Run block ``index`` of the card from the card's own folder (or ``cwd``); return its variables."""
    code = code_blocks(card_file)[index]
    namespace: dict = {"__name__": "__card__"}
    here = os.getcwd()
    os.chdir(cwd or Path(card_file).parent)
    try:
        exec(compile(code, str(card_file), "exec"), namespace)
    finally:
        os.chdir(here)
    return namespace
