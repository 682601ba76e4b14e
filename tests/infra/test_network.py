"""The database set-up function runs in the VPC: it reaches its AWS APIs through NAT (declared)
or through VPC endpoints the stack creates, reachable from that function only."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template

from infra.config import EXAMPLE_CONFIG, NetworkConfig, SetupService, load_config
from infra.network import ServiceEndpoints

pytestmark = pytest.mark.infra

# What pipeline.database.stage and the store/progress modules call from inside the VPC.
CALLED_FROM_THE_VPC = {"rds", "secretsmanager", "dynamodb", "sns"}


def service_of(endpoint: dict[str, Any]) -> str:
    name = endpoint["Properties"]["ServiceName"]
    parts = name["Fn::Join"][1] if isinstance(name, dict) else [name]
    return str(parts[-1]).rsplit(".", 1)[-1]


def test_every_service_the_function_calls_has_an_endpoint(synthesized):
    assert {service.value for service in SetupService} == CALLED_FROM_THE_VPC
    endpoints = synthesized.of_type("AWS::EC2::VPCEndpoint")
    by_service = {service_of(endpoint): endpoint["Properties"] for endpoint in endpoints.values()}
    assert set(by_service) == CALLED_FROM_THE_VPC
    network = synthesized.config.network
    assert by_service["dynamodb"]["VpcEndpointType"] == "Gateway"
    assert by_service["dynamodb"]["RouteTableIds"] == network.route_table_ids
    for service in ("rds", "secretsmanager", "sns"):
        props = by_service[service]
        assert props["VpcEndpointType"] == "Interface"
        assert props["PrivateDnsEnabled"] is True
        assert props["SubnetIds"] == [subnet.id for subnet in network.subnets]
        assert props["VpcId"] == network.vpc_id


def test_the_endpoints_take_https_from_the_set_up_function_only_and_send_nothing(synthesized):
    (group,) = synthesized.of_type("AWS::EC2::SecurityGroup").values()
    props = group["Properties"]
    assert props["SecurityGroupIngress"] == [
        {
            "Description": "HTTPS from the database set-up function",
            "FromPort": 443,
            "ToPort": 443,
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": group_id,
        }
        for group_id in synthesized.config.network.function_security_group_ids
    ]
    # CDK's placeholder for "no egress": one ICMP rule to a broadcast address nothing answers.
    assert [rule["CidrIp"] for rule in props["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    assert not synthesized.of_type("AWS::EC2::SecurityGroupIngress")


def endpoints_for(network: dict[str, Any]) -> Template:
    example = load_config(EXAMPLE_CONFIG).network.model_dump()
    config = NetworkConfig.model_validate(
        {**example, "route_table_ids": [], "existing_endpoints": [], **network}
    )
    stack = Stack(App(), "Endpoints", env={"account": "123456789012", "region": "eu-west-1"})
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id=config.vpc_id, availability_zones=["eu-west-1a", "eu-west-1b"]
    )
    subnets = [
        ec2.Subnet.from_subnet_attributes(
            stack, f"Subnet{i}", subnet_id=s.id, availability_zone=s.availability_zone
        )
        for i, s in enumerate(config.subnets)
    ]
    groups = [
        ec2.SecurityGroup.from_security_group_id(stack, f"Group{i}", group_id)
        for i, group_id in enumerate(config.function_security_group_ids)
    ]
    ServiceEndpoints(
        stack, "Endpoints", network=config, vpc=vpc, subnets=subnets, function_groups=groups
    )
    return Template.from_stack(stack)


def test_a_vpc_declared_to_have_nat_gets_no_endpoints():
    template = endpoints_for({"aws_access": "nat"})
    assert template.find_resources("AWS::EC2::VPCEndpoint") == {}
    assert template.find_resources("AWS::EC2::SecurityGroup") == {}


def test_endpoints_the_vpc_already_has_are_not_created_again():
    template = endpoints_for(
        {"aws_access": "endpoints", "existing_endpoints": ["dynamodb", "secretsmanager"]}
    )
    created = template.find_resources("AWS::EC2::VPCEndpoint").values()
    assert sorted(service_of(endpoint) for endpoint in created) == ["rds", "sns"]
