"""What every command shares: the global options and the lake they point at."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from zonelake.config import LakeConfig, load_config
from zonelake.naming import LakeNames


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


@dataclass
class CliState:
    config_path: str = "lake.yaml"
    data_dir: str = ".zonelake"
    persona: str | None = None
    clearance: str | None = None
    _config: LakeConfig | None = field(default=None, repr=False)

    @cached_property
    def config(self) -> LakeConfig:
        return self._config or load_config(self.config_path)

    @property
    def names(self) -> LakeNames:
        return LakeNames.for_config(self.config)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)
