"""The two CloudFormation templates, in troposphere: one module per concern, composed by prod and security.

Each concern is a function `add_<concern>(lake: LakeTemplate) -> Handles`; modules refer to each
other's resources by the logical ids of :class:`datalake_cfn.naming.LogicalIds`, so a module can be
read (and tested) on its own. Nothing here calls AWS or reads the clock: rendering is pure.
"""
