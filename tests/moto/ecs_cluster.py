"""An ECS cluster in a moto server with one EC2 container instance and no tasks, for the
reconciler's end-to-end tests. moto's ECS needs a (moto) EC2 instance to register a container
instance; the Rust SDK for EC2 is a large build for one call, so the fixture uses boto3, which
comes with moto. It runs no task: moto describes a task's container `cpu` and `memory` as
numbers where the ECS API has strings, which the Rust SDK rightly refuses to parse.

    python3 ecs_cluster.py ENDPOINT CLUSTER

prints {"clusterArn": ..., "containerInstanceArn": ...}.
"""
import json
import sys

import boto3

endpoint, cluster = sys.argv[1], sys.argv[2]
session = boto3.Session(
    aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
)
ecs = session.client("ecs", endpoint_url=endpoint)
ec2 = session.client("ec2", endpoint_url=endpoint)

cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
identity = {
    "instanceId": instance["InstanceId"],
    "region": "us-east-1",
    "availabilityZone": "us-east-1a",
    "accountId": "123456789012",
    "imageId": "ami-12c6146b",
    "instanceType": "t2.micro",
}
container_instance = ecs.register_container_instance(
    cluster=cluster, instanceIdentityDocument=json.dumps(identity)
)["containerInstance"]
print(
    json.dumps(
        {
            "clusterArn": cluster_arn,
            "containerInstanceArn": container_instance["containerInstanceArn"],
        }
    )
)
