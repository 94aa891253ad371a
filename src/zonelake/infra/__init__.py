"""The AWS side of zonelake: two CDK stacks (prod, security) built from one LakeConfig.

This package is the only place that imports aws_cdk; everything it names comes from
:mod:`zonelake.naming` and every per-zone setting from :mod:`zonelake.blueprint`, so the
templates and the local lake cannot drift apart. Entry points: :func:`zonelake.infra.app.build_app`
and :func:`zonelake.infra.app.synth`.
"""
