"""Features: the log-mel extractor, exact mergeable mel statistics, the dataset's stats."""

from voxlake.features.mel import MelConfig, log_mel
from voxlake.features.stats import FinalStats, MelStats, MelSums, WelfordStats

__all__ = ["FinalStats", "MelConfig", "MelStats", "MelSums", "WelfordStats", "log_mel"]
