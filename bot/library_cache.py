"""The library of the last start, kept beside the database: unchanged files are not parsed again.

Parsing and validating FLOWS_DIR is most of what the bot does before its first poll (the YAML
parser is pure Python, to give every fault its line). A library that loaded without error is
pickled to ``<database>.library``, under a key made of every ``*.yaml`` file of the folder
(name and bytes) and of what shapes the objects (the source of ``bot.core``, Python and the
validating libraries' versions). A start with the same key reads it back; any other change,
or a cache that cannot be read, loads the files as ``load_library`` always does, so an invalid
file is still refused at start-up (it is never cached). The file sits in the database's
private folder, mode 0600 like the database: whoever can write it can already change the
database and the code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from importlib import metadata
from pathlib import Path

from bot.core.library import Library, load_library
from bot.storage.db import PRIVATE_FILE, PRIVATE_FOLDER

logger = logging.getLogger(__name__)

CORE = Path(__file__).parent / "core"
_SHAPING = ("pydantic", "pydantic-core", "ruamel.yaml")


def cache_path(database: Path) -> Path | None:
    """Where the library is kept for this database; None for an in-memory database."""
    if str(database) == ":memory:":
        return None
    return database.with_name(f"{database.name}.library")


def _key(directory: Path) -> bytes:
    digest = hashlib.sha256(sys.version.encode())
    for package in _SHAPING:
        digest.update(f"\0{package}={metadata.version(package)}".encode())
    for source in sorted(CORE.glob("*.py")):
        digest.update(f"\0{source.name}\0".encode() + source.read_bytes())
    for file in sorted(directory.glob("*.yaml")):
        digest.update(f"\0{file.name}\0".encode() + file.read_bytes())
    return digest.digest()


def load(directory: Path, cache: Path | None) -> Library:
    """The library of ``directory``: read back from ``cache`` when nothing changed, else loaded
    (and validated) by ``load_library``, which raises InvalidFile on any error."""
    if cache is None:
        return load_library(directory)
    key = _key(directory)
    try:
        kept_key, kept = pickle.loads(cache.read_bytes())
        if kept_key == key and isinstance(kept, Library):
            return kept
    except FileNotFoundError:
        pass
    except Exception as error:  # a cache from another version, cut short, unreadable: load the files
        logger.info("The library cache %s is not used (%s)", cache, error)
    library = load_library(directory)
    _keep(cache, key, library)
    return library


def _keep(cache: Path, key: bytes, library: Library) -> None:
    """Write the cache whole or not at all; the bot starts without it."""
    partial = cache.with_name(f".{cache.name}.partial")
    try:
        cache.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pickle.dumps((key, library), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, cache)
    except (OSError, pickle.PicklingError) as error:
        logger.warning("Could not keep the library cache %s: %s", cache, error)
        partial.unlink(missing_ok=True)
