"""The output folder of a run: written whole, and only ever over a folder the engine wrote.

A run writes into a staging folder beside the target (``.NAME.XXXXXXXX``, created with the
user's umask) and moves it into place only when every file is written, so a failed run never
leaves half-written results. Every folder the engine writes carries a marker file
(:data:`MARKER`, JSON with :data:`SIGNATURE` and the list of the files written). The target
``--out`` may be:

- a path that does not exist: the staging folder is renamed to it;
- an existing empty folder: the files are moved into it (the folder itself, its owner and
  permissions, stay);
- a folder with the marker holding only the files the marker lists: it is swapped for the
  new one, atomically where the system allows (Linux ``renameat2(RENAME_EXCHANGE)``), else
  by two renames through ``.NAME.old``.

Anything else (a file, a symbolic link, a folder without the marker such as the plan's own
folder, a marked folder to which someone added files, the current folder while it holds
results) is refused with a SAP5xx error and left untouched: the engine never deletes a file
it did not write.

A run killed at any point leaves at worst a staging folder or ``.NAME.old``. Each carries the
marker; a staging folder's marker names its process (pid and host) until the folder is
complete. The next run to the same target, holding an exclusive lock on the parent folder
(``flock``; no lock where the system has none), puts ``.NAME.old`` back if the target is
missing (a crash between the two renames) and removes staging folders whose process is dead
(or that were complete but never swapped in). Folders without the marker are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sap_engine.errors import Diagnostic, OutputError

MARKER = ".sap-run"
SIGNATURE = "sap-engine output folder: replaced as a whole by the next sap-run to it"
_SHOWN = 5  # foreign files named in an error


@dataclass(frozen=True)
class Target:
    """A checked output folder: its absolute path and what a run may do with it."""

    path: Path
    given: str  # as the user named it, for messages
    mode: str  # "new", "empty" (fill in place) or "replace" (a folder the engine wrote)


def _fail(code: str, message: str) -> OutputError:
    return OutputError(Diagnostic(code, message))


def absolute(out_dir: str | Path) -> Path:
    """``out_dir`` made absolute; the parents' symbolic links resolved, the last name kept
    (so that a link named as the target is seen as a link)."""
    path = Path(os.path.abspath(out_dir))
    if path.parent == path:
        raise _fail("SAP502", f"cannot use {out_dir} as the output folder: it is the root of "
                              "the file system")
    return path.parent.resolve() / path.name


def read_marker(folder: Path, name: str = MARKER) -> dict | None:
    """The marker of a folder the engine wrote, or None (no marker, or not ours)."""
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("signature") != SIGNATURE or \
            not isinstance(data.get("files"), list):
        return None
    return data


def write_marker(folder: Path, files: list[str], owner: bool) -> None:
    """Write the marker atomically; ``owner`` adds this process (a staging folder)."""
    data: dict = {"signature": SIGNATURE, "files": sorted(files)}
    if owner:
        data.update(pid=os.getpid(), host=socket.gethostname())
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MARKER)


def _contents(folder: Path) -> set[str]:
    """Every file and link below ``folder`` (relative, '/'-separated), folders excluded."""
    found = set()
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            found.add((rel / name).as_posix())
    return found


def inspect(out_dir: str | Path) -> Target:
    """What a run may do with ``out_dir``; OutputError (SAP502-SAP505) if it must not."""
    path = absolute(out_dir)
    given = str(out_dir)
    if path.is_symlink():
        raise _fail("SAP502", f"output folder {given} is a symbolic link; name a folder "
                              "(nothing was changed)")
    if not path.exists():
        return Target(path, given, "new")
    if not path.is_dir():
        raise _fail("SAP502", f"output folder {given} is an existing file, not a folder; "
                              "name a new or empty folder (the file was left untouched)")
    try:
        entries = os.listdir(path)
    except OSError as exc:
        raise _fail("SAP501", f"cannot write outputs to {given}: "
                              f"{exc.strerror or exc}") from None
    if not entries:
        return Target(path, given, "empty")
    marker = read_marker(path)
    if marker is None:
        raise _fail("SAP503", f"output folder {given} is not empty and was not written by "
                              f"sap-run (it has no {MARKER} marker): refusing to replace it; "
                              "name a new or empty folder (nothing was changed)")
    foreign = sorted(_contents(path) - set(marker["files"]) - {MARKER})
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more"
                                                if len(foreign) > _SHOWN else "")
        raise _fail("SAP504", f"output folder {given} holds files that sap-run did not write "
                              f"({shown}): refusing to replace it; move them away or name "
                              "another folder (nothing was changed)")
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current folder was deleted: it cannot be inside the target
        cwd = Path("/")
    if cwd == path.resolve() or path.resolve() in cwd.parents:
        raise _fail("SAP505", f"output folder {given} is the current folder or contains it; "
                              "replacing it would leave the shell in a deleted folder: run "
                              "from another folder (nothing was changed)")
    return Target(path, given, "replace")


# ---- locking and recovery


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (serialises runs writing beside each other)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the renames alone must do
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _old(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _is_staging(entry: Path, target: Path) -> bool:
    return re.fullmatch(rf"\.{re.escape(target.name)}\.[0-9a-f]{{8}}", entry.name) is not None


def _alive(pid: object, host: object) -> bool:
    """Could the process that owns a staging folder still be writing it?"""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if host != socket.gethostname():
        return True  # another machine's process: cannot tell, so leave its folder alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user has that pid
        return True
    return True


def recover(target: Path) -> None:
    """Undo what a killed run left beside ``target``. Call with the parent folder locked."""
    old = _old(target)
    if old.is_dir() and not old.is_symlink() and read_marker(old) is not None:
        if not os.path.lexists(target):
            os.replace(old, target)  # killed between the two renames: the previous results
        else:
            shutil.rmtree(old, ignore_errors=True)
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        if not _is_staging(entry, target) or entry.is_symlink() or not entry.is_dir():
            continue
        # Staging folders are created and marked with the lock held: one that is empty or
        # holds only the half-written marker was left by a run killed right then.
        with contextlib.suppress(OSError):
            os.rmdir(entry)  # only if empty
            continue
        marker = read_marker(entry) or read_marker(entry, f"{MARKER}.tmp")
        if marker is None or _alive(marker.get("pid"), marker.get("host")):
            continue
        shutil.rmtree(entry, ignore_errors=True)


# ---- staging and the swap


def prepare(out_dir: str | Path) -> Target:
    """Check the target before a run computes anything, recovering what a killed run left."""
    path = absolute(out_dir)
    try:
        if path.parent.is_dir():  # else created only once there is something to write
            with locked(path.parent):
                recover(path)
    except OSError as exc:
        raise _fail("SAP501", f"cannot write outputs to {out_dir}: "
                              f"{exc.strerror or exc}") from None
    return inspect(out_dir)


def new_staging(target: Target) -> Path:
    """An empty staging folder beside the target, marked as this process's (with the lock
    held, so that no other run sees it unmarked)."""
    target.path.parent.mkdir(parents=True, exist_ok=True)
    with locked(target.path.parent):
        for _ in range(100):
            folder = target.path.with_name(f".{target.path.name}.{secrets.token_hex(4)}")
            try:
                os.mkdir(folder, 0o777)  # the umask applies, as for any folder one makes
            except FileExistsError:
                continue
            write_marker(folder, [], owner=True)
            return folder
    raise OSError(errno.EEXIST, "no free staging folder name", str(target.path.parent))


def commit(staging: Path, target: Target, files: list[Path]) -> None:
    """Move the finished staging folder into place (see the module docstring)."""
    names = [f.relative_to(staging).as_posix() for f in files]
    with locked(target.path.parent):
        recover(target.path)
        current = inspect(target.given)  # the target may have changed while the run computed
        write_marker(staging, names, owner=False)
        if current.mode == "new":
            os.replace(staging, target.path)
        elif current.mode == "empty":
            _fill(staging, target.path)
        else:
            _swap(staging, target.path)


def _fill(staging: Path, target: Path) -> None:
    """Move the staged files into an empty folder, the marker first: a run killed half-way
    leaves a marked folder that the next run may replace."""
    entries = sorted(os.listdir(staging), key=lambda n: (n != MARKER, n))
    for name in entries:
        os.replace(staging / name, target / name)
    os.rmdir(staging)


def _swap(staging: Path, target: Path) -> None:
    if exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous results
        return
    old = _old(target)
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # a C library without renameat2 (glibc < 2.28)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # a file system without the exchange (some network file systems)
    raise OSError(err, os.strerror(err), str(b))
