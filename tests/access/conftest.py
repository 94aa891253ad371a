"""Lakes the access tests evaluate: the default four zones with datasets, in both clearance modes."""

from __future__ import annotations

import pytest

from datalake_cfn.access.matrix import PolicySet, local_policy_set
from datalake_cfn.config import LakeConfig, parse_config

DATASETS = [
    {"name": "sales", "classification": "internal"},
    {"name": "customers", "classification": "confidential"},
    {"name": "clickstream", "classification": "public", "own_queue": True},
]
ACME = {"lake": "acme", "datasets": DATASETS}
ACME_ROLES = {"lake": "acme", "datasets": DATASETS, "personas": {"clearance_mode": "roles"}}


@pytest.fixture(scope="session")
def acme_data() -> dict:
    """lake.yaml of the default lake (four zones) with three datasets, as plain data."""
    return ACME


@pytest.fixture(scope="session")
def acme() -> LakeConfig:
    return parse_config(ACME)


@pytest.fixture(scope="session")
def acme_roles() -> LakeConfig:
    return parse_config(ACME_ROLES)


@pytest.fixture(scope="session")
def local_policies(acme: LakeConfig) -> PolicySet:
    return local_policy_set(acme)
