"""The prod template (prod account): network, zones, pipeline, DLQ, catalog, personas, trail, alarms.

Composition only: each concern lives in its own module and adds its resources to the one
template. Policies that name resources across the lake (a zone's key policy names the consumers
of the zone before it, the crawler, the personas) come from :mod:`datalake_cfn.access.policies`
and reference roles and keys as `${LogicalId.Arn}`; roles carry no inline policy, their
policies are separate resources, so keys and roles never form a dependency cycle.
"""

from __future__ import annotations

from troposphere import Template

from datalake_cfn.config import LakeConfig
from datalake_cfn.stacks import audit, catalog, monitoring, network, params, personas, pipeline, zones
from datalake_cfn.stacks.base import LakeTemplate


def build_prod(config: LakeConfig) -> Template:
    lake = LakeTemplate.new(
        config, f"datalake-cfn {config.lake}: zones, event pipeline, catalog, personas and alarms (prod account)"
    )
    params.add_prod_parameters(lake)
    zones.add_shared_storage(lake)
    network.add_network(lake)
    pipeline.add_dead_letter_queue(lake)
    zones.add_zones(lake)
    pipeline.add_pipeline(lake)
    personas.add_personas(lake)
    catalog.add_catalog(lake)
    audit.add_trail(lake)
    monitoring.add_pipeline_alarms(lake)
    return lake.template
