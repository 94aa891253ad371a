"""What every command shares: the global options and the lake they point at."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from datalake_cfn.naming import LakeNames

if TYPE_CHECKING:
    from datalake_cfn.config import LakeConfig
    from datalake_cfn.local.connection import LakeConnection


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback, exit status `exit_code`.

    Exit statuses (README, "Exit codes"): 0 success, 1 a check found a problem, 2 usage or
    configuration error, 3 access denied, 4 the lake or AWS unreachable or failed.
    """

    exit_code = 2


class LakeUnavailable(UserError):
    """The lake (local or AWS) cannot be reached or failed the request: exit status 4."""

    exit_code = 4


@dataclass
class CliState:
    config_path: str = "lake.yaml"
    data_dir: str = ".datalake"
    persona: str | None = None
    clearance: str | None = None
    _config: LakeConfig | None = field(default=None, repr=False)

    @cached_property
    def config(self) -> LakeConfig:
        """lake.yaml, loaded once; its directory goes first on the import path for user transforms."""
        if self._config is not None:
            return self._config
        from datalake_cfn.config import load_config  # pydantic: loaded by the commands that read lake.yaml

        config = load_config(self.config_path)
        from datalake_cfn.transforms_check import add_transform_path

        add_transform_path(self.config_path)  # every command finds transform modules the same way
        return config

    def check_transforms(self) -> None:
        """Every user transform importable and callable, or a ConfigError naming the lake.yaml field."""
        from datalake_cfn.transforms_check import check_transforms

        check_transforms(self.config, self.config_path, self.config_path if self._config is None else None)

    @property
    def names(self) -> LakeNames:
        return LakeNames.for_config(self.config)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def running_endpoint(self, aws_hint: bool = False) -> str:
        """The endpoint of the lake `datalake up` runs for this data directory, or a UserError saying how to start one.

        Every command that talks to the local lake goes through here, so they all fail the same
        readable way when nothing is running (`aws_hint` adds the --aws alternative where it exists).
        """
        from datalake_cfn.local.lake import running_endpoint

        endpoint = running_endpoint(self.data_path)
        if endpoint is None:
            alternative = " (or pass --aws to use the deployed lake)" if aws_hint else ""
            raise LakeUnavailable(
                f"no local lake is running for data directory {self.data_dir!r}: "
                f"start one with `datalake up` in another terminal{alternative}"
            )
        return endpoint

    def connect(self, aws_hint: bool = False) -> LakeConnection:
        """A connection to the running local lake (see `running_endpoint`)."""
        from datalake_cfn.local.connection import LakeConnection

        config = self.config  # a broken lake.yaml is the first thing to report
        return LakeConnection(config, self.running_endpoint(aws_hint))
