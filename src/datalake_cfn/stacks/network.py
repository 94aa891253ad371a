"""The lake's VPC: public, private and data subnets, and the endpoints that replace a NAT.

Consumers run in the private subnets, which have no route to the internet at all: S3 and
DynamoDB are reached through gateway endpoints attached to the private route tables only, and
SQS, KMS, Glue, CloudWatch Logs and STS through interface endpoints (private DNS on) that accept
HTTPS from the consumers' security group only. The data subnets are isolated too and carry no
endpoint routes: they are for data stores' interfaces. The public subnets exist so a NAT or a
load balancer has somewhere to go, but host nothing and hand out no public IPs.

Subnet CIDRs are computed here from `network.cidr` and `network.subnet_mask`, in the order CDK's
`ec2.Vpc` allocated them (every public subnet, then every private, then every data subnet), so
the blocks are the ones the CDK app deployed. AZs are `Fn::GetAZs` of the stack's region; which
region is only known at launch, so the DHCP options (outside us-east-1) hang on a Condition.

Logical ids derive from the tier name and the AZ's 1-based number, never from anything else:
:func:`subnet_ids` lets other modules compute them without the handles.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from troposphere import Equals, GetAtt, GetAZs, If, Not, Output, Ref, Select, Sub, Tags, ec2, iam
from troposphere import logs as cfn_logs

from datalake_cfn.access.policies import flow_log_delivery, flow_log_trust
from datalake_cfn.config import ConfigError, LakeConfig
from datalake_cfn.naming import LogicalIds, pascal
from datalake_cfn.stacks import outputs
from datalake_cfn.stacks.base import COMPLIANCE_PACKS, LAKE_TAG, LakeTemplate, cfn, nag_metadata

PUBLIC, PRIVATE, DATA = "public", "private", "data"
TIERS = (PUBLIC, PRIVATE, DATA)  # allocation order of the subnet blocks: do not reorder (it moves CIDRs)
SUBNET_TIER_TAG = "datalake:subnet-tier"

# -- logical ids (the VPC's own is LogicalIds.VPC, the consumers' group LogicalIds.CONSUMER_SECURITY_GROUP) --
INTERNET_GATEWAY = "VpcInternetGateway"
INTERNET_GATEWAY_ATTACHMENT = "VpcInternetGatewayAttachment"
ENDPOINT_SECURITY_GROUP = "VpcEndpointSecurityGroup"
ENDPOINT_INGRESS_FROM_CONSUMERS = "VpcEndpointSecurityGroupIngressFromConsumers"
DHCP_OPTIONS = "VpcDhcpOptions"
DHCP_OPTIONS_ASSOCIATION = "VpcDhcpOptionsAssociation"
FLOW_LOG_GROUP = "VpcFlowLogGroup"
FLOW_LOG_ROLE = "VpcFlowLogRole"
FLOW_LOG_POLICY = "VpcFlowLogRolePolicy"
FLOW_LOG = "VpcFlowLog"

# -- conditions ----------------------------------------------------------------------------------
NEEDS_DHCP_OPTIONS = "VpcNeedsRegionalDhcpOptions"  # not us-east-1: instance domain <region>.compute.internal
IN_CHINA = "VpcInChinaPartition"  # some interface endpoints are `cn.com.amazonaws.<region>.<service>` there

# Gateway endpoints: on the private route tables only (the data subnets get no route to anything).
GATEWAY_SERVICES = {"S3": "s3", "DynamoDb": "dynamodb"}
# Interface endpoints instead of a NAT: what a consumer (and the Glue/Logs/STS clients) must reach.
INTERFACE_SERVICES = {"Sqs": "sqs", "Kms": "kms", "Glue": "glue", "Logs": "logs", "Sts": "sts"}
# Services whose endpoint name in the China regions starts with `cn.com.amazonaws` (CDK's table, for these five).
CHINA_PREFIXED_SERVICES = frozenset({"sqs", "sts"})
FLOW_LOG_RETENTION_DAYS = 365


@dataclass(frozen=True)
class NetworkHandles:
    """Logical ids of what other modules attach to: `[Ref(i) for i in handles.private_subnets]`."""

    vpc: str
    public_subnets: list[str]
    private_subnets: list[str]
    data_subnets: list[str]
    consumer_security_group: str
    endpoint_security_group: str
    private_route_tables: list[str] = field(default_factory=list)


# -- ids other modules can compute -----------------------------------------------------------------
def subnet_id(tier: str, az: int) -> str:
    """`VpcPrivateSubnet1`: the tier and the AZ's 1-based number (AZ `az` of Fn::GetAZs)."""
    return f"Vpc{pascal(tier)}Subnet{az + 1}"


def subnet_ids(config: LakeConfig, tier: str) -> list[str]:
    return [subnet_id(tier, az) for az in range(config.network.max_azs)]


def private_subnet_ids(config: LakeConfig) -> list[str]:
    """Where the consumers run: the pipeline module puts its Lambdas' VpcConfig here."""
    return subnet_ids(config, PRIVATE)


def route_table_id(tier: str, az: int) -> str:
    return f"{subnet_id(tier, az)}RouteTable"


def route_table_association_id(tier: str, az: int) -> str:
    """`VpcPrivateSubnet1RouteTableAssociation`: until it exists the subnet has no gateway-endpoint route."""
    return f"{route_table_id(tier, az)}Association"


def private_route_table_association_ids(config: LakeConfig) -> list[str]:
    """What a consumer should wait for (DependsOn) so its first S3 call finds the gateway endpoint's route."""
    return [route_table_association_id(PRIVATE, az) for az in range(config.network.max_azs)]


def endpoint_id(name: str) -> str:
    return f"Vpc{name}Endpoint"


def subnet_cidrs(config: LakeConfig) -> dict[tuple[str, int], str]:
    """(tier, az) -> CIDR: consecutive `/subnet_mask` blocks of the VPC, tier by tier, as CDK allocated them."""
    network = config.network
    vpc = ipaddress.IPv4Network(network.cidr)
    needed = len(TIERS) * network.max_azs
    if network.subnet_mask < vpc.prefixlen or 2 ** (network.subnet_mask - vpc.prefixlen) < needed:
        raise ConfigError(
            "lake.yaml",
            [
                (
                    "network.subnet_mask",
                    f"{needed} subnets of /{network.subnet_mask} ({len(TIERS)} tiers x {network.max_azs} AZs) do not "
                    f"fit in {network.cidr}; use a larger subnet_mask, fewer max_azs or a larger cidr",
                )
            ],
        )
    blocks = vpc.subnets(new_prefix=network.subnet_mask)
    return {(tier, az): str(next(blocks)) for tier in TIERS for az in range(network.max_azs)}


# -- the template --------------------------------------------------------------------------------
def add_network(lake: LakeTemplate) -> NetworkHandles:
    """The VPC and everything in it; returns the ids the pipeline and the data stores attach to."""
    _conditions(lake)
    _vpc(lake)
    _subnets(lake)
    _security_groups(lake)
    _gateway_endpoints(lake)
    _interface_endpoints(lake)
    _dhcp_options(lake)
    _flow_logs(lake)
    lake.template.add_output(
        Output(
            outputs.VPC_ID, Description="The lake VPC (consumers run in its private subnets)", Value=Ref(LogicalIds.VPC)
        )
    )
    config = lake.config
    return NetworkHandles(
        vpc=LogicalIds.VPC,
        public_subnets=subnet_ids(config, PUBLIC),
        private_subnets=private_subnet_ids(config),
        data_subnets=subnet_ids(config, DATA),
        consumer_security_group=LogicalIds.CONSUMER_SECURITY_GROUP,
        endpoint_security_group=ENDPOINT_SECURITY_GROUP,
        private_route_tables=[route_table_id(PRIVATE, az) for az in range(config.network.max_azs)],
    )


def _tags(lake: LakeTemplate, name: str, **extra: str) -> Tags:
    return Tags({LAKE_TAG: lake.config.lake, "Name": f"{lake.config.lake}-{name}", **extra})


def _conditions(lake: LakeTemplate) -> None:
    lake.template.add_condition(NEEDS_DHCP_OPTIONS, Not(Equals(Ref("AWS::Region"), "us-east-1")))
    lake.template.add_condition(IN_CHINA, Equals(Ref("AWS::Partition"), "aws-cn"))


def _vpc(lake: LakeTemplate) -> None:
    lake.add(
        ec2.VPC(
            LogicalIds.VPC,
            CidrBlock=lake.config.network.cidr,
            EnableDnsHostnames=True,  # private DNS of the interface endpoints needs both
            EnableDnsSupport=True,
            InstanceTenancy="default",
            Tags=_tags(lake, "vpc"),
            Metadata=nag_metadata(
                *(
                    (
                        f"{pack}-VPCDefaultSecurityGroupClosed",
                        "The lake VPC's default security group is attached to nothing (consumers and endpoints use "
                        "their own groups); closing it needs a custom-resource Lambda, which this project does not "
                        "deploy.",
                    )
                    for pack in COMPLIANCE_PACKS
                )
            ),
        )
    )
    lake.add(ec2.InternetGateway(INTERNET_GATEWAY, Tags=_tags(lake, "igw")))
    lake.add(
        ec2.VPCGatewayAttachment(
            INTERNET_GATEWAY_ATTACHMENT, InternetGatewayId=Ref(INTERNET_GATEWAY), VpcId=Ref(LogicalIds.VPC)
        )
    )


def _subnets(lake: LakeTemplate) -> None:
    """One subnet and one route table per tier and AZ; only the public tables route to the internet."""
    cidrs = subnet_cidrs(lake.config)
    for (tier, az), cidr in cidrs.items():
        subnet, table = subnet_id(tier, az), route_table_id(tier, az)
        label = f"{tier}-{az + 1}"
        lake.add(
            ec2.Subnet(
                subnet,
                VpcId=Ref(LogicalIds.VPC),
                AvailabilityZone=Select(az, GetAZs("")),
                CidrBlock=cidr,
                # Nothing of the lake needs a public IP, not even in the public tier (no NAT, no load balancer).
                MapPublicIpOnLaunch=False,
                Tags=_tags(lake, label, **{SUBNET_TIER_TAG: tier}),
            )
        )
        lake.add(ec2.RouteTable(table, VpcId=Ref(LogicalIds.VPC), Tags=_tags(lake, label)))
        lake.add(
            ec2.SubnetRouteTableAssociation(
                route_table_association_id(tier, az), RouteTableId=Ref(table), SubnetId=Ref(subnet)
            )
        )
        if tier == PUBLIC:
            _internet_route(lake, subnet, table)


def _internet_route(lake: LakeTemplate, subnet: str, table: str) -> None:
    reason = (
        f"{subnet} is a public subnet by design (where a NAT gateway or an internet-facing load balancer would "
        "go); nothing of the lake runs in it, and the private and data subnets, where the consumers and data "
        "interfaces live, have no route to the internet gateway at all."
    )
    lake.add(
        ec2.Route(
            f"{subnet}DefaultRoute",
            DependsOn=[INTERNET_GATEWAY_ATTACHMENT],  # a route to a detached gateway fails
            RouteTableId=Ref(table),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(INTERNET_GATEWAY),
            Metadata=nag_metadata(*((f"{pack}-VPCNoUnrestrictedRouteToIGW", reason) for pack in COMPLIANCE_PACKS)),
        )
    )


def _security_groups(lake: LakeTemplate) -> None:
    """Consumers: HTTPS out only. Endpoints: HTTPS in from consumers only, nothing out."""
    lake.add(
        ec2.SecurityGroup(
            LogicalIds.CONSUMER_SECURITY_GROUP,
            GroupDescription=(
                "Zone consumers: HTTPS out to the VPC endpoints and the S3/DynamoDB gateway endpoints only"
            ),
            VpcId=Ref(LogicalIds.VPC),
            # The private subnets have no internet route, so HTTPS "anywhere" only reaches the endpoints
            # (gateway endpoints are prefix lists whose ids differ per region and are not known at render).
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to the S3/DynamoDB gateway and interface endpoints",
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                )
            ],
            Tags=_tags(lake, "consumers"),
        )
    )
    lake.add(
        ec2.SecurityGroup(
            ENDPOINT_SECURITY_GROUP,
            GroupDescription="Interface endpoints: HTTPS in from the zone consumers only",
            VpcId=Ref(LogicalIds.VPC),
            # Without an egress rule CloudFormation adds "all traffic out"; this impossible rule
            # (ICMP type 252 code 86 to the broadcast address) is how CDK says "nothing out".
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    CidrIp="255.255.255.255/32",
                    Description="Disallow all traffic",
                    IpProtocol="icmp",
                    FromPort=252,
                    ToPort=86,
                )
            ],
            Tags=_tags(lake, "endpoints"),
        )
    )
    lake.add(
        ec2.SecurityGroupIngress(
            ENDPOINT_INGRESS_FROM_CONSUMERS,
            GroupId=GetAtt(ENDPOINT_SECURITY_GROUP, "GroupId"),
            SourceSecurityGroupId=GetAtt(LogicalIds.CONSUMER_SECURITY_GROUP, "GroupId"),
            Description="HTTPS from consumers",
            IpProtocol="tcp",
            FromPort=443,
            ToPort=443,
        )
    )


def _gateway_endpoints(lake: LakeTemplate) -> None:
    private_tables = [Ref(route_table_id(PRIVATE, az)) for az in range(lake.config.network.max_azs)]
    for name, service in GATEWAY_SERVICES.items():
        lake.add(
            ec2.VPCEndpoint(
                endpoint_id(name),
                VpcId=Ref(LogicalIds.VPC),
                VpcEndpointType="Gateway",
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                RouteTableIds=private_tables,
                Tags=_tags(lake, f"{service}-endpoint"),
            )
        )


def _interface_service_name(service: str) -> Sub | If:
    name = Sub(f"com.amazonaws.${{AWS::Region}}.{service}")
    if service not in CHINA_PREFIXED_SERVICES:
        return name
    return If(IN_CHINA, Sub(f"cn.com.amazonaws.${{AWS::Region}}.{service}"), name)


def _interface_endpoints(lake: LakeTemplate) -> None:
    private = [Ref(subnet) for subnet in private_subnet_ids(lake.config)]
    for name, service in INTERFACE_SERVICES.items():
        lake.add(
            ec2.VPCEndpoint(
                endpoint_id(name),
                VpcId=Ref(LogicalIds.VPC),
                VpcEndpointType="Interface",
                ServiceName=_interface_service_name(service),
                SubnetIds=private,
                PrivateDnsEnabled=True,
                SecurityGroupIds=[GetAtt(ENDPOINT_SECURITY_GROUP, "GroupId")],
                Tags=_tags(lake, f"{service}-endpoint"),
            )
        )


def _dhcp_options(lake: LakeTemplate) -> None:
    """Outside us-east-1 the instance domain is `<region>.compute.internal` (us-east-1 uses ec2.internal)."""
    lake.add(
        ec2.DHCPOptions(
            DHCP_OPTIONS,
            Condition=NEEDS_DHCP_OPTIONS,
            DomainName=Sub("${AWS::Region}.compute.internal"),
            DomainNameServers=["AmazonProvidedDNS"],
            Tags=_tags(lake, "dhcp"),
        )
    )
    lake.add(
        ec2.VPCDHCPOptionsAssociation(
            DHCP_OPTIONS_ASSOCIATION,
            Condition=NEEDS_DHCP_OPTIONS,
            DhcpOptionsId=Ref(DHCP_OPTIONS),
            VpcId=Ref(LogicalIds.VPC),
        )
    )


def _flow_logs(lake: LakeTemplate) -> None:
    """Every packet's record, for a year, in a log group encrypted with the ops key."""
    lake.add(
        cfn_logs.LogGroup(
            FLOW_LOG_GROUP,
            LogGroupName=lake.names.log_group("vpc-flow-logs"),
            KmsKeyId=GetAtt(LogicalIds.OPS_KEY, "Arn"),
            RetentionInDays=FLOW_LOG_RETENTION_DAYS,
            DeletionPolicy="Retain",  # flow records are evidence: deleting the stack keeps them
            UpdateReplacePolicy="Retain",
            Tags=Tags({LAKE_TAG: lake.config.lake}),
        )
    )
    lake.add(
        iam.Role(
            FLOW_LOG_ROLE,
            AssumeRolePolicyDocument=cfn(flow_log_trust()),
            Description="Lets VPC Flow Logs write the lake VPC's flow records into its log group",
            Tags=Tags({LAKE_TAG: lake.config.lake}),
        )
    )
    lake.add(
        iam.PolicyType(
            FLOW_LOG_POLICY,
            PolicyName="vpc-flow-log-delivery",
            PolicyDocument=cfn(flow_log_delivery(f"${{{FLOW_LOG_GROUP}.Arn}}")),
            Roles=[Ref(FLOW_LOG_ROLE)],
            Metadata=nag_metadata(
                *(
                    (
                        f"{pack}-IAMNoInlinePolicy",
                        "The flow-log role's only policy writes the lake VPC's flow-log group; it has no other use.",
                    )
                    for pack in COMPLIANCE_PACKS
                )
            ),
        )
    )
    lake.add(
        ec2.FlowLog(
            FLOW_LOG,
            # Flow Logs checks the role's permissions when it first delivers: let the policy exist by then.
            DependsOn=[FLOW_LOG_POLICY],
            ResourceId=Ref(LogicalIds.VPC),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(FLOW_LOG_GROUP),
            DeliverLogsPermissionArn=GetAtt(FLOW_LOG_ROLE, "Arn"),
            Tags=_tags(lake, "flow-log"),
        )
    )
