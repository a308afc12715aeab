"""What both command lines (``counterfact`` and ``rome``) share: checked option types and
one error style.

Option types (for ``add_argument(type=...)``) refuse bad numbers and names where they
enter, so argparse prints ``<prog>: error: argument --limit: must be >= 0, got -1`` and
exits with code 2 before anything runs.

:func:`run_main` runs a command body and turns exceptions into one line on stderr:

* bad input (:class:`counterfact.errors.BadInputError` and its subclasses such as
  ``DataError``, and atomicio's ``UnsafeNameError`` / ``CorruptFileError``): the message,
  which names the file, record and field, exit code 2;
* anything else: the exception type and message plus ``(run with --debug for the
  traceback)``, exit code 1;
* with ``--debug`` (or ``ROME_DEBUG=1``) the traceback is printed as well.

``--stdout-file FILE`` writes what the command printed on stdout to ``FILE`` atomically,
only when it succeeds, so a killed or failed step leaves no empty marker file behind.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import traceback
from collections.abc import Callable, Sequence


def _int(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (counts, budgets, batch sizes, steps)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (offsets such as ``--start``, limits where 0 means none)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def plain_name(text: str) -> str:
    """A name that becomes part of a file name (a run name, a figure prefix): letters,
    digits, ``_ . -`` only, not ``.`` or ``..``; the empty string is allowed."""
    from atomicio import UnsafeNameError, check_plain_name

    if text == "":
        return text
    try:
        return check_plain_name(text, "name")
    except UnsafeNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def bad_input_types() -> tuple[type[Exception], ...]:
    from atomicio import CorruptFileError, UnsafeNameError

    from .errors import BadInputError

    return (BadInputError, UnsafeNameError, CorruptFileError)


def pop_global_flags(argv: Sequence[str]) -> tuple[list[str], bool, str | None]:
    """``argv`` without ``--debug`` and ``--stdout-file FILE`` (accepted anywhere), the
    debug flag and the stdout file."""
    rest: list[str] = []
    debug = os.environ.get("ROME_DEBUG", "") not in ("", "0")
    stdout_file = None
    it = iter(argv)
    for a in it:
        if a == "--debug":
            debug = True
        elif a == "--stdout-file":
            stdout_file = next(it, None)
            if not stdout_file:
                raise SystemExit("error: --stdout-file needs a file name")
        elif a.startswith("--stdout-file="):
            stdout_file = a.split("=", 1)[1]
        else:
            rest.append(a)
    return rest, debug, stdout_file


def run_main(prog: str, body: Callable[[], int], debug: bool = False, stdout_file: str | None = None) -> int:
    """Run ``body()`` with the shared error style (module docstring); return the exit code."""
    buffer = io.StringIO() if stdout_file else None
    try:
        with (contextlib.redirect_stdout(buffer) if buffer is not None else contextlib.nullcontext()):
            code = int(body() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except bad_input_types() as exc:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the one place every other failure ends up
        if debug:
            traceback.print_exc()
            print(f"{prog}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"{prog}: error: {type(exc).__name__}: {first} (run with --debug for the traceback)",
                  file=sys.stderr)
        return 1
    if buffer is not None:
        from atomicio import atomic_write_text

        assert stdout_file is not None  # the buffer exists only when there is a file
        if code == 0:
            atomic_write_text(stdout_file, buffer.getvalue())
    return code
