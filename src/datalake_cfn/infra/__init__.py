"""The AWS side of datalake: two CDK stacks (prod, security) built from one LakeConfig.

This package is the only place that imports aws_cdk; everything it names comes from
:mod:`datalake_cfn.naming` and every per-zone setting from :mod:`datalake_cfn.blueprint`, so the
templates and the local lake cannot drift apart. Entry points: :func:`datalake_cfn.infra.app.build_app`
and :func:`datalake_cfn.infra.app.synth`.
"""
