"""Reading local files a user names: bounded in size, regular files only.

Every file evalbot reads from the workspace or the runner (experiment and
history files, the config file, the event payload, templates' source) may be
hostile or mistaken: a FIFO without a writer makes ``open`` wait forever, a
device such as ``/dev/zero`` never ends, and a huge file would be read whole
into memory. One reader refuses all three, with one line naming the file.
"""

from __future__ import annotations

import os
import stat

from evalbot.errors import InputError


def _size_text(limit: int) -> str:
    return f"{limit // 2**20:,} MiB" if limit % 2**20 == 0 else f"{limit:,} bytes"


def read_limited(path: str | os.PathLike[str], *, limit: int, kind: str = "file") -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; else InputError.

    Opened non-blocking and checked to be a regular file before any read, and
    never more than ``limit`` + 1 bytes read (a file growing while it is read
    reports a stale size). Messages start with the path and name the ``kind``
    of file: "<path>: cannot read config file: …", "<path>: file too large
    (N bytes); the limit is 256 MiB".
    """
    source = os.fspath(path)
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise InputError(f"{source}: cannot read {kind}: Is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"{source}: cannot read {kind}: not a regular file")
            if info.st_size > limit:
                raise InputError(
                    f"{source}: {kind} too large ({info.st_size:,} bytes); "
                    f"the limit is {_size_text(limit)}"
                )
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{source}: cannot read {kind}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(f"{source}: {kind} too large; the limit is {_size_text(limit)}")
    return data


def read_limited_text(path: str | os.PathLike[str], *, limit: int, kind: str = "file") -> str:
    """:func:`read_limited`, decoded as UTF-8 (a leading byte order mark is dropped)."""
    data = read_limited(path, limit=limit, kind=kind)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{os.fspath(path)}: {kind} is not valid UTF-8 (byte {exc.start})"
        ) from None
