"""The open sessions, one per browser tab: capped in number, expired when idle."""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

from .session import Session


class SessionExpired(KeyError):
    """The tab's session is gone (expired, evicted, or the server restarted): the page starts a new one."""


class SessionStore:
    """At most ``max_sessions`` sessions; one idle for ``ttl_s`` seconds expires; a new one evicts the least recent.

    Session ids are random (``secrets``): one tab cannot guess another's.
    """

    def __init__(self, max_sessions: int = 16, ttl_s: float = 1800.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_sessions < 1 or ttl_s <= 0:
            raise ValueError(f"max_sessions must be >= 1 and ttl_s > 0; got {max_sessions}, {ttl_s}")
        self.max_sessions, self.ttl_s, self.clock = max_sessions, ttl_s, clock
        self._sessions: OrderedDict[str, tuple[Session, float]] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    def add(self, session: Session) -> str:
        with self._lock:
            self._expire()
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
            sid = secrets.token_urlsafe(16)
            self._sessions[sid] = (session, self.clock())
            return sid

    def get(self, sid: object) -> Session:
        with self._lock:
            self._expire()
            if not isinstance(sid, str) or sid not in self._sessions:
                raise SessionExpired("this playground session has ended (idle too long, too many tabs, or the "
                                     "server restarted); the page starts a new one from its link")
            session, _ = self._sessions.pop(sid)
            self._sessions[sid] = (session, self.clock())
            return session

    def _expire(self) -> None:
        now = self.clock()
        for sid in [sid for sid, (_, seen) in self._sessions.items() if now - seen > self.ttl_s]:
            del self._sessions[sid]
