"""A training stage's running loss, throughput, progress bar and periodic log."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

#: Steps between two entries of a stage's loss history (and, without a progress bar, log lines).
LOG_EVERY = 50


class Meter:
    """A stage's running loss (exponential average), throughput, progress bar and periodic log."""

    def __init__(
        self,
        arch: str,
        history: list[dict[str, Any]],
        start: int,
        total: int,
        log: Callable[[str], None],
        progress: bool,
    ) -> None:
        self.arch = arch
        self.history = history
        self.total = total
        self.log = log
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, desc=arch, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.loss = math.nan
        self.images = 0
        self.tick = time.perf_counter()

    def record(self, value: float, images: int, lr: float, done: int) -> None:
        """Count a step's loss ``value`` on ``images`` images at rate ``lr``; ``done`` steps are done."""
        self.loss = value if math.isnan(self.loss) else 0.95 * self.loss + 0.05 * value
        self.images += images
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{self.loss:.3f}", lr=f"{lr:.2g}", img_s=f"{self._rate():.1f}")
            self.bar.update(1)
        if done % LOG_EVERY == 0:
            self.history.append({"step": done, "loss": round(self.loss, 4)})
            if self.bar is None:
                self.log(
                    f"[{self.arch}] step {done}/{self.total}: "
                    f"loss {self.loss:.4f}, lr {lr:.3g}, {self._rate():.1f} img/s"
                )

    def close(self) -> None:
        """Close the progress bar."""
        if self.bar is not None:
            self.bar.close()

    def _rate(self) -> float:
        return self.images / max(time.perf_counter() - self.tick, 1e-9)
