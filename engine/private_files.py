"""Files only the service's own user may read: the var dir, the SQLite database, generated secrets,
attachments.

New directories are created 0700 and new files 0600 (the umask can only take bits away). SQLite
creates a database's -wal, -shm and -journal files with the database file's mode, so the database
file is created 0600 before SQLite opens it. Start-up tightens what exists already and grants more
(an install from before this rule, files copied in): group and other bits are removed from paths
this process's user owns; another owner's are left alone with a warning (they are theirs to fix,
and chmod would fail anyway).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")

log = logging.getLogger("aicmp.files")


def make_dir(path: Path) -> Path:
    """``path`` with any missing parents, each created 0700 (existing ones are left as they are)."""
    if not path.is_dir():
        make_dir(path.parent)
        with contextlib.suppress(FileExistsError):  # a process starting beside us made it
            path.mkdir(mode=DIR_MODE)
    return path


def create(path: Path) -> int:
    """A new file (it must not exist yet), 0600, open for writing: the file descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)


def tighten(path: Path, mode: int) -> None:
    """Remove what ``path`` grants beyond ``mode``, if it exists and this process's user owns it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(st.st_mode)
    if not current & ~mode:
        return
    if st.st_uid != os.geteuid():
        log.warning("%s has mode %o but belongs to another user: left as it is", path, current)
        return
    os.chmod(path, current & mode)


def tighten_tree(root: Path, *, deep: bool) -> None:
    """``root`` and what is in it (below it, with ``deep``): directories 0700, files 0600."""
    if not root.is_dir():
        return
    for here, dirs, files in os.walk(root):
        tighten(Path(here), DIR_MODE)
        for name in files:
            tighten(Path(here, name), FILE_MODE)
        if not deep:
            for name in dirs:
                tighten(Path(here, name), DIR_MODE)
            break


def sqlite_database(path: Path) -> None:
    """Create the database file 0600 if it is missing (an empty file is an empty database), and
    tighten it and its companion files."""
    make_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(create(path))
    for suffix in SQLITE_SUFFIXES:
        tighten(path.with_name(path.name + suffix), FILE_MODE)
