"""The prod stack (prod account): network, zones, pipeline, DLQ, catalog, personas, trail, alarms.

Built in two passes. First every resource is created (keys, buckets, queues, roles). Then the
access policies, which name resources across the whole lake (a zone's key policy names the
consumers of the zone before it, the crawler, the Glue job role, the personas), are attached from
:mod:`datalake_cfn.access.policies`. Construct ids derive from zone and dataset names only, so adding
a zone or a dataset adds resources and never renames (replaces) an existing one.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Environment, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from datalake_cfn.access import policies
from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.infra.access import LakeAccess
from datalake_cfn.infra.assets import ConsumerBundle
from datalake_cfn.infra.audit import AuditTrail
from datalake_cfn.infra.buckets import access_log_bucket
from datalake_cfn.infra.catalog import Catalog
from datalake_cfn.infra.deployment import Deployment
from datalake_cfn.infra.keys import allow_service, lake_key
from datalake_cfn.infra.monitoring import MetricsSharingRole, PipelineAlarms
from datalake_cfn.infra.network import LakeNetwork
from datalake_cfn.infra.personas import PersonaRoles
from datalake_cfn.infra.pipeline import DeadLetterQueue, ZoneConsumer, pipeline_role
from datalake_cfn.infra.zone import ZoneResources, construct_id
from datalake_cfn.routing import consumer_spec

LAKE_TAG = "datalake:lake"
ZONE_TAG = "datalake:zone"


class ProdStack(Stack):
    """Everything of the lake that lives in the prod account."""

    def __init__(
        self, scope: Construct, deployment: Deployment, *, bundle: ConsumerBundle, job_scripts: list[Path]
    ) -> None:
        names = deployment.names
        config = deployment.config
        super().__init__(
            scope,
            names.prod_stack,
            stack_name=names.prod_stack,
            env=Environment(account=deployment.prod_account, region=deployment.region),
            description=f"datalake {config.lake}: zones, event pipeline, catalog, personas and alarms",
            termination_protection=True,
            # Compact JSON: a 12-zone lake's template stays well under CloudFormation's 1 MB.
            suppress_template_indentation=True,
        )
        Tags.of(self).add(LAKE_TAG, config.lake)
        self.deployment = deployment
        blueprint = lake_blueprint(config, names)

        # -- pass 1: resources -----------------------------------------------------------------
        self.logs_key = lake_key(
            self,
            "OpsKey",
            alias=names.ops_key_alias,
            description=f"Encrypts the {config.lake} lake's operational logs and Glue scratch space",
            via_services=["logs", "glue", "s3"],
        )
        allow_service(
            self.logs_key,
            "CloudWatchLogsEncryptsLakeLogs",
            f"logs.{deployment.region}.amazonaws.com",
            ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            extra_conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{deployment.partition}:logs:{deployment.region}:{deployment.prod_account}:log-group:*"
                    )
                }
            },
        )
        self.access_logs = access_log_bucket(self, "AccessLogs", name=names.access_log_bucket)
        self.network = LakeNetwork(self, "Network", network=config.network, names=names, logs_key=self.logs_key)
        self.dead_letter = DeadLetterQueue(self, "DeadLetter", blueprint=blueprint.dead_letter, lake=config.lake)

        self.zones: dict[str, ZoneResources] = {}
        for bucket in blueprint.buckets:
            zone = ZoneResources(
                self,
                f"Zone{construct_id(bucket.zone)}",
                deployment=deployment,
                bucket=bucket,
                queues=[q for q in blueprint.queues if q.zone == bucket.zone],
                notifications=[n for n in blueprint.notifications if n.zone == bucket.zone],
                dead_letter_queue=self.dead_letter.queue,
                access_logs=self.access_logs,
            )
            Tags.of(zone).add(ZONE_TAG, bucket.zone)
            self.zones[bucket.zone] = zone

        self.pipeline_roles: dict[str, iam.Role] = {
            zone.name: pipeline_role(
                self.zones[zone.name],
                "PipelineRole",
                role_name=names.service_role_name(policies.pipeline_principal(zone.name)),
                zone=zone.name,
                target=zone.next or "",
                buckets=[names.bucket(zone.name), names.bucket(zone.next or "")],
            )
            for zone in config.chained_zones
        }
        self.personas = PersonaRoles(self, "Personas", config=config, names=names)
        self.catalog = Catalog(
            self,
            "Catalog",
            config=config,
            names=names,
            zones=self.zones,
            logs_key=self.logs_key,
            access_logs=self.access_logs,
            job_scripts=job_scripts,
        )

        # -- pass 2: access, then the consumers that rely on it ----------------------------------
        access = LakeAccess(
            deployment,
            key_arn=lambda zone: self.zones[zone].key.key_arn,
            role_arn=self.principal_arn,
            dlq_key_arn=self.dead_letter.key.key_arn,
            bucket_ref=lambda zone: self.zones[zone].bucket.bucket_arn,
        )
        for name, zone in self.zones.items():
            for statement in access.zone_bucket_statements(name):
                zone.bucket.add_to_resource_policy(statement)
            for statement in access.zone_key_statements(name):
                zone.key.add_to_resource_policy(statement)
        for zone_name, role in self.pipeline_roles.items():
            queue_names = [r.queue_name for r in blueprint.routes if r.zone.name == zone_name and r.has_consumer]
            for statement in access.pipeline_statements(zone_name, queue_names):
                role.add_to_policy(statement)
        self.catalog.attach_access(access)
        self.personas.attach_policies(access)
        self._service_keys_for_personas()

        self.consumers: dict[str, ZoneConsumer] = {}
        for route in blueprint.routes:
            if not route.has_consumer:
                continue
            zone = self.zones[route.zone.name]
            target = self.zones[route.zone.next or ""]
            spec = consumer_spec(
                config,
                names,
                route,
                dlq_url=self.dead_letter.queue.queue_url,
                target_kms_key_id=target.key.key_arn,
            )
            self.consumers[route.queue_name] = ZoneConsumer(
                zone,
                "Consumer" + ("" if route.dataset is None else construct_id(route.dataset)),
                route=route,
                function_name=names.consumer_function(route.zone.name, route.dataset),
                log_group_name=names.consumer_log_group(route.zone.name, route.dataset),
                spec_json=spec.to_json(),
                queue=zone.queues[route.queue_name],
                role=self.pipeline_roles[route.zone.name],
                dead_letter=self.dead_letter,
                vpc=self.network.vpc,
                subnets=self.network.private_subnets,
                security_group=self.network.consumer_security_group,
                logs_key=self.logs_key,
                bundle=bundle,
                pipeline=config.pipeline,
                region=deployment.region,
            )

        self.trail = AuditTrail(
            self,
            "AuditTrail",
            deployment=deployment,
            zone_buckets=[zone.bucket_name for zone in self.zones.values()],
            logs_key=self.logs_key,
        )
        self.alarms = PipelineAlarms(self, "Alarms", deployment=deployment, dlq=self.dead_letter.queue)
        self.metrics_sharing = MetricsSharingRole(self, "MetricsSharing", deployment=deployment)
        self._outputs()

    @property
    def availability_zones(self) -> list[str]:
        """The first `network.max_azs` AZs of the region, resolved by CloudFormation (Fn::GetAZs).

        CDK's default for an environment-specific stack is a context lookup with the account's
        credentials at synth time; `datalake synth` must work without any.
        """
        count = self.deployment.config.network.max_azs
        return [Fn.select(i, Fn.get_azs(self.region)) for i in range(count)]

    # -- principals --------------------------------------------------------------------------------
    def principal_arn(self, principal: str) -> str:
        """`LakeArns.role_arn`: a principal key of datalake_cfn.access.policies -> the role's ARN token."""
        if principal in self.personas.roles:
            return self.personas.roles[principal].role_arn
        if principal == policies.CRAWLER:
            return self.catalog.crawler_role.role_arn
        if principal == policies.GLUE_JOB:
            return self.catalog.job_role.role_arn
        if principal.startswith(policies.PIPELINE_PREFIX):
            zone = principal.removeprefix(policies.PIPELINE_PREFIX)
            if zone in self.pipeline_roles:
                return self.pipeline_roles[zone].role_arn
        raise KeyError(f"the prod stack has no role for principal {principal!r}")

    def _service_keys_for_personas(self) -> None:
        """The Athena results key and the Glue bucket's key, for the personas that use them.

        The persona identity policies grant the Athena results prefix and the Glue scripts prefix but
        no key; these key-policy grants (through S3, for that one bucket) complete them. The bucket
        ARNs are computed, not referenced: each bucket already references its key.
        """
        via_s3 = f"s3.{self.deployment.region}.amazonaws.com"
        partition = self.deployment.partition
        grants = [
            (
                self.catalog.athena_key,
                f"arn:{partition}:s3:::{self.deployment.names.athena_results_bucket}",
                list(self.personas.roles),
                "Athena",
            ),
            (
                self.logs_key,
                f"arn:{partition}:s3:::{self.deployment.names.glue_assets_bucket}",
                [k for k in self.personas.roles if not k.startswith("analyst")],
                "GlueBucket",
            ),
        ]
        for key, bucket_arn, principals, label in grants:
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Personas{label}ViaS3",
                    principals=[iam.ArnPrincipal(self.personas.roles[p].role_arn) for p in principals],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:ViaService": via_s3},
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
                    },
                )
            )

    def _outputs(self) -> None:
        for name, zone in self.zones.items():
            CfnOutput(self, f"Bucket{construct_id(name)}", value=zone.bucket.bucket_name, description=f"Zone {name}")
            for queue_name, queue in zone.queues.items():
                CfnOutput(self, f"QueueUrl{construct_id(queue_name)}", value=queue.queue_url, description=queue_name)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.dead_letter.queue.queue_url)
        for key, role in self.personas.roles.items():
            CfnOutput(self, f"RoleArn{construct_id(key)}", value=role.role_arn, description=f"Persona {key}")
        for zone_name, role in self.pipeline_roles.items():
            CfnOutput(self, f"PipelineRoleArn{construct_id(zone_name)}", value=role.role_arn)
        CfnOutput(self, "CrawlerRoleArn", value=self.catalog.crawler_role.role_arn)
        CfnOutput(self, "GlueJobRoleArn", value=self.catalog.job_role.role_arn)
