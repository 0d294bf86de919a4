"""ECS on Fargate (CloudFormation): the web service behind an Application Load Balancer (HTTPS
with a certificate), the worker service scaled on CPU and on queue depth (the workers put the
number of queued jobs into CloudWatch: ``skyferry.jobs.backlog``), a one-off migration task
definition, logs in CloudWatch, and secrets from Secrets Manager injected by ECS (never in the
template or the task's environment listing). AWS Copilot reached end of support in 2026: no
Copilot manifest is generated.

Build and push the image from ``skyferry deploy docker``'s Dockerfile, then
``aws cloudformation deploy`` this template with that image's URI.
"""

from __future__ import annotations

from typing import Any

from skyferry.deploy import cloudformation as cfn
from skyferry.deploy.artifacts import Artifact, load_yaml, to_yaml
from skyferry.deploy.model import AppModel

WORKER_MAX = 10
# queued jobs per running worker that the backlog policy keeps to: jobs queue only once every
# worker runs SKYFERRY_WORKER_CONCURRENCY of them, so a few waiting means the workers are full
WORKER_BACKLOG_TARGET = 5.0
METRIC_NAMESPACE = cfn.sub("Skyferry/${AWS::StackName}")
# ELB's recommended policy: TLS 1.3 and 1.2, forward secrecy
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
WORKER_CPU_TARGET = 60.0


def parameters(model: AppModel) -> dict[str, Any]:
    return {
        "ImageUri": {"Type": "String", "Description": "The app's image (skyferry deploy docker)"},
        "VpcId": {"Type": "AWS::EC2::VPC::Id"},
        "PublicSubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Subnets of the load balancer",
        },
        "PrivateSubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Subnets of the tasks: they reach Postgres, and S3 by NAT or endpoint",
        },
        "SecretArn": {
            "Type": "String",
            "Description": cfn.secret_parameter(model)["Description"] + " (its ARN)",
        },
        "WebCount": {"Type": "Number", "Default": 2, "MinValue": 1},
        "CertificateArn": {
            "Type": "String",
            "Default": "",
            "Description": "An ACM certificate for the load balancer: HTTPS on 443, and HTTP "
            "redirected to it (empty: HTTP only)",
        },
    }


CONDITIONS = {"HasCertificate": {"Fn::Not": [{"Fn::Equals": [cfn.ref("CertificateArn"), ""]}]}}


def _if_https(https: Any, http: Any) -> dict[str, Any]:
    return {"Fn::If": ["HasCertificate", https, http]}


def environment(model: AppModel) -> list[dict[str, Any]]:
    return [{"Name": k, "Value": v} for k, v in cfn.app_environment(model).items()]


def secrets(model: AppModel) -> list[dict[str, Any]]:
    """ECS reads each key of the secret at task start; ``ARN:KEY::`` is its JSON-key form."""
    names = ["SKYFERRY_DATABASE_URL", *(s.name for s in model.secrets)]
    return [{"Name": n, "ValueFrom": cfn.sub("${SecretArn}:" + n + "::")} for n in names]


def container(model: AppModel, name: str, command: list[str], *, web: bool) -> dict[str, Any]:
    env = environment(model)
    if name == "worker":
        # workers put the queue's depth, which WorkerBacklogPolicy scales them on
        env.append({"Name": "SKYFERRY_QUEUE_METRIC_NAMESPACE", "Value": METRIC_NAMESPACE})
    definition: dict[str, Any] = {
        "Name": name,
        "Image": cfn.ref("ImageUri"),
        "Essential": True,
        "Command": command,
        "Environment": env,
        "Secrets": secrets(model),
        # ECS waits this long after SIGTERM: the jobs' grace and a margin (Fargate allows 120)
        "StopTimeout": min(120, model.shutdown_grace_seconds + 10),
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": cfn.ref("LogGroup"),
                "awslogs-region": cfn.ref("AWS::Region"),
                "awslogs-stream-prefix": name,
            },
        },
    }
    if web:
        definition["PortMappings"] = [{"ContainerPort": model.port, "Protocol": "tcp"}]
    return definition


def task(model: AppModel, name: str, command: list[str], *, web: bool = False) -> dict[str, Any]:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Family": cfn.sub("${AWS::StackName}-" + name),
            "RequiresCompatibilities": ["FARGATE"],
            "NetworkMode": "awsvpc",
            "Cpu": "512",
            "Memory": "1024",
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
            "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
            "ContainerDefinitions": [container(model, name, command, web=web)],
        },
    }


def _assume_ecs() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def roles(model: AppModel) -> dict[str, Any]:
    """The execution role reads the one secret; the task role reaches the bucket and tables."""
    bucket = cfn.bucket_arn(model)
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": {"Fn::Join": ["", [bucket, "/*"]]},
        },
    ]
    statements.append(
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData takes no resource: the namespace condition bounds it
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
        }
    )
    if model.dynamodb_tables:
        statements.append(
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    "dynamodb:DescribeTable",
                ],
                "Resource": [cfn.table_arn(table) for table in model.dynamodb_tables],
            }
        )
    return {
        "ExecutionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _assume_ecs(),
                "ManagedPolicyArns": [
                    cfn.sub(
                        "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                        "AmazonECSTaskExecutionRolePolicy"
                    )
                ],
                "Policies": [
                    {
                        "PolicyName": "read-app-secret",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "secretsmanager:GetSecretValue",
                                    "Resource": cfn.ref("SecretArn"),
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "TaskRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _assume_ecs(),
                "Policies": [
                    {
                        "PolicyName": "app-data",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                    }
                ],
            },
        },
    }


def network(model: AppModel) -> dict[str, Any]:
    """The load balancer in front of the web tasks: HTTP, or with a certificate HTTPS (TLS 1.2
    and 1.3) with HTTP redirected to it; the tasks admit the app port from it only."""
    forward = {"Type": "forward", "TargetGroupArn": cfn.ref("TargetGroup")}
    return {
        "LoadBalancerSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "HTTP and HTTPS from anywhere to the load balancer",
                "VpcId": cfn.ref("VpcId"),
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "0.0.0.0/0"}
                    for port in (80, 443)
                ],
            },
        },
        "TaskSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "The app port, from the load balancer only",
                "VpcId": cfn.ref("VpcId"),
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": model.port,
                        "ToPort": model.port,
                        "SourceSecurityGroupId": cfn.ref("LoadBalancerSecurityGroup"),
                    }
                ],
            },
        },
        "LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Scheme": "internet-facing",
                "Subnets": cfn.ref("PublicSubnetIds"),
                "SecurityGroups": [cfn.ref("LoadBalancerSecurityGroup")],
            },
        },
        "TargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "TargetType": "ip",
                "Protocol": "HTTP",
                "Port": model.port,
                "VpcId": cfn.ref("VpcId"),
                "HealthCheckPath": model.health_path,
                "TargetGroupAttributes": [
                    {
                        "Key": "deregistration_delay.timeout_seconds",
                        "Value": str(model.shutdown_grace_seconds + 10),
                    }
                ],
            },
        },
        "Listener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": cfn.ref("LoadBalancer"),
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [_if_https(_redirect_to_https(), forward)],
            },
        },
        # HttpsListener exists only with a certificate, and DependsOn cannot name a resource
        # that may not exist: this handle depends on it when it does (a Ref in its metadata),
        # and the web service on the handle
        "ListenersReady": {
            "Type": "AWS::CloudFormation::WaitConditionHandle",
            "Metadata": {"HttpsListener": _if_https(cfn.ref("HttpsListener"), "")},
        },
        "HttpsListener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Condition": "HasCertificate",
            "Properties": {
                "LoadBalancerArn": cfn.ref("LoadBalancer"),
                "Port": 443,
                "Protocol": "HTTPS",
                "SslPolicy": SSL_POLICY,
                "Certificates": [{"CertificateArn": cfn.ref("CertificateArn")}],
                "DefaultActions": [forward],
            },
        },
    }


def _redirect_to_https() -> dict[str, Any]:
    return {
        "Type": "redirect",
        "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
    }


def service(model: AppModel, count: Any, task_name: str, *, web: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Cluster": cfn.ref("Cluster"),
        "LaunchType": "FARGATE",
        "DesiredCount": count,
        "TaskDefinition": cfn.ref(task_name),
        # a deployment whose tasks do not become healthy rolls itself back
        "DeploymentConfiguration": {
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
            "MinimumHealthyPercent": 100,
            "MaximumPercent": 200,
        },
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "AssignPublicIp": "DISABLED",
                "Subnets": cfn.ref("PrivateSubnetIds"),
                "SecurityGroups": [cfn.ref("TaskSecurityGroup")],
            }
        },
    }
    resource: dict[str, Any] = {"Type": "AWS::ECS::Service", "Properties": properties}
    if web:
        properties["LoadBalancers"] = [
            {
                "ContainerName": "web",
                "ContainerPort": model.port,
                "TargetGroupArn": cfn.ref("TargetGroup"),
            }
        ]
        # the target group must be behind a listener before the service starts
        resource["DependsOn"] = ["Listener", "ListenersReady"]
    return resource


def scaling() -> dict[str, Any]:
    return {
        "WorkerScaling": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "MinCapacity": 1,
                "MaxCapacity": WORKER_MAX,
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": cfn.sub("service/${Cluster}/${WorkerService.Name}"),
            },
        },
        "WorkerScalingPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": "worker-cpu",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": cfn.ref("WorkerScaling"),
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": WORKER_CPU_TARGET,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
        },
        # queued jobs per running worker: out when jobs wait, in only when both policies agree
        "WorkerBacklogPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": "worker-backlog",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": cfn.ref("WorkerScaling"),
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": WORKER_BACKLOG_TARGET,
                    "CustomizedMetricSpecification": {
                        "Metrics": [
                            {
                                "Id": "queued",
                                "MetricStat": {
                                    "Metric": {
                                        "Namespace": METRIC_NAMESPACE,
                                        "MetricName": "QueuedJobs",
                                    },
                                    "Stat": "Maximum",
                                },
                                "ReturnData": False,
                            },
                            {
                                "Id": "workers",
                                "MetricStat": {
                                    "Metric": {
                                        "Namespace": "ECS/ContainerInsights",
                                        "MetricName": "RunningTaskCount",
                                        "Dimensions": [
                                            {"Name": "ClusterName", "Value": cfn.ref("Cluster")},
                                            {
                                                "Name": "ServiceName",
                                                "Value": {"Fn::GetAtt": ["WorkerService", "Name"]},
                                            },
                                        ],
                                    },
                                    "Stat": "Average",
                                },
                                "ReturnData": False,
                            },
                            {
                                "Id": "backlog",
                                "Expression": "queued / MAX([workers, 1])",
                                "Label": "queued jobs per worker",
                                "ReturnData": True,
                            },
                        ]
                    },
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
        },
    }


def template(model: AppModel) -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{model.name} on ECS Fargate: generated by `skyferry deploy ecs`",
        "Parameters": parameters(model),
        "Conditions": CONDITIONS,
        "Resources": {
            **cfn.bucket_resources(model),
            "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
            "Cluster": {
                "Type": "AWS::ECS::Cluster",
                "Properties": {
                    "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]
                },
            },
            **roles(model),
            **network(model),
            "WebTask": task(model, "web", model.serve_command(str(model.port)), web=True),
            "WorkerTask": task(model, "worker", model.worker_command()),
            "MigrateTask": task(model, "migrate", model.migrate_command()),
            "WebService": service(model, cfn.ref("WebCount"), "WebTask", web=True),
            "WorkerService": service(model, 1, "WorkerTask", web=False),
            **scaling(),
        },
        "Outputs": {
            "Url": {
                "Value": _if_https(
                    cfn.sub("https://${LoadBalancer.DNSName}/"),
                    cfn.sub("http://${LoadBalancer.DNSName}/"),
                )
            },
            "BucketName": {"Value": cfn.bucket_name(model)},
            "MigrateTaskDefinition": {"Value": cfn.ref("MigrateTask")},
            "Cluster": {"Value": cfn.ref("Cluster")},
        },
    }


def generate(model: AppModel) -> list[Artifact]:
    return [Artifact("ecs.yaml", to_yaml(template(model)))]


def check(files: dict[str, str]) -> list[str]:
    return cfn.lint(load_yaml(files["ecs.yaml"]), "ecs.yaml")
