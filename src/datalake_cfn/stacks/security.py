"""The security template (security account): audit bucket with Object Lock, Macie, alarm topic, dashboard."""

from __future__ import annotations

from troposphere import Template

from datalake_cfn.config import LakeConfig
from datalake_cfn.stacks import params, security_account
from datalake_cfn.stacks.base import LakeTemplate


def build_security(config: LakeConfig) -> Template:
    lake = LakeTemplate.new(
        config, f"datalake-cfn {config.lake}: audit trail bucket, Macie, alarm topic and dashboard (security account)"
    )
    params.add_security_parameters(lake)
    security_account.add_security_account(lake)
    return lake.template
