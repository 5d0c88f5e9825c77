"""Signals our own code sends, for cross-cutting listeners (metrics) to hang off.

Senders never depend on a listener; listeners must log and swallow their own
failures (a signal's exception would reach the sender).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

stage_attempt_failed = _signals.signal("stage-attempt-failed")
"""Sent with the session as sender, and `stage` and `error` (a GenerationError), when a
stage attempt's failure is written (to be retried or final). Counted if it commits."""
