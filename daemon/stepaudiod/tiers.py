"""The tiers a model variant moves through (DESIGN.md §5): unloaded → loading → loaded ⇄ offloaded,
and unloading on the way down. Values are the strings `status` shows."""
from __future__ import annotations

from enum import Enum


class Tier(str, Enum):
    UNLOADED = "unloaded"      # no worker
    LOADING = "loading"        # a worker is starting or reading weights
    LOADED = "loaded"          # weights on the device, ready for jobs
    OFFLOADED = "offloaded"    # weights in CPU RAM, the worker alive (fast to resume)
    UNLOADING = "unloading"    # the worker is being stopped

    @property
    def warm(self) -> bool:
        """A worker holds the weights (loaded or offloaded)."""
        return self in (Tier.LOADED, Tier.OFFLOADED)
