"""The policy pack: `pulumi preview --policy-pack policy` serves these policies to the engine."""

from guardrails_pack import PACK_NAME, build_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Security and reliability baseline of the Spotify pipeline.",
)
