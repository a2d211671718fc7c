"""One recorder per process, and a SIGTERM that loses nothing.

The apps call `start_recording()` once at startup: it makes the process's `Recorder` for
``DATABASE_URL`` (or `url`), starts it, and from the main thread installs the SIGTERM handler;
later calls return the same recorder. Interpreter exit closes it (the recorder's ``atexit``
hook), which flushes every queued event.

SIGTERM's default action kills the process without running ``atexit``, so
`install_signal_handlers` replaces it: the handler flushes the recorder, then hands the signal
to whatever handled it before (a framework's graceful shutdown), or, if that was the default
action, restores it and re-sends the signal, so the process still ends as killed by SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any, Final

from persistence.engine import database_url, display_url
from persistence.recorder import Recorder

__all__ = ["current_recorder", "install_signal_handlers", "start_recording"]

_logger = logging.getLogger(__name__)

SIGNAL_STALL_S: Final = 5.0
"""On a signal, how long the database may store nothing before what is left is spilled."""

_lock = threading.Lock()
_recorder: Recorder | None = None


def install_signal_handlers(
    recorder: Recorder,
    signals: Iterable[signal.Signals] = (signal.SIGTERM,),
    *,
    stall_s: float = SIGNAL_STALL_S,
) -> None:
    """On each of `signals`, store what `recorder` holds, then chain to the old handler.

    Storing goes on for as long as the database takes records (no cap: a backlog of tens of
    thousands of events is stored in full); if it stores nothing for `stall_s` (it is away),
    the recorder is closed and what is left goes to a spill file, which the next recorder on
    that database stores. The log says which happened.

    Must be called from the main thread (Python only lets it set signal handlers); raises
    `RuntimeError` otherwise.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_signal_handlers must be called from the main thread")
    for signum in signals:
        previous = signal.getsignal(signum)
        signal.signal(signum, _make_handler(recorder, previous, stall_s))


def _make_handler(recorder: Recorder, previous: Any, stall_s: float) -> Any:
    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if recorder.drain(stall_s=stall_s):
            _logger.info("signal %s: every recorded event is stored", name)
        else:  # the database is away: keep the rest in a spill file (closing says where)
            recorder.close(stall_s=0)
            _logger.error("signal %s: events not stored yet were spilled (see above)", name)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL, or a handler not installed from Python
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return handle


def current_recorder() -> Recorder | None:
    """The process's recorder if one is running (never starts one)."""
    recorder = _recorder
    return recorder if recorder is not None and recorder.running else None


def start_recording(url: str | None = None, *, install_signals: bool = True) -> Recorder:
    """The process's recorder, started; the same one on every call while it runs.

    `url` defaults to ``DATABASE_URL``. With `install_signals`, the SIGTERM handler is
    installed when called from the main thread (elsewhere, e.g. in a Streamlit script thread,
    it is skipped: shutdown then relies on ``atexit``).
    """
    global _recorder
    with _lock:
        if _recorder is not None and _recorder.running:
            wanted = url or database_url()
            if display_url(wanted) != display_url(_recorder.engine):
                _logger.warning(
                    "start_recording(%s): already recording to %s; keeping that",
                    display_url(wanted),
                    display_url(_recorder.engine),
                )
            return _recorder
        recorder = Recorder(url)
        recorder.start()
        _recorder = recorder
    if install_signals and threading.current_thread() is threading.main_thread():
        install_signal_handlers(recorder)
    return recorder
