"""The lake's VPC: public, private and data subnets, and the endpoints that replace a NAT.

Consumers run in the private subnets, which have no route to the internet at all: S3 and
DynamoDB are reached through gateway endpoints attached to the private route tables only, and
SQS, KMS, Glue, CloudWatch Logs and STS through interface endpoints (private DNS on). The data
subnets are isolated too, and carry no endpoint routes: they are for data stores' interfaces.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from datalake_cfn.config import Network
from datalake_cfn.infra.nag import COMPLIANCE_PACKS, acknowledge, acknowledge_inline_policy
from datalake_cfn.naming import LakeNames

PUBLIC, PRIVATE, DATA = "public", "private", "data"
INTERFACE_SERVICES = {
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
}


class LakeNetwork(Construct):
    """The VPC, its endpoints, the consumers' security group and the VPC flow logs."""

    def __init__(
        self, scope: Construct, construct_id: str, *, network: Network, names: LakeNames, logs_key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(network.cidr),
            availability_zones=stack.availability_zones[: network.max_azs],
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=network.subnet_mask),
                ec2.SubnetConfiguration(
                    name=PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=network.subnet_mask
                ),
                ec2.SubnetConfiguration(
                    name=DATA, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=network.subnet_mask
                ),
            ],
            # Closing the default security group needs a custom-resource Lambda; nothing uses it instead.
            restrict_default_security_group=False,
            enable_dns_hostnames=True,
            enable_dns_support=True,
        )
        for subnet in self.vpc.public_subnets:
            # Public subnets host nothing today (no NAT, no load balancer): never hand out public IPs.
            cfn_subnet: ec2.CfnSubnet = subnet.node.default_child  # type: ignore[assignment]
            cfn_subnet.map_public_ip_on_launch = False
            acknowledge(
                subnet,
                [f"{pack}-VPCNoUnrestrictedRouteToIGW" for pack in COMPLIANCE_PACKS],
                f"{subnet.node.id} is a public subnet by design (where a NAT gateway or an internet-facing load "
                "balancer would go); nothing of the lake runs in it, and the private and data subnets, where the "
                "consumers and data interfaces live, have no route to the internet gateway at all.",
            )
        acknowledge(
            self.vpc,
            [
                "NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
                "HIPAA.Security-VPCDefaultSecurityGroupClosed",
                "PCI.DSS.321-VPCDefaultSecurityGroupClosed",
            ],
            "The lake VPC's default security group is attached to nothing (consumers and endpoints use their own "
            "groups); closing it needs CDK's custom-resource Lambda, which this project does not deploy.",
        )
        self.private_subnets = ec2.SubnetSelection(subnet_group_name=PRIVATE)
        self.data_subnets = ec2.SubnetSelection(subnet_group_name=DATA)
        self._dhcp_options(stack.region)
        self._flow_logs(names, logs_key)

        self.consumer_security_group = ec2.SecurityGroup(
            self,
            "ConsumerSecurityGroup",
            vpc=self.vpc,
            description="Zone consumers: HTTPS out to the VPC endpoints and the S3/DynamoDB gateway endpoints only",
            allow_all_outbound=False,
        )
        # The private subnets have no internet route, so HTTPS "anywhere" only reaches the endpoints
        # (gateway endpoints are prefix lists whose ids differ per region and are not known at synth).
        self.consumer_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the S3/DynamoDB gateway and interface endpoints"
        )
        endpoint_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS in from the zone consumers only",
            allow_all_outbound=False,
        )
        endpoint_group.add_ingress_rule(self.consumer_security_group, ec2.Port.tcp(443), "HTTPS from consumers")
        self.endpoint_security_group = endpoint_group

        self.gateway_endpoints = {
            "S3": self.vpc.add_gateway_endpoint(
                "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.private_subnets]
            ),
            "DynamoDb": self.vpc.add_gateway_endpoint(
                "DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.private_subnets]
            ),
        }
        self.interface_endpoints = {
            name: self.vpc.add_interface_endpoint(
                f"{name}Endpoint",
                service=service,
                subnets=self.private_subnets,
                private_dns_enabled=True,
                security_groups=[endpoint_group],
                open=False,
            )
            for name, service in INTERFACE_SERVICES.items()
        }

    def _dhcp_options(self, region: str) -> None:
        """Outside us-east-1 the instance domain is `<region>.compute.internal` (us-east-1 uses ec2.internal)."""
        if region == "us-east-1":
            return
        options = ec2.CfnDHCPOptions(
            self,
            "DhcpOptions",
            domain_name=f"{region}.compute.internal",
            domain_name_servers=["AmazonProvidedDNS"],
        )
        ec2.CfnVPCDHCPOptionsAssociation(
            self, "DhcpOptionsAssociation", dhcp_options_id=options.ref, vpc_id=self.vpc.vpc_id
        )

    def _flow_logs(self, names: LakeNames, logs_key: kms.IKey) -> None:
        group = logs.LogGroup(
            self,
            "FlowLogGroup",
            log_group_name=names.log_group("vpc-flow-logs"),
            encryption_key=logs_key,
            retention=logs.RetentionDays.ONE_YEAR,
        )
        role = iam.Role(
            self,
            "FlowLogRole",
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
            description="Lets VPC Flow Logs write the lake VPC's flow records into its log group",
        )
        acknowledge_inline_policy(
            role, "The flow-log role's only policy writes the lake VPC's flow-log group; it has no other use."
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(group, role),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
