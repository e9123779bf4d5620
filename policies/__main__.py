"""CrossGuard entry point: `pulumi preview --policy-pack policies [--policy-pack-config policies/config/prod.json]`.

Constructing PolicyPack starts the analyzer's gRPC server and blocks, so nothing else may import
this file; the rules live in `guardrails/` where tests and the offline plan import them.
"""

from guardrails.catalog import PACK_NAME
from guardrails.crossguard import build_policies
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, policies=build_policies())
