"""Access control for the lake: persona policies as data, the access matrix, and policy evaluation.

The evaluator (`datalake_cfn.access.evaluator`) decides requests against IAM identity policies, S3
bucket policies and KMS key policies, so the access matrix and the local lake's enforcement are
computed from the synthesized policies themselves rather than restated by hand.
"""
