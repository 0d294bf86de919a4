"""How a step or a fan-out item is retried: exponential backoff, the same policy everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbos import StepOptions


@dataclass(frozen=True)
class Retry:
    """``attempts`` tries in all, waiting ``initial_seconds * backoff**n`` between them."""

    attempts: int = 3
    initial_seconds: float = 0.5
    backoff: float = 2.0
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"Retry.attempts must be >= 1, got {self.attempts}")
        if self.initial_seconds < 0 or self.backoff < 1 or self.max_seconds < 0:
            raise ValueError("Retry needs initial_seconds >= 0, backoff >= 1, max_seconds >= 0")

    def wait_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (the first is 1) before the next."""
        try:
            return min(self.initial_seconds * self.backoff ** (attempt - 1), self.max_seconds)
        except OverflowError:  # a backoff past float range waits the longest
            return self.max_seconds

    def dbos_options(self) -> StepOptions:
        return {
            "retries_allowed": self.attempts > 1,
            "max_attempts": self.attempts,
            "interval_seconds": self.initial_seconds,
            "backoff_rate": self.backoff,
        }


NO_RETRY = Retry(attempts=1)

DEFAULT_STEP_RETRY = Retry()
