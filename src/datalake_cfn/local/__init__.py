"""The embedded lake: moto's server on 127.0.0.1, provisioned from lake.yaml, with zone workers.

Same runtime code, same names, same S3 event and SQS message shapes as the prod stack.
"""
