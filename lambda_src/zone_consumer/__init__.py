"""The code that runs inside each zone consumer (a Lambda, or a local-lake worker).

It imports boto3, pyarrow, the standard library and AWS Lambda Powertools only, so it fits
in a Lambda with the AWS SDK for pandas layer (Powertools is bundled with the function).
"""

TRANSFORM_VERSION = "1"
