"""User mistakes become one clear message on stderr and exit code 2; bugs keep their traceback."""
from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

EXIT_USER = 2
"""Exit code for a user mistake (bad flag, missing file, mismatched model): argparse's own code."""


REFUSED_WRITES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM,
                            errno.EIO})
"""OSErrors that mean the system refused a file (full disk, quota, read-only, permission): exit 2, one line."""


class UserError(Exception):
    """A mistake the user can fix; ``main`` prints ``vecprop: error: <message>`` and returns ``code``.

    Parameters
    ----------
    message : what went wrong and, where known, how to fix it.
    code : the exit status (2 for user mistakes; 1 for failures outside the user's control,
        such as a dropped download).
    """

    def __init__(self, message: str, code: int = EXIT_USER) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def user_errors(context: str = "") -> Iterator[None]:
    """Turn the library's boundary errors (ValueError, TypeError, file errors) into UserError.

    Wrap only calls whose errors are caused by the user's input: loading data or a model file,
    building a network or optimizer from flags. ``context`` prefixes the message
    (``"--data"`` gives ``--data: <message>``).
    """
    prefix = f"{context}: " if context else ""
    try:
        yield
    except UserError:
        raise
    except FileNotFoundError as err:
        detail = f"no such file or folder: {err.filename}" if err.filename else str(err)
        raise UserError(prefix + detail) from None
    except IsADirectoryError as err:
        raise UserError(f"{prefix}{err.filename} is a folder, not a file" if err.filename else prefix + str(err)) from None
    except PermissionError as err:
        raise UserError(f"{prefix}permission denied: {err.filename}") from None
    except ImportError as err:
        raise UserError(f"{prefix}{err}") from None
    except (ValueError, TypeError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        raise UserError(f"{prefix}{message}") from None
