"""How the database set-up function, which runs in the VPC, reaches the AWS APIs it calls.

A function attached to a VPC has no public IP: its AWS calls need a NAT route or VPC endpoints
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html). The function
calls RDS (DescribeDBClusters, ModifyDBCluster), Secrets Manager (the credential secrets),
DynamoDB (operations and audit tables) and SNS (progress events); `SETUP_DATABASE_SERVICES` is
that list, and `network.aws_access` says which way each is reached.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.config import NetworkConfig, SetupService

HTTPS = 443
# The interface endpoint of each service the set-up function calls (DynamoDB: a gateway one).
_INTERFACE_SERVICES: dict[SetupService, ec2.InterfaceVpcEndpointAwsService] = {
    SetupService.RDS: ec2.InterfaceVpcEndpointAwsService.RDS,
    SetupService.SECRETS_MANAGER: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    SetupService.SNS: ec2.InterfaceVpcEndpointAwsService.SNS,
}


class ServiceEndpoints(Construct):
    """The VPC endpoints `network.aws_access: endpoints` asks for, minus `existing_endpoints`.

    Interface endpoints take HTTPS from the set-up function's security groups only and send
    nothing out; the DynamoDB gateway endpoint is a route in the configured route tables.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: NetworkConfig,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        function_groups: Sequence[ec2.ISecurityGroup],
    ) -> None:
        super().__init__(scope, construct_id)
        self.interface_endpoints: dict[SetupService, ec2.InterfaceVpcEndpoint] = {}
        self.gateway_endpoint: ec2.CfnVPCEndpoint | None = None
        self.security_group: ec2.SecurityGroup | None = None
        wanted = [s for s in network.endpoint_services if s in _INTERFACE_SERVICES]
        if wanted:
            self.security_group = self._build_security_group(vpc, function_groups)
            for service in wanted:
                self.interface_endpoints[service] = ec2.InterfaceVpcEndpoint(
                    self,
                    f"{service.construct_name}Endpoint",
                    vpc=vpc,
                    service=_INTERFACE_SERVICES[service],
                    # One endpoint network interface per availability zone (PrivateLink's rule).
                    subnets=ec2.SubnetSelection(subnets=list(subnets), one_per_az=True),
                    security_groups=[self.security_group],
                    private_dns_enabled=True,  # the SDK's default endpoint names resolve here
                    open=False,  # ingress is granted to the function's groups only, below
                )
        if SetupService.DYNAMODB in network.endpoint_services:
            self.gateway_endpoint = ec2.CfnVPCEndpoint(
                self,
                "DynamoDbEndpoint",
                vpc_id=vpc.vpc_id,
                vpc_endpoint_type="Gateway",
                service_name=f"com.amazonaws.{Stack.of(self).region}.dynamodb",
                route_table_ids=list(network.route_table_ids),
            )

    def _build_security_group(
        self, vpc: ec2.IVpc, function_groups: Sequence[ec2.ISecurityGroup]
    ) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="aurora-restore: HTTPS from the database set-up function to AWS APIs",
            allow_all_outbound=False,  # endpoints only answer; they never start a connection
        )
        for function_group in function_groups:
            group.add_ingress_rule(
                ec2.Peer.security_group_id(function_group.security_group_id),
                ec2.Port.tcp(HTTPS),
                "HTTPS from the database set-up function",
            )
        return group
