"""The output folder of a local run: checked before anything is written, marked as the CLI's
own, and the only place the CLI ever deletes or replaces anything.

Rules (docs/local-run.md):
- ``--out`` and ``--input`` never overlap, after resolving symlinks, so nothing under the
  input is ever written, moved or deleted;
- ``--out`` is a new folder, an empty one, or one this CLI created: a folder holding the
  marker file. A folder of someone else's files is refused, never emptied;
- every delete goes through :func:`remove_owned`, which refuses a path outside a marked folder;
- files a reader may open (the report) are replaced atomically: written beside, then renamed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

MARKER_NAME: Final = ".spotify-ops-out"
MARKER_TEXT: Final = (
    "spotify-ops local-run created this folder and may replace anything in it.\n"
    "Delete this file to stop it from writing here.\n"
)

PATTERN_CHARACTERS: Final = "*?[]{}\\"
"""Characters Hadoop's path globbing reads as a pattern or an escape: Spark reads its input
paths as patterns, so a folder named ``out[1]`` would not be found, and ``out*`` could
match other folders. Refused rather than escaped, since the job's readers are not ours."""

SCRATCH_PREFIX: Final = ".partial-"
"""Folders and files being written; renamed into place when complete, removed otherwise."""


class OutFolderError(ValueError):
    """``--out`` cannot be used; the message names the folder and the fix."""


def _resolved(path: Path) -> Path:
    return path.expanduser().resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_paths(input_dir: Path, out_dir: Path) -> Path:
    """``out_dir`` resolved, after checking it can hold a run without touching the input.

    Raises ``OutFolderError`` for an output folder that overlaps the input, is a file, or has
    a character Spark reads as a pattern."""
    source, target = _resolved(input_dir), _resolved(out_dir)
    if _inside(target, source) or _inside(source, target):
        if source == target:
            relation, fix = "they are the same folder", f"outside {source}"
        elif _inside(target, source):
            relation, fix = "--out is inside --input", f"outside {source}"
        else:
            relation, fix = "--input is inside --out", f"that does not contain {source}"
        raise OutFolderError(
            f"--input {input_dir} and --out {out_dir} overlap ({relation}); local-run never "
            f"writes inside its input: choose an --out folder {fix}"
        )
    if target.exists() and not target.is_dir():
        raise OutFolderError(
            f"--out {out_dir} is a file, not a folder; give the path of a new or empty folder"
        )
    found = sorted({c for c in str(target) if c in PATTERN_CHARACTERS})
    if found:
        raise OutFolderError(
            f"--out {target} contains {' '.join(found)}, which Spark reads as a file-name "
            f"pattern; choose a folder whose path has none of {' '.join(PATTERN_CHARACTERS[:-1])} "
            "or a backslash"
        )
    return target


def is_owned(folder: Path) -> bool:
    return (folder / MARKER_NAME).is_file()


def claim(out_dir: Path) -> None:
    """Make ``out_dir`` this CLI's own: create it (with its parents) and mark it, or accept it
    if it is empty or already marked. Raises ``OutFolderError`` otherwise."""
    try:
        if out_dir.is_dir() and not is_owned(out_dir) and any(out_dir.iterdir()):
            raise OutFolderError(
                f"--out {out_dir} already holds files that local-run did not write (its own "
                f"folders hold a {MARKER_NAME} file), and it never replaces those: choose a "
                "new or empty folder"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / MARKER_NAME).write_text(MARKER_TEXT, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutFolderError(
            f"cannot write to --out {out_dir}: {reason}; choose a folder you can write to"
        ) from None


def remove_owned(path: Path, owner: Path) -> None:
    """Delete ``path`` (a file, a folder or a symlink, never what a symlink points at), which
    must lie inside ``owner``, a folder this CLI marked as its own."""
    where = path.parent.resolve() / path.name
    home = owner.resolve()
    if not is_owned(home) or home not in where.parents:
        raise ValueError(f"refusing to delete {path}: not inside a folder local-run owns")
    if where.is_symlink() or where.is_file():
        where.unlink()
    elif where.is_dir():
        shutil.rmtree(where)


def remove_scratch(owner: Path) -> None:
    """Remove what an interrupted run left half-written (scratch names only)."""
    for leftover in owner.glob(f"{SCRATCH_PREFIX}*"):
        remove_owned(leftover, owner)


@contextmanager
def scratch(owner: Path, name: str) -> Iterator[Path]:
    """A scratch path in ``owner`` for ``name``; removed on exit unless renamed away."""
    path = owner / f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:8]}-{name}"
    try:
        yield path
    finally:
        if path.exists() or path.is_symlink():
            remove_owned(path, owner)


def replace_file(target: Path, text: str, owner: Path) -> None:
    """Write ``target`` so a reader sees the old file or the whole new one, never a part."""
    with scratch(owner, target.name) as partial:
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)


def replace_folder(target: Path, build: Path, owner: Path) -> None:
    """Put the complete folder ``build`` at ``target``, removing the previous one. Between
    the two renames ``target`` is briefly absent, never partly written."""
    with scratch(owner, f"old-{target.name}") as old:
        if target.exists() or target.is_symlink():
            target.replace(old)
        build.replace(target)
