"""The prod VPC: three subnet tiers, endpoints instead of a NAT, private-only consumers."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from datalake_cfn.config import ConfigError, parse_config
from datalake_cfn.naming import LogicalIds
from datalake_cfn.stacks import network, outputs
from datalake_cfn.stacks.base import LakeTemplate
from tests.stacks.conftest import default_lake_data
from tests.stacks.templates import Rendered, StackTemplate, arn_of, as_list, flatten, ref


def subnets_by_tier(prod: StackTemplate) -> dict[str, list[str]]:
    tiers: dict[str, list[str]] = {}
    for logical_id, subnet in prod.of_type("AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        tiers.setdefault(tags[network.SUBNET_TIER_TAG], []).append(logical_id)
    return tiers


def route_tables_of(prod: StackTemplate, subnets: list[str]) -> set[str]:
    return {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in prod.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"]["Ref"] in subnets
    }


def service_names(value: Any) -> set[str]:
    """Every name an endpoint's ServiceName can take (both branches of a partition `Fn::If`)."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, yes, no = value["Fn::If"]
        return service_names(yes) | service_names(no)
    return {flatten(value)}


def group_id_of(value: dict[str, Any]) -> str:
    """The security group behind `{"Fn::GetAtt": [G, "GroupId"]}` or `{"Ref": G}` (both give a VPC group's id)."""
    if "Ref" in value:
        return value["Ref"]
    resource, attribute = value["Fn::GetAtt"]
    assert attribute == "GroupId"
    return resource


def suppressed(resource: dict[str, Any]) -> dict[str, str]:
    rules = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return {rule["id"]: rule["reason"] for rule in rules}


def test_vpc_cidr_comes_from_lake_yaml(any_lake: Rendered) -> None:
    vpcs = any_lake.prod.of_type("AWS::EC2::VPC")
    assert list(vpcs) == [LogicalIds.VPC]
    vpc = vpcs[LogicalIds.VPC]["Properties"]
    assert vpc["CidrBlock"] == any_lake.config.network.cidr
    assert vpc["EnableDnsHostnames"] is True and vpc["EnableDnsSupport"] is True  # endpoints' private DNS


def test_public_private_and_data_subnets_in_every_az(any_lake: Rendered) -> None:
    net = any_lake.config.network
    tiers = subnets_by_tier(any_lake.prod)
    assert set(tiers) == {"public", "private", "data"}
    block = ipaddress.ip_network(net.cidr)
    cidrs = []
    for tier, subnets in tiers.items():
        assert len(subnets) == net.max_azs >= 2
        assert sorted(subnets) == sorted(network.subnet_ids(any_lake.config, tier))
        azs = [any_lake.prod.props(s)["AvailabilityZone"] for s in sorted(subnets)]
        assert [az["Fn::Select"][0] for az in azs] == list(range(net.max_azs))  # distinct AZs
        assert all(az["Fn::Select"][1] == {"Fn::GetAZs": ""} for az in azs)  # of the launch region
        for subnet in subnets:
            cidr = ipaddress.ip_network(any_lake.prod.props(subnet)["CidrBlock"])
            assert cidr.subnet_of(block) and cidr.prefixlen == net.subnet_mask
            cidrs.append(cidr)
    assert all(not a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


def test_private_subnet_ids_name_the_private_tier(any_lake: Rendered) -> None:
    assert sorted(network.private_subnet_ids(any_lake.config)) == sorted(subnets_by_tier(any_lake.prod)["private"])


def test_private_route_table_association_ids_exist(any_lake: Rendered) -> None:
    associations = any_lake.prod.of_type("AWS::EC2::SubnetRouteTableAssociation")
    private = set(network.private_subnet_ids(any_lake.config))
    ids = network.private_route_table_association_ids(any_lake.config)
    assert {associations[i]["Properties"]["SubnetId"]["Ref"] for i in ids} == private


def test_handles_expose_what_the_pipeline_attaches_to() -> None:
    config = parse_config(default_lake_data())
    handles = network.add_network(LakeTemplate.new(config, "network only"))
    assert handles.private_subnets == network.private_subnet_ids(config)
    assert handles.consumer_security_group == LogicalIds.CONSUMER_SECURITY_GROUP
    assert handles.vpc == LogicalIds.VPC


def test_subnet_cidrs_are_deterministic_and_as_cdk_allocated_them(regional_lake: Rendered) -> None:
    config = regional_lake.config  # 10.40.0.0/16, 3 AZs, /22
    cidrs = network.subnet_cidrs(config)
    assert cidrs == network.subnet_cidrs(config)
    assert cidrs[("public", 0)] == "10.40.0.0/22"
    assert cidrs[("private", 0)] == "10.40.12.0/22"
    assert cidrs[("data", 2)] == "10.40.32.0/22"
    for (tier, az), cidr in cidrs.items():
        assert regional_lake.prod.props(network.subnet_id(tier, az))["CidrBlock"] == cidr


def test_subnets_that_do_not_fit_are_a_config_error() -> None:
    data = default_lake_data()
    data["network"] = {"cidr": "10.20.0.0/22", "max_azs": 3, "subnet_mask": 24}
    with pytest.raises(ConfigError, match=r"network\.cidr: .* holds 4 /24 subnet\(s\) but the VPC needs 9"):
        network.subnet_cidrs(parse_config(data))


def test_no_nat_and_only_public_subnets_route_to_the_internet(any_lake: Rendered) -> None:
    prod = any_lake.prod
    assert not prod.of_type("AWS::EC2::NatGateway")
    tiers = subnets_by_tier(prod)
    public_tables = route_tables_of(prod, tiers["public"])
    internet_routes = [r for r in prod.of_type("AWS::EC2::Route").values() if "GatewayId" in r["Properties"]]
    assert internet_routes
    assert {r["Properties"]["RouteTableId"]["Ref"] for r in internet_routes} == public_tables
    assert len(prod.of_type("AWS::EC2::Route")) == len(internet_routes)  # no other route at all
    for route in internet_routes:
        assert route["DependsOn"] == [network.INTERNET_GATEWAY_ATTACHMENT]


def test_public_subnets_assign_no_public_ips(any_lake: Rendered) -> None:
    for subnets in subnets_by_tier(any_lake.prod).values():
        for subnet in subnets:
            assert any_lake.prod.props(subnet)["MapPublicIpOnLaunch"] is False


def test_gateway_endpoints_attach_to_private_route_tables_only(any_lake: Rendered) -> None:
    prod = any_lake.prod
    private_tables = route_tables_of(prod, subnets_by_tier(prod)["private"])
    gateways = {
        flatten(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1]: e["Properties"]
        for e in prod.of_type("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    }
    assert set(gateways) == {"s3", "dynamodb"}
    for service, endpoint in gateways.items():
        assert flatten(endpoint["ServiceName"]) == f"com.amazonaws.${{AWS::Region}}.{service}"
        assert {t["Ref"] for t in endpoint["RouteTableIds"]} == private_tables


def test_interface_endpoints_for_sqs_kms_glue_logs_and_sts_in_private_subnets(any_lake: Rendered) -> None:
    prod = any_lake.prod
    private = set(subnets_by_tier(prod)["private"])
    interfaces = [
        e["Properties"]
        for e in prod.of_type("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Interface"
    ]
    services = ("sqs", "kms", "glue", "logs", "sts")
    names = set().union(*(service_names(e["ServiceName"]) for e in interfaces))
    expected = {f"com.amazonaws.${{AWS::Region}}.{s}" for s in services}
    china = {f"cn.com.amazonaws.${{AWS::Region}}.{s}" for s in network.CHINA_PREFIXED_SERVICES}
    assert names == expected | china
    assert len(interfaces) == len(network.INTERFACE_SERVICES) == len(services)
    for endpoint in interfaces:
        assert endpoint["PrivateDnsEnabled"] is True
        assert {s["Ref"] for s in endpoint["SubnetIds"]} == private
        assert [group_id_of(g) for g in endpoint["SecurityGroupIds"]] == [network.ENDPOINT_SECURITY_GROUP]


def test_interface_endpoints_accept_https_from_consumers_only(any_lake: Rendered) -> None:
    prod = any_lake.prod
    endpoint_group = network.ENDPOINT_SECURITY_GROUP
    consumer_group = LogicalIds.CONSUMER_SECURITY_GROUP
    ingress = [
        r["Properties"]
        for r in prod.of_type("AWS::EC2::SecurityGroupIngress").values()
        if group_id_of(r["Properties"]["GroupId"]) == endpoint_group
    ]
    assert len(ingress) == 1
    assert group_id_of(ingress[0]["SourceSecurityGroupId"]) == consumer_group
    assert (ingress[0]["FromPort"], ingress[0]["ToPort"], ingress[0]["IpProtocol"]) == (443, 443, "tcp")
    assert not prod.props(endpoint_group).get("SecurityGroupIngress")
    # Nothing out of the endpoints (CloudFormation would otherwise add "all traffic out").
    assert [r["CidrIp"] for r in prod.props(endpoint_group)["SecurityGroupEgress"]] == ["255.255.255.255/32"]


def test_consumers_may_only_speak_https_out(any_lake: Rendered) -> None:
    group = any_lake.prod.props(LogicalIds.CONSUMER_SECURITY_GROUP)
    assert not group.get("SecurityGroupIngress")
    egress = group["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress] == [("tcp", 443, 443)]
    assert group["VpcId"] == ref(LogicalIds.VPC)


def test_every_lambda_runs_in_the_private_subnets_only(any_lake: Rendered) -> None:
    prod = any_lake.prod
    private = set(subnets_by_tier(prod)["private"])
    functions = prod.of_type("AWS::Lambda::Function")
    assert functions
    for function in functions.values():
        vpc = function["Properties"]["VpcConfig"]
        assert {s["Ref"] for s in vpc["SubnetIds"]} == private
        assert [group_id_of(g) for g in vpc["SecurityGroupIds"]] == [LogicalIds.CONSUMER_SECURITY_GROUP]


def test_dhcp_options_only_outside_us_east_1(default_lake: Rendered, regional_lake: Rendered) -> None:
    for lake in (default_lake, regional_lake):  # one template for every region: the region decides at launch
        prod = lake.prod
        options = prod.of_type("AWS::EC2::DHCPOptions")
        assert list(options) == [network.DHCP_OPTIONS]
        option = options[network.DHCP_OPTIONS]
        assert option["Condition"] == network.NEEDS_DHCP_OPTIONS
        assert prod.template["Conditions"][network.NEEDS_DHCP_OPTIONS] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]
        }
        assert flatten(option["Properties"]["DomainName"]) == "${AWS::Region}.compute.internal"
        associations = prod.of_type("AWS::EC2::VPCDHCPOptionsAssociation")
        assert len(associations) == 1
        association = next(iter(associations.values()))
        assert association["Condition"] == network.NEEDS_DHCP_OPTIONS
        assert association["Properties"]["VpcId"] == ref(LogicalIds.VPC)
        assert association["Properties"]["DhcpOptionsId"] == ref(network.DHCP_OPTIONS)


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(any_lake: Rendered) -> None:
    prod = any_lake.prod
    flow_logs = prod.of_type("AWS::EC2::FlowLog")
    assert len(flow_logs) == 1
    flow_log = next(iter(flow_logs.values()))["Properties"]
    assert flow_log["TrafficType"] == "ALL"
    assert (flow_log["ResourceType"], flow_log["ResourceId"]) == ("VPC", ref(LogicalIds.VPC))
    group = prod.at(network.FLOW_LOG_GROUP)
    assert group["Properties"]["LogGroupName"] == any_lake.names.log_group("vpc-flow-logs")
    assert group["Properties"]["KmsKeyId"] == arn_of(LogicalIds.OPS_KEY)
    assert group["Properties"]["RetentionInDays"] == 365
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"
    assert as_list(flow_log["LogGroupName"])[0] == ref(network.FLOW_LOG_GROUP)
    assert flow_log["DeliverLogsPermissionArn"] == arn_of(network.FLOW_LOG_ROLE)


def test_flow_log_role_writes_its_group_only(any_lake: Rendered) -> None:
    prod = any_lake.prod
    trust = prod.props(network.FLOW_LOG_ROLE)["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": ["vpc-flow-logs.amazonaws.com"]}]
    assert "Policies" not in prod.props(network.FLOW_LOG_ROLE)  # no inline policy on the role itself
    policy = prod.props(network.FLOW_LOG_POLICY)
    assert policy["Roles"] == [ref(network.FLOW_LOG_ROLE)]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Sid"] and statement["Effect"] == "Allow"
    assert [flatten(r) for r in as_list(statement["Resource"])] == [f"${{{network.FLOW_LOG_GROUP}.Arn}}"]
    assert prod.at(network.FLOW_LOG)["DependsOn"] == [network.FLOW_LOG_POLICY]


def test_network_is_region_agnostic(any_lake: Rendered) -> None:
    """No region, account or partition in any network resource: only the DHCP Condition names us-east-1."""
    import json

    ours = {k: v for k, v in any_lake.prod.resources.items() if k.startswith("Vpc") or k == LogicalIds.VPC}
    text = json.dumps(ours)
    for literal in ("us-east-1", "eu-west-1", "123456789012", "210987654321", "arn:aws:"):
        assert literal not in text


def test_vpc_id_is_an_output(any_lake: Rendered) -> None:
    assert any_lake.prod.outputs[outputs.VPC_ID]["Value"] == ref(LogicalIds.VPC)


def test_nag_acknowledgements_name_their_resource(any_lake: Rendered) -> None:
    prod = any_lake.prod
    packs = network.COMPLIANCE_PACKS
    vpc = suppressed(prod.at(LogicalIds.VPC))
    assert set(vpc) == {f"{p}-VPCDefaultSecurityGroupClosed" for p in packs}
    for logical_id, route in prod.of_type("AWS::EC2::Route").items():
        reasons = suppressed(route)
        assert set(reasons) == {f"{p}-VPCNoUnrestrictedRouteToIGW" for p in packs}
        assert all(logical_id.removesuffix("DefaultRoute") in reason for reason in reasons.values())
    assert set(suppressed(prod.at(network.FLOW_LOG_POLICY))) == {f"{p}-IAMNoInlinePolicy" for p in packs}
