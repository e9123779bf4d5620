"""The post-flip watch (promotion.postFlip): the analysis re-checked for its bake after the flip."""

from __future__ import annotations

from cli.release import walk
from cli.release.interfaces import Interrupted
from cli.release.record import EXIT_SIGNAL, StepRecord
from cli.release.session import Session
from cli.release.steps import FLIP, Step, duration_text, floor_key


def post_flip(s: Session, flip: Step) -> bool:
    """After the flip: re-check the analysis through promotion.postFlip.bake. A failure raises (the abort flips
    back); a signal leaves the flip in place: False, with the outcome set."""
    plan, out = s.plan, s.outcome
    record = StepRecord("watch", "post-flip", live=plan.split(FLIP))
    out.records.append(record)
    s.progress.line(f"post-flip watch: {plan.released} 100% for {duration_text(plan.post_flip_seconds)}, {plan.active} kept for a revert")
    try:
        walk.bake(s, flip, record, plan.post_flip_seconds)
    except Interrupted as err:
        record.result, record.reason = "interrupted", "the flip stays in place"
        out.exit_code = EXIT_SIGNAL[err.signal_name]
        out.summary = (
            f"{plan.app}: {err.signal_name} during the post-flip watch: the flip to {plan.released} stays in place "
            f"(not reverted); to undo it: make rollback APP={plan.app}"
        )
        if plan.autoscaled:  # the floor's own edit would be one more `up` after a signal: left to the user
            out.summary += f"; {plan.released}'s raised HPA floor stays until you remove {floor_key(plan)}"
        s.progress.line(out.summary)
        s.tell("abort", out.summary, reason=f"interrupted ({err.signal_name})")
        return False
    record.result = "done"
    return True
