"""`make release STACK=<s> APP=<a>`: walk the idle color through `apps.<app>.promotion.steps`, one real `pulumi up` per step.

Stack config stays the only writer of routing: each step is the guarded edit `make canary` / `make flip` make
(cli/edits, comments kept), then `pulumi up`, whose switch gate checks readiness, and metrics with
`promotion.analysis`, before the VirtualService moves. Below 100 a step then holds for `promotion.bake`,
re-checking the analysis with the gate's own check (components/app/promotion_gate.py). 100 is the flip and
ends the release; with `promotion.postFlip` the analysis is watched for its bake after it, and a failure
flips back (a signal during that watch leaves the flip in place).

With `autoscaling`, each weighted step first counts the active color's live replicas (what its HPA runs) and,
when the released color's share of them (rounded up) is above its HPA floor, the step's edit also sets
`autoscaling.floors.<released>` to that number, so its HPA scales it up before the switch gate lets the share
move. After the flip (and the post-flip watch) one more edit and `up` remove that floor again.

Any failure aborts: the routing the release started from (its activeColor, canaryWeight 0) is restored
with one more edit and `up`. A release always starts from canaryWeight 0, so that start is derived from
the stack file, never stored: after a hard stop the app sits at a step and a re-run continues from it.

The stack is reached through a `Target` (cli/release/run.py: the Automation API), so the runner here is
tested against a fake one.

The parts: the step plan (steps.py, pure), what a release drives (interfaces.py), its record (record.py),
the runner (runner.py) with one module per phase over a shared Session (session.py): walk.py (edit, `up`,
bake), floors.py (HPA floors), watch.py (the post-flip watch), abort.py (abort and restore); run.py wires it
to the real stack.
"""
