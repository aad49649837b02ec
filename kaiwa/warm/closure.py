"""The warm process's import closure on disk: the folders of every module it imported (kaiwa's, the libraries',
the standard library's). A file changed, added or removed in one of them (an edit, `uv pip install`, `uv sync`)
retires the warm process before it admits another call: its children would run the old code.

Watched with inotify (Linux, as the warm process is): nothing for the caller to do on each call, one
non-blocking read for the warm process. A file changed while the imports ran, before the watches were set,
shows by its ctime. Without inotify (its limits reached), the folders' stat is compared at each call instead:
that sees files added, removed or replaced, not a file written in place."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
import time

IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_Q_OVERFLOW, IN_ONLYDIR = 0x400, 0x800, 0x4000, 0x01000000
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
)  # fmt: skip
EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
CLOCK_SLACK = 0.05  # file times come from a coarser clock than time.time(): err towards "changed"
BYTECODE = "__pycache__"  # the interpreter writes there (and creates it) by itself: not a change of code


def closure() -> tuple[list[str], list[str]]:
    """(the folders, the files) of every module imported so far, and the installation folders (site-packages,
    the standard library) where an installer replaces a package's folder or adds a `.pth` or a `.dist-info`.
    Not a package's parent folder otherwise: that is kaiwa's checkout, where conversations and caches are
    written (kaiwa's own files are in the code stamp)."""
    import sysconfig

    installed = {os.path.realpath(sysconfig.get_path(name)) for name in ("purelib", "platlib", "stdlib", "platstdlib")}
    folders: set[str] = set()
    files: set[str] = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.isabs(file):
            files.add(file)
            folders.add(os.path.dirname(file))
        for folder in getattr(module, "__path__", None) or ():  # packages, namespace packages included
            if isinstance(folder, str) and os.path.isabs(folder):
                folders.add(folder)
                if os.path.realpath(os.path.dirname(folder)) in installed:
                    folders.add(os.path.dirname(folder))
    return sorted(folders), sorted(files)


def _folder_stamp(folders: list[str]) -> list[tuple[str, int, int]]:
    out = []
    for folder in folders:
        try:
            st = os.stat(folder)
        except OSError:
            out.append((folder, 0, 0))
        else:
            out.append((folder, st.st_mtime_ns, st.st_ino))
    return out


class Closure:
    """Watches the import closure; `changed()` says what changed since `watch` (empty: nothing)."""

    def __init__(self) -> None:
        self.fd = -1
        self.folders: dict[int, str] = {}  # by watch descriptor
        self.stamp: list[tuple[str, int, int]] | None = None  # the fallback, without inotify
        self.found = ""  # what changed, once seen
        self.cost = 0.0  # seconds to set up the watches

    def watch(self, imports_began: float) -> None:
        """Watch the folders of everything imported by now; `imports_began` (time.time()) is when importing
        started: a module file changed since then may have been imported before or after its change."""
        began = time.monotonic()
        folders, files = closure()
        try:
            self._inotify(folders)
        except OSError:
            self.close()
            self.stamp = _folder_stamp(folders)
        self.found = _changed_since(files, imports_began)
        self.cost = time.monotonic() - began

    def _inotify(self, folders: list[str]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for folder in folders:
            wd = libc.inotify_add_watch(self.fd, os.fsencode(folder), MASK)
            if wd >= 0:
                self.folders[wd] = folder
                continue
            code = ctypes.get_errno()
            if code not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):  # ENOSPC: the watches are used up
                raise OSError(code, f"inotify_add_watch {folder}")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.folders = -1, {}

    def changed(self) -> str:
        """What changed in the import closure since it was watched ("" if nothing)."""
        if self.found:
            return self.found
        if self.fd >= 0:
            self.found = self._events()
        elif self.stamp is not None and _folder_stamp([f for f, _, _ in self.stamp]) != self.stamp:
            self.found = "a folder of its libraries changed"
        return self.found

    def _events(self) -> str:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return ""
            offset = 0
            while offset + EVENT.size <= len(data):
                wd, mask, _cookie, size = EVENT.unpack_from(data, offset)
                name = data[offset + EVENT.size : offset + EVENT.size + size].rstrip(b"\0").decode(errors="replace")
                offset += EVENT.size + size
                if mask & IN_Q_OVERFLOW:
                    return "many files of its libraries changed"
                if name == BYTECODE or name.endswith(".pyc"):
                    continue
                if wd in self.folders:
                    return f"{os.path.join(self.folders[wd], name)} changed"


def _changed_since(files: list[str], since: float) -> str:
    since_ns = int((since - CLOCK_SLACK) * 1e9)
    for file in files:
        try:
            changed_at = os.stat(file).st_ctime_ns
        except OSError:
            return f"{file} is gone"
        if changed_at >= since_ns:
            return f"{file} changed while the warm process imported it"
    return ""
