"""Token counting with tiktoken, and a labelled approximation when no vocabulary can be loaded.

tiktoken downloads its vocabularies on first use, so llm-cost ships OpenAI's published `o200k_base` and
`cl100k_base` files (`llm_cost/vocab/`) and counts exactly offline. An encoding is loaded from, in order:
`vocab_dir` / `LLM_COST_VOCAB_DIR` (`<encoding>.tiktoken` files), the shipped files, tiktoken's own cache or
download. A file whose sha256 is not the published one is never used: it is a ConfigError (exit 3). When no
vocabulary loads, the count is `ceil(characters / 4)` (OpenAI's rule of thumb for English text), a warning goes to
stderr and the method is recorded in the row's Tags, so an approximation is never passed off as exact.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tiktoken

from llm_cost.errors import ConfigError

DEFAULT_ENCODING = "o200k_base"
APPROXIMATION = "approx-chars/4"
_VOCAB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# The vocabularies shipped in the package (package data, see pyproject.toml).
SHIPPED_VOCAB_DIR = Path(__file__).resolve().with_name("vocab")
# OpenAI's published sha256 of each shipped vocabulary: the `expected_hash` in tiktoken's
# tiktoken_ext/openai_public.py (tests/test_tokens.py checks them against the installed tiktoken).
PUBLISHED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
# tiktoken reads its cache folder from the environment: one load at a time, so threads never see another's folder.
_TIKTOKEN_LOCK = threading.Lock()


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
        local = self._local_vocabulary(name)  # a file that fails its hash check raises here, loudly
        encoding: tiktoken.Encoding | None
        try:
            if local is not None:
                encoding = _encoding_from_bytes(name, local)
            else:
                with _TIKTOKEN_LOCK:
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

    def _local_vocabulary(self, name: str) -> bytes | None:
        """The bytes of `<name>.tiktoken` from vocab_dir, else from the shipped files, verified; None if neither."""
        if self._vocab_dir is not None:
            given = self._vocab_dir / f"{name}.tiktoken"
            if given.is_file():
                return _verified(name, given, shipped=False)
        shipped = SHIPPED_VOCAB_DIR / f"{name}.tiktoken"
        if shipped.is_file():
            return _verified(name, shipped, shipped=True)
        return None

    def count(self, text: str, model: str) -> TokenCount:
        """Tokens of `text` for `model`, with no chat overhead. Special-token strings count as plain text."""
        name, own = encoding_name_for(model)
        encoding = self._load(name)
        if encoding is None:
            return TokenCount(math.ceil(len(text) / 4), APPROXIMATION)
        method = f"tiktoken:{name}" if own else f"tiktoken:{name}-fallback"
        return TokenCount(len(encoding.encode_ordinary(text)), method)


def _verified(name: str, path: Path, *, shipped: bool) -> bytes:
    """The bytes of a vocabulary file whose sha256 is OpenAI's published one (tiktoken checks the encodings llm-cost
    does not ship). A damaged or modified file is a ConfigError, never used and never silently replaced."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read tiktoken vocabulary {path}: {exc.strerror}") from None
    expected = PUBLISHED_SHA256.get(name)
    if expected is None or hashlib.sha256(data).hexdigest() == expected:
        return data
    if shipped:
        fix = f"reinstall llm-cost, or set LLM_COST_VOCAB_DIR to a folder with an intact {name}.tiktoken"
        raise ConfigError(
            f"the {name} vocabulary shipped with llm-cost ({path}) does not match OpenAI's published sha256 "
            f"{expected}: the installation is damaged or modified; {fix}"
        )
    raise ConfigError(
        f"tiktoken vocabulary {path} (from --vocab-dir or LLM_COST_VOCAB_DIR) does not match OpenAI's published "
        f"sha256 {expected}; replace it with the published file, or remove it to use the one shipped with llm-cost"
    )


def _encoding_from_bytes(name: str, data: bytes) -> tiktoken.Encoding:
    """Build tiktoken's own encoding from a vocabulary's bytes: they are put where tiktoken's cache looks for the
    download (the sha1 of its URL), so tiktoken loads them offline and checks their hash itself."""
    url = _VOCAB_URL.format(name=name)
    with _TIKTOKEN_LOCK, tempfile.TemporaryDirectory(prefix="llm-cost-tiktoken-") as cache:
        (Path(cache) / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
        try:
            return tiktoken.get_encoding(name)
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous
