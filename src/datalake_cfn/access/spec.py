"""The access matrix as it *should* be: DESIGN.md's personas table, restated as rules.

Why a second statement of the rules: the matrix in `datalake_cfn.access.matrix` is computed by
evaluating the synthesized policies; comparing it cell by cell with this spec is what shows the
policies do what the design says. This module deliberately does not import the policy generator:
it is written from the table (and from the documented limits of S3 in docs/access.md), so a bug in
the generator cannot hide by being copied here.

The table (DESIGN.md "Personas"), in the default zone names:

| persona   | reads                    | writes        |
|-----------|--------------------------|---------------|
| steward   | raw, staged, curated, sandbox | all zones |
| engineer  | all zones                | all zones     |
| scientist | staged, curated, sandbox | curated only  |
| analyst   | curated, sandbox         | sandbox only  |

plus: every read is bounded by clearance (an object's `dataclassification` at or below the
session's clearance, which is the persona's clearance in lake.yaml unless a session tag lowers
it); an untagged object is readable by no persona but the steward; only the steward (and the
pipeline) sets or changes a classification, except that a writer may classify its own upload at or
below its clearance outside the landing zone (an upload cannot be *required* to carry a tag
without breaking multipart uploads, and S3 authorizes a tagged upload exactly like tagging an
untagged object); nothing works without TLS.

For lakes with other zones the default names map by position: the head of the chain is "raw",
its end "curated", the zones in between "staged", zones outside the chain "sandbox".
"""

from __future__ import annotations

from datalake_cfn.config import LakeConfig

ACTIONS = ("list", "read", "write", "tag", "decrypt")
"""list: ListBucket. read: every object-read action + kms:Decrypt. write: PutObject (+ its tags)
+ kms:GenerateDataKey. tag: set an existing object's classification to the lowest level.
decrypt: kms:Decrypt of the zone key through S3."""

READS = {
    "steward": {"raw", "staged", "curated", "sandbox"},
    "engineer": {"raw", "staged", "curated", "sandbox"},
    "scientist": {"staged", "curated", "sandbox"},
    "analyst": {"curated", "sandbox"},
}
WRITES = {
    "steward": {"raw", "staged", "curated", "sandbox"},
    "engineer": {"raw", "staged", "curated", "sandbox"},
    "scientist": {"curated"},
    "analyst": {"sandbox"},
}
ADMINISTERS_TAGS = {"steward"}


def design_zone(config: LakeConfig, zone: str) -> str:
    """Which column of the design table a zone of this lake is: raw, staged, curated or sandbox."""
    chain: list[str] = []
    heads = [z for z in config.zones if z.next and z.name not in {o.next for o in config.zones}]
    current = heads[0] if heads else None
    while current is not None:
        chain.append(current.name)
        current = next((z for z in config.zones if z.name == current.next), None)
    if zone not in chain:
        return "sandbox"
    if zone == chain[0]:
        return "raw"
    if zone == chain[-1]:
        return "curated"
    return "staged"


def session_clearance(config: LakeConfig, persona: str, session_tag: str | None = None) -> str:
    """The persona's clearance from lake.yaml, lowered (never raised) by a session tag."""
    ceiling = getattr(config.personas, persona).clearance
    if session_tag is None:
        return ceiling
    levels = config.classification
    return session_tag if levels.index(session_tag) < levels.index(ceiling) else ceiling


def expected(
    config: LakeConfig,
    persona: str,
    zone: str,
    level: str | None,
    action: str,
    *,
    clearance: str | None = None,
    secure_transport: bool = True,
) -> bool:
    """Should `persona` (with an optional session clearance) be able to `action` an object of
    `level` (None: untagged) in `zone`?"""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")
    if not secure_transport:
        return False
    column = design_zone(config, zone)
    reads, writes = column in READS[persona], column in WRITES[persona]
    levels = config.classification
    cleared = session_clearance(config, persona, clearance)
    within = level is not None and levels.index(level) <= levels.index(cleared)
    steward = persona in ADMINISTERS_TAGS
    if action in ("list", "decrypt"):
        return reads
    if action == "read":
        return reads and (within or (level is None and steward))
    if action == "write":
        if not writes:
            return False
        if steward or level is None:
            return True
        return within and column != "raw"
    # tag: declassify an existing object to the lowest level
    if steward:
        return True
    return level is None and writes and column != "raw"


def expected_matrix(
    config: LakeConfig, *, clearances: dict[str, str] | None = None, secure_transport: bool = True
) -> dict[tuple[str, str, str | None, str], bool]:
    """Every cell: (persona, zone, level or None, action) -> allowed."""
    personas = ("steward", "engineer", "scientist", "analyst")
    return {
        (persona, zone.name, level, action): expected(
            config,
            persona,
            zone.name,
            level,
            action,
            clearance=(clearances or {}).get(persona),
            secure_transport=secure_transport,
        )
        for persona in personas
        for zone in config.zones
        for level in [*config.classification, None]
        for action in ACTIONS
    }
