"""Deploy-time Parameters of both templates, with labels and groups for the console.

What a customer chooses when launching (the other account, where the code lives, who gets the
alarms) is a Parameter; what shapes the lake (zones, datasets, personas) is lake.yaml and is
rendered in. Parameter names are constants: the publisher's quick-create links and update
commands use them.
"""

from __future__ import annotations

from troposphere import Parameter

from datalake_cfn.stacks.base import LakeTemplate

# -- prod --------------------------------------------------------------------------------------------
SECURITY_ACCOUNT_ID = "SecurityAccountId"
CODE_BUCKET = "CodeBucket"
CODE_KEY_PREFIX = "CodeKeyPrefix"
SDK_PANDAS_LAYER_ARN = "SdkPandasLayerArn"
# -- security ----------------------------------------------------------------------------------------
PROD_ACCOUNT_ID = "ProdAccountId"
ALARM_EMAIL = "AlarmEmail"

ACCOUNT_PATTERN = r"^\d{12}$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
PREFIX_PATTERN = r"^([A-Za-z0-9._-]+/)*$"
LAYER_PATTERN = r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+)?$"
EMAIL_PATTERN = r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$"

USE_DEFAULT_LAYER = "UseDefaultSdkPandasLayer"  # Condition: SdkPandasLayerArn left empty
HAS_ALARM_EMAIL = "HasAlarmEmail"  # Condition: AlarmEmail given


def _interface(lake: LakeTemplate, groups: list[tuple[str, list[str]]], labels: dict[str, str]) -> None:
    lake.template.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": parameters} for label, parameters in groups
                ],
                "ParameterLabels": {name: {"default": text} for name, text in labels.items()},
            }
        }
    )


def _text_parameter(
    lake: LakeTemplate, name: str, pattern: str, expected: str, description: str, **default: str
) -> None:
    """A String parameter the console checks against `pattern` before the stack starts, saying
    what it expected (`expected`): a typo fails at launch, not an hour in."""
    lake.template.add_parameter(
        Parameter(
            name,
            Type="String",
            AllowedPattern=pattern,
            ConstraintDescription=expected,
            Description=description,
            **default,
        )
    )


def add_prod_parameters(lake: LakeTemplate) -> None:
    """The prod stack's parameters: the security account, the code artifacts, the pandas layer."""
    from troposphere import Equals, Ref

    accounts = lake.config.accounts
    _text_parameter(
        lake,
        SECURITY_ACCOUNT_ID,
        ACCOUNT_PATTERN,
        "a 12-digit AWS account id",
        "The security account: it holds the audit bucket, its key and the alarm topic.",
        **({"Default": accounts.security} if accounts.security else {}),
    )
    _text_parameter(
        lake,
        CODE_BUCKET,
        BUCKET_PATTERN,
        "an S3 bucket name",
        "Bucket holding the consumer zip and the Glue scripts, in this stack's region "
        "(Lambda reads code only from its own region): `<base>-<region>` as `build.py publish` writes it.",
    )
    _text_parameter(
        lake,
        CODE_KEY_PREFIX,
        PREFIX_PATTERN,
        "a key prefix ending in / (or empty)",
        "Key prefix of the published version in CodeBucket, e.g. `<lake>/<version>/`.",
        Default=f"{lake.config.lake}/",
    )
    _text_parameter(
        lake,
        SDK_PANDAS_LAYER_ARN,
        LAYER_PATTERN,
        "a Lambda layer version ARN, or empty",
        "Override the AWS SDK for pandas layer (empty: the pinned layer of this region).",
        Default="",
    )
    lake.template.add_condition(USE_DEFAULT_LAYER, Equals(Ref(SDK_PANDAS_LAYER_ARN), ""))
    _interface(
        lake,
        [
            ("Accounts", [SECURITY_ACCOUNT_ID]),
            ("Code artifacts (written by build.py publish)", [CODE_BUCKET, CODE_KEY_PREFIX, SDK_PANDAS_LAYER_ARN]),
        ],
        {
            SECURITY_ACCOUNT_ID: "Security account id",
            CODE_BUCKET: "Code bucket (this region)",
            CODE_KEY_PREFIX: "Code key prefix",
            SDK_PANDAS_LAYER_ARN: "AWS SDK for pandas layer ARN (optional)",
        },
    )


def add_security_parameters(lake: LakeTemplate) -> None:
    """The security stack's parameters: the prod account it audits, and who gets the alarms."""
    from troposphere import Equals, Not, Ref

    accounts = lake.config.accounts
    _text_parameter(
        lake,
        PROD_ACCOUNT_ID,
        ACCOUNT_PATTERN,
        "a 12-digit AWS account id",
        "The prod account: its CloudTrail writes into the audit bucket, its alarms into the topic.",
        **({"Default": accounts.prod} if accounts.prod else {}),
    )
    _text_parameter(
        lake,
        ALARM_EMAIL,
        EMAIL_PATTERN,
        "an e-mail address, or empty",
        "Subscribe this address to the alarm topic (empty: no subscription).",
        Default="",
    )
    lake.template.add_condition(HAS_ALARM_EMAIL, Not(Equals(Ref(ALARM_EMAIL), "")))
    _interface(
        lake,
        [("Accounts", [PROD_ACCOUNT_ID]), ("Alarms", [ALARM_EMAIL])],
        {PROD_ACCOUNT_ID: "Prod account id", ALARM_EMAIL: "Alarm e-mail (optional)"},
    )
