"""CloudFormation pieces every AWS target shares, and the offline check they all pass:
SAM templates are translated with aws-sam-translator first (cfn-lint no longer looks inside
``AWS::Serverless::*`` resources), then the result is linted by cfn-lint."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from skyferry.deploy.model import AppModel

REGION = "us-east-1"


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def secret_ref(key: str) -> dict[str, str]:
    """A dynamic reference to one key of the app's Secrets Manager secret, resolved at deploy."""
    return sub("{{resolve:secretsmanager:${SecretName}:SecretString:" + key + "}}")


def secret_parameter(model: AppModel) -> dict[str, Any]:
    keys = ", ".join(["SKYFERRY_DATABASE_URL", *(s.name for s in model.secrets)])
    return {
        "Type": "String",
        "Default": f"{model.name}/app",
        "Description": f"Secrets Manager secret (JSON) holding {keys}",
    }


def bucket_resources(model: AppModel) -> dict[str, Any]:
    """The blob bucket, unless the app already has one (``model.blob_bucket``)."""
    return {} if model.blob_bucket else {"BlobBucket": _new_bucket(model)}


def _new_bucket_name(model: AppModel) -> str:
    """A new bucket's name, fixed by the app's name, account and region (a ``Fn::Sub``
    template; at most 63 characters). Everything names the bucket by it, never by
    ``Ref BlobBucket``: a function the bucket notifies must not depend on the bucket, or
    CloudFormation finds a circular dependency."""
    return f"{model.name[:24].rstrip('-')}-blobs-${{AWS::AccountId}}-${{AWS::Region}}"


def bucket_name(model: AppModel) -> Any:
    return model.blob_bucket or sub(_new_bucket_name(model))


def bucket_arn(model: AppModel) -> Any:
    return sub("arn:${AWS::Partition}:s3:::" + (model.blob_bucket or _new_bucket_name(model)))


def _new_bucket(model: AppModel) -> dict[str, Any]:
    """Files, books and datasets; kept when the stack goes, since they are the app's data."""
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": sub(_new_bucket_name(model)),
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    }


def app_environment(model: AppModel) -> dict[str, Any]:
    """What every process on AWS is given: the model's settings and the bucket."""
    env: dict[str, Any] = dict(model.base_env)
    if model.blob_bucket:
        env["SKYFERRY_BLOB_URL"] = model.blob_url_in(model.blob_bucket)
    else:
        env["SKYFERRY_BLOB_URL"] = sub(model.blob_url_in(_new_bucket_name(model)))
    for variable in model.dynamodb_region_env:
        env[variable] = ref("AWS::Region")
    return env


def table_arn(table: str) -> dict[str, str]:
    return sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + table)


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """The SAM template as CloudFormation, as ``sam deploy`` would send it."""
    import boto3
    from samtranslator.parser.parser import Parser  # the deploy extra
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator

    # the translator asks boto3 for "the region this runs in", which offline is none: it is
    # given a session in the region we lint for (and ARNs are built for its partition)
    ArnGenerator.BOTO_SESSION_REGION_NAME = REGION
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    # managed policies named by name would be looked up in IAM: ours are policy templates
    # and ARNs, so the map of names stays empty
    translated: dict[str, Any] = translator.translate(
        copy.deepcopy(template), parameter_values={}, get_managed_policy_map=dict
    )
    translator.metrics.publish()  # to its no-op publisher, which otherwise complains at exit
    return translated


@cache
def _lint_module() -> Any:
    # cfn-lint takes seconds to import: once per process, and only when a check runs
    import logging

    import cfnlint.api

    # it logs each scan at INFO, which a team's app (logging at INFO) would print as noise
    logging.getLogger("cfnlint").setLevel(logging.WARNING)
    return cfnlint.api


def lint(template: dict[str, Any], where: str) -> list[str]:
    """cfn-lint's errors and warnings, SAM translated first; each names its rule. None is
    waived: every generated template passes with no warning left."""
    if "Transform" in template:
        try:
            template = translate(template)
        except Exception as exc:  # the translator's own InvalidDocumentException and kin
            return [f"{where}: SAM translation failed: {exc}"]
    matches = _lint_module().lint(json.dumps(template), regions=[REGION])
    return [
        f"{where}: {match.rule.id} {match.message}" for match in matches if match.rule.id[0] in "EW"
    ]
