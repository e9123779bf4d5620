"""An abort: say where and why the release stopped, then restore the routing it started from (one more edit and `up`)."""

from __future__ import annotations

from cli.edits import changes
from cli.release.hook import HookFailed
from cli.release.interfaces import Interrupted, UpFailed
from cli.release.record import EXIT_ABORTED, EXIT_SIGNAL, Outcome, StepRecord, first_line
from cli.release.session import Session
from cli.release.steps import plan_restore, split_text
from components.app.promotion_gate import GateRefused


def abort(s: Session, err: Exception) -> Outcome:
    plan, out = s.plan, s.outcome
    reason = str(err).strip()
    # A signal also ends an `up` it cancelled: that failure is the interruption.
    signal_name = err.signal_name if isinstance(err, Interrupted) else s.stop.wait(0)
    failed = out.records[-1] if out.records else None
    if failed is not None:
        failed.result, failed.reason = ("interrupted" if signal_name else "failed"), first_line(reason)
        if failed.live == "?":  # the up failed: say where routing stayed
            live = s.target.routing(plan.app, plan.namespace)
            failed.live = split_text(live) if live else "?"
    shown = f"{failed.weight}%" if failed and isinstance(failed.weight, int) else failed.weight if failed else ""
    where = f"step {failed.label} ({plan.released} {shown})" if failed else "before the first step"
    # pulumi's output and the gate's report were shown as they came: here only the line that says why.
    s.progress.line(f"ABORT at {where}: {first_line(reason) if isinstance(err, (UpFailed, GateRefused)) else reason}")
    out.exit_code = EXIT_SIGNAL.get(signal_name, EXIT_ABORTED) if signal_name else EXIT_ABORTED
    s.tell("abort", f"release of {plan.released} aborted at {where}", reason=first_line(reason))
    restored = _restore(s) if s.touched else "nothing was changed"
    if s.touched:
        s.tell("revert", f"{plan.app}: {restored}", live=s.outcome.records[-1].live)
    out.summary = f"{plan.app}: release of {plan.released} aborted at {where}: {first_line(reason)}; {restored}"
    return out


def _restore(s: Session) -> str:
    plan = s.plan
    record = StepRecord("abort", "restore")
    s.outcome.records.append(record)
    started = s.clock()
    try:
        change, _ = s.edit(lambda config: plan_restore(config, plan))
        s.progress.line(f"restore: {change.sentence if change.edits else 'the stack file already has it'}")
        if change.edits:
            try:
                s.hook(f"release {plan.app} on {s.stack} aborted: restore {change.after.split_text()}")
            except HookFailed as err:  # live routing goes back all the same; git is told after
                record.reason = f"{err}; commit Pulumi.{s.stack}.yaml by hand"
        s.progress.status("restore: pulumi up")
        s.target.up(s.progress.line)
    except (UpFailed, changes.Refused) as err:
        record.result, record.reason = "failed", first_line(str(err))
        return f"RESTORE FAILED ({first_line(str(err))}): check the live routing and run `pulumi up -s {s.stack}`"
    finally:
        record.up_seconds = s.clock() - started
    live = s.target.routing(plan.app, plan.namespace)
    record.live, record.result = (split_text(live) if live else "?"), "restored"
    return f"routing restored to {record.live}"
