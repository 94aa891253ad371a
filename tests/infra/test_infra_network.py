"""The prod VPC: three subnet tiers, endpoints instead of a NAT, private-only consumers."""

from __future__ import annotations

import ipaddress

from datalake_cfn.infra.network import INTERFACE_SERVICES
from tests.infra.templates import StackTemplate, Synthesized, as_list, ref

SUBNET_NAME_TAG = "aws-cdk:subnet-name"


def subnets_by_tier(prod: StackTemplate) -> dict[str, list[str]]:
    tiers: dict[str, list[str]] = {}
    for logical_id, subnet in prod.of_type("AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        tiers.setdefault(tags[SUBNET_NAME_TAG], []).append(logical_id)
    return tiers


def route_tables_of(prod: StackTemplate, subnets: list[str]) -> set[str]:
    return {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in prod.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"]["Ref"] in subnets
    }


def test_vpc_cidr_comes_from_lake_yaml(any_lake: Synthesized) -> None:
    vpc = next(iter(any_lake.prod.of_type("AWS::EC2::VPC").values()))
    assert vpc["Properties"]["CidrBlock"] == any_lake.config.network.cidr


def test_public_private_and_data_subnets_in_every_az(any_lake: Synthesized) -> None:
    network = any_lake.config.network
    tiers = subnets_by_tier(any_lake.prod)
    assert set(tiers) == {"public", "private", "data"}
    block = ipaddress.ip_network(network.cidr)
    for subnets in tiers.values():
        assert len(subnets) == network.max_azs >= 2
        azs = [any_lake.prod.resources[s]["Properties"]["AvailabilityZone"] for s in subnets]
        assert [az["Fn::Select"][0] for az in azs] == list(range(network.max_azs))  # distinct AZs
        for subnet in subnets:
            cidr = ipaddress.ip_network(any_lake.prod.resources[subnet]["Properties"]["CidrBlock"])
            assert cidr.subnet_of(block) and cidr.prefixlen == network.subnet_mask


def test_no_nat_and_only_public_subnets_route_to_the_internet(any_lake: Synthesized) -> None:
    prod = any_lake.prod
    assert not prod.of_type("AWS::EC2::NatGateway")
    tiers = subnets_by_tier(prod)
    public_tables = route_tables_of(prod, tiers["public"])
    internet_routes = [r for r in prod.of_type("AWS::EC2::Route").values() if "GatewayId" in r["Properties"]]
    assert internet_routes
    assert {r["Properties"]["RouteTableId"]["Ref"] for r in internet_routes} == public_tables


def test_public_subnets_assign_no_public_ips(any_lake: Synthesized) -> None:
    tiers = subnets_by_tier(any_lake.prod)
    for subnet in tiers["public"]:
        assert any_lake.prod.resources[subnet]["Properties"]["MapPublicIpOnLaunch"] is False


def test_gateway_endpoints_attach_to_private_route_tables_only(any_lake: Synthesized) -> None:
    prod = any_lake.prod
    private_tables = route_tables_of(prod, subnets_by_tier(prod)["private"])
    gateways = {
        e["Properties"]["ServiceName"]["Fn::Join"][1][-1]: e["Properties"]
        for e in prod.of_type("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    }
    assert set(gateways) == {".s3", ".dynamodb"}
    for endpoint in gateways.values():
        assert {t["Ref"] for t in endpoint["RouteTableIds"]} == private_tables


def test_interface_endpoints_for_sqs_kms_glue_logs_and_sts_in_private_subnets(any_lake: Synthesized) -> None:
    prod = any_lake.prod
    private = set(subnets_by_tier(prod)["private"])
    interfaces = {
        e["Properties"]["ServiceName"]: e["Properties"]
        for e in prod.of_type("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Interface"
    }
    region = any_lake.config.region
    expected = {f"com.amazonaws.{region}.{s}" for s in ("sqs", "kms", "glue", "logs", "sts")}
    assert set(interfaces) == expected and len(INTERFACE_SERVICES) == len(expected)
    for endpoint in interfaces.values():
        assert endpoint["PrivateDnsEnabled"] is True
        assert {s["Ref"] for s in endpoint["SubnetIds"]} == private


def test_interface_endpoints_accept_https_from_consumers_only(any_lake: Synthesized) -> None:
    prod = any_lake.prod
    endpoint_group = prod.id_of("Network/EndpointSecurityGroup/Resource")
    consumer_group = prod.id_of("Network/ConsumerSecurityGroup/Resource")
    ingress = [
        r["Properties"]
        for r in prod.of_type("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"]["Fn::GetAtt"][0] == endpoint_group
    ]
    assert len(ingress) == 1
    assert ingress[0]["SourceSecurityGroupId"]["Fn::GetAtt"][0] == consumer_group
    assert (ingress[0]["FromPort"], ingress[0]["ToPort"], ingress[0]["IpProtocol"]) == (443, 443, "tcp")
    assert not prod.resources[endpoint_group]["Properties"].get("SecurityGroupIngress")


def test_every_lambda_runs_in_the_private_subnets_only(any_lake: Synthesized) -> None:
    prod = any_lake.prod
    private = set(subnets_by_tier(prod)["private"])
    consumer_group = prod.id_of("Network/ConsumerSecurityGroup/Resource")
    functions = prod.of_type("AWS::Lambda::Function")
    assert functions
    for function in functions.values():
        vpc = function["Properties"]["VpcConfig"]
        assert {s["Ref"] for s in vpc["SubnetIds"]} == private
        assert [g["Fn::GetAtt"][0] for g in vpc["SecurityGroupIds"]] == [consumer_group]


def test_dhcp_options_only_outside_us_east_1(default_lake: Synthesized, regional_lake: Synthesized) -> None:
    assert not default_lake.prod.of_type("AWS::EC2::DHCPOptions")
    options = list(regional_lake.prod.of_type("AWS::EC2::DHCPOptions").values())
    assert len(options) == 1
    assert options[0]["Properties"]["DomainName"] == "eu-west-1.compute.internal"
    association = next(iter(regional_lake.prod.of_type("AWS::EC2::VPCDHCPOptionsAssociation").values()))
    vpc_id = next(iter(regional_lake.prod.of_type("AWS::EC2::VPC")))
    assert association["Properties"]["VpcId"] == ref(vpc_id)


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(any_lake: Synthesized) -> None:
    prod = any_lake.prod
    flow_log = next(iter(prod.of_type("AWS::EC2::FlowLog").values()))["Properties"]
    assert flow_log["TrafficType"] == "ALL"
    group = prod.props("Network/FlowLogGroup/Resource")
    assert group["LogGroupName"] == any_lake.names.log_group("vpc-flow-logs")
    assert group["KmsKeyId"]["Fn::GetAtt"][0] == prod.id_of("OpsKey/Resource")
    assert as_list(flow_log["LogGroupName"])[0] == ref(prod.id_of("Network/FlowLogGroup/Resource"))
