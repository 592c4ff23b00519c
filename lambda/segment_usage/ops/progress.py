"""Progress of a long operator command on a text stream (stderr): ``ops/backfill.py``'s."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """Progress on a text stream (stderr): a bar redrawn in place on a terminal, plain lines
    otherwise. ``update`` is cheap to call per line: it draws only when enough time passed."""

    TTY_EVERY = 0.25  # seconds between redraws on a terminal (a few a second)
    PLAIN_EVERY = 10.0  # seconds between plain lines (a log, a CI job)

    def __init__(self, stream: TextIO | None, what: str, total: int, verb: str) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.what = what  # "files" or "partitions"
        self.total = total
        self.verb = verb
        self.started = time.monotonic()
        self.drawn: float | None = None

    def line(self, done: int, messages: int, share: float) -> str:
        """``share``: the fraction of the work done (0..1), from which the ETA is extrapolated."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        share = min(max(share, 0.0), 1.0)
        eta = elapsed * (1 - share) / share if share > 0 else None
        eta_text = "--:--:--" if eta is None else time.strftime("%H:%M:%S", time.gmtime(round(eta)))
        return (
            f"[{'#' * int(share * 24):<24}] {self.verb} {done}/{self.total} {self.what}  "
            f"{messages:,} messages  {messages / elapsed:,.0f}/s  ETA {eta_text}"
        )

    def update(self, done: int, messages: int, share: float, final: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        every = self.TTY_EVERY if self.tty else self.PLAIN_EVERY
        if not final and self.drawn is not None and now - self.drawn < every:
            return
        self.drawn = now
        text = self.line(done, messages, share)
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
