"""IAM actions granted as a set, shared by the statements (infra.permissions) and the reasons
the nag checks accept for them (infra.nag)."""

from __future__ import annotations

RDS_READ_ACTIONS = (
    "rds:DescribeDBClusters",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBInstances",
)
# What ValidateRequest asks RDS before approval (pipeline.prechecks). The Service Authorization
# Reference lists no resource type for these, so they take "*" (list_amazonrds.html).
PRECHECK_ACTIONS = (
    "rds:DescribeAccountAttributes",
    "rds:DescribeDBEngineVersions",
    "rds:DescribeOrderableDBInstanceOptions",
)
# Lambda creates and removes the ENIs of a function in a VPC with its role (what the managed
# AWSLambdaVPCAccessExecutionRole grants, written out so the template shows it). EC2 does not
# scope these actions to resources.
LAMBDA_VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
