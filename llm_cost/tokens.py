"""Token counting with tiktoken, and a labelled approximation when no vocabulary can be loaded.

tiktoken downloads its vocabularies on first use. Offline, point `LLM_COST_VOCAB_DIR` at a folder holding
`<encoding>.tiktoken` files (OpenAI's published files; tiktoken checks their sha256). When no vocabulary loads,
the count is `ceil(characters / 4)` (OpenAI's rule of thumb for English text), a warning goes to stderr and the
method is recorded in the row's Tags, so an approximation is never passed off as exact.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tiktoken

DEFAULT_ENCODING = "o200k_base"
APPROXIMATION = "approx-chars/4"
_VOCAB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


@dataclass(slots=True, frozen=True)
class TokenCount:
    """A count and how it was obtained: `tiktoken:<encoding>`, `tiktoken:<encoding>-fallback` or the approximation."""

    tokens: int
    method: str

    @property
    def exact(self) -> bool:
        """True for a real tiktoken count with the model's own encoding."""
        return self.method.startswith("tiktoken:") and not self.method.endswith("-fallback")


def encoding_name_for(model: str) -> tuple[str, bool]:
    """tiktoken's encoding for `model` and whether it is the model's own (False: the o200k_base fallback)."""
    bare = model.split("/", 1)[-1]
    try:
        return tiktoken.encoding_name_for_model(bare), True
    except KeyError:
        return DEFAULT_ENCODING, False


class TokenCounter:
    """Counts tokens per model, caching encodings. `warn` receives one message per encoding that fails to load."""

    def __init__(self, vocab_dir: Path | None = None, warn: Callable[[str], None] | None = None) -> None:
        env_dir = os.environ.get("LLM_COST_VOCAB_DIR")
        self._vocab_dir = vocab_dir or (Path(env_dir) if env_dir else None)
        self._warn = warn or (lambda message: None)
        self._encodings: dict[str, tiktoken.Encoding | None] = {}

    def _load(self, name: str) -> tiktoken.Encoding | None:
        if name in self._encodings:
            return self._encodings[name]
        encoding: tiktoken.Encoding | None
        try:
            encoding = self._load_from_dir(name) if self._vocab_dir else None
            if encoding is None:
                encoding = tiktoken.get_encoding(name)
        except Exception as exc:  # tiktoken raises whatever its download raises (DNS, HTTP, hash mismatch)
            self._warn(
                f"tiktoken vocabulary {name!r} could not be loaded ({type(exc).__name__}); token counts are "
                f"approximated as characters/4 and tagged {APPROXIMATION!r}. Set LLM_COST_VOCAB_DIR to a folder "
                f"with {name}.tiktoken for exact counts."
            )
            encoding = None
        self._encodings[name] = encoding
        return encoding

    def _load_from_dir(self, name: str) -> tiktoken.Encoding | None:
        """Load `<vocab_dir>/<name>.tiktoken` through tiktoken's own cache mechanism, which verifies its hash."""
        assert self._vocab_dir is not None
        source = self._vocab_dir / f"{name}.tiktoken"
        if not source.is_file():
            return None
        url = _VOCAB_URL.format(name=name)
        with tempfile.TemporaryDirectory(prefix="llm-cost-tiktoken-") as cache:
            os.symlink(source.resolve(), Path(cache) / hashlib.sha1(url.encode()).hexdigest())
            previous = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = cache
            try:
                return tiktoken.get_encoding(name)
            finally:
                if previous is None:
                    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = previous

    def count(self, text: str, model: str) -> TokenCount:
        """Tokens of `text` for `model`, with no chat overhead. Special-token strings count as plain text."""
        name, own = encoding_name_for(model)
        encoding = self._load(name)
        if encoding is None:
            return TokenCount(math.ceil(len(text) / 4), APPROXIMATION)
        method = f"tiktoken:{name}" if own else f"tiktoken:{name}-fallback"
        return TokenCount(len(encoding.encode_ordinary(text)), method)
