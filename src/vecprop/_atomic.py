"""Atomic writes: a file is the old complete one or the new complete one, whatever happens in between."""
from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: str | os.PathLike, write_fn: Callable[[IO[Any]], None], *, text: bool = False) -> Path:
    """Write a file all at once or not at all: a temp file in the same directory, fsync, os.replace.

    Parameters
    ----------
    path : the file to create or replace: a regular file, or a path where none is yet.
    write_fn : called with the open temp file (binary, or UTF-8 text when ``text``); it writes the content.
    text : open the temp file in text mode (UTF-8) instead of binary.

    Returns
    -------
    The path written. If ``write_fn`` (or anything after it) raises, the temp file is removed,
    a previous file at ``path`` is left untouched, and the exception propagates. A replaced
    file keeps its permission bits; a new one gets 0o666 minus the umask, as ``open`` would.

    Notes
    -----
    On Linux the content is written to an unnamed file (``O_TMPFILE``), which a ``kill -9``
    or a crash cannot leave behind; it gets the name ``.NAME.PID-XXXXXXXX.tmp`` only for the
    instant between being linked into the directory and renamed over ``path``. Elsewhere it
    has that name while it is written. A temp file of ``path`` left by a process that no
    longer exists is removed by the next write of ``path``.
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: directory {parent} does not exist")
    if path.is_dir():  # before anything is written: os.replace would fail only after the whole temp file
        raise IsADirectoryError(f"cannot write {path}: it is a directory; give a file name inside it")
    if path.exists() and not path.is_file():  # a device, a FIFO, a socket (or a link to one): never replaced
        raise ValueError(f"cannot write {path}: it is not a regular file (a device, pipe or socket); vecprop writes "
                         "files by renaming a complete temp file over the target, so give a file path")
    mode = _file_mode(path)
    remove_stale_temps(path)
    fd, tmp = _open_temp(parent, path.name)
    published = None
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as fh:
            write_fn(fh)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), mode)
            published = tmp or _link_unnamed(fh.fileno(), parent, path.name)
        os.replace(published, path)
    except BaseException as err:  # KeyboardInterrupt too: never leave a half-written temp file behind
        if published or tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(published or tmp)
        if isinstance(err, OSError) and err.filename is None and err.errno:  # a full disk: name the file
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    _fsync_dir(parent)
    return path


_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp")


def _temp_name(parent: Path, name: str) -> Path:
    return parent / f".{name}.{os.getpid()}-{os.urandom(4).hex()}.tmp"


def _open_temp(parent: Path, name: str) -> tuple[int, Path | None]:
    """A file descriptor to write to, and the temp file's path (None for an unnamed O_TMPFILE file)."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
        try:
            return os.open(parent, os.O_TMPFILE | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600), None
        except OSError:  # a file system without O_TMPFILE (NFS, some FUSE): a named temp file
            pass
    return _named_temp(parent, name)


def _named_temp(parent: Path, name: str) -> tuple[int, Path]:
    for _ in range(100):
        tmp = _temp_name(parent, name)
        try:
            return os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temp file for {name} in {parent}")


def _link_unnamed(fd: int, parent: Path, name: str) -> Path:
    """Give the O_TMPFILE file a name in ``parent``: linkat through /proc (no privilege needed), or,
    where that is refused, a named copy."""
    dfd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for _ in range(100):
            tmp = _temp_name(parent, name)
            try:  # dir fds make os.link call linkat, whose AT_SYMLINK_FOLLOW resolves /proc/self/fd/N
                os.link(f"/proc/self/fd/{fd}", tmp.name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=True)
                return tmp
            except FileExistsError:
                continue
            except OSError:
                return _named_copy(fd, parent, name)
        raise FileExistsError(f"cannot name a temp file for {name} in {parent}")
    finally:
        os.close(dfd)


def _named_copy(fd: int, parent: Path, name: str) -> Path:
    out, tmp = _named_temp(parent, name)
    try:
        with os.fdopen(out, "wb") as fh:
            os.lseek(fd, 0, os.SEEK_SET)
            while block := os.read(fd, 1 << 20):
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), stat.S_IMODE(os.fstat(fd).st_mode))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temp files ``.NAME.PID-XXXXXXXX.tmp`` of ``path`` whose writing process is gone.

    Only a ``kill -9`` or a crash in the instant between naming a temp file and renaming it
    (or, without O_TMPFILE, while it is written) leaves one. Files of live processes (another
    writer at work) and files of other names are kept. Returns the paths removed.
    """
    path = Path(path)
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            found = _TEMP_NAME.fullmatch(entry.name)
            if found is None or found["name"] != path.name or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(found["pid"])
            if pid == os.getpid() or _alive(pid):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a pid this system cannot check: keep its file
    return True


def _file_mode(path: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        return stat.S_IMODE(path.stat().st_mode)
    umask = 0o022
    with contextlib.suppress(OSError, ValueError, IndexError):  # Linux tells the umask without changing it
        with open("/proc/self/status") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    return 0o666 & ~umask


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
