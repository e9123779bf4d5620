"""Run the real Pulumi program in-process under a recording mock engine (no CLI, no cloud).

The monitor records every registration as the engine would see it: type, name, parent,
dependencies, provider and the serialized inputs. Invokes get plausible placeholder answers,
each recorded so the plan can say what it made up.
"""

from __future__ import annotations

import base64
import binascii
import logging
import pickletools
import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import Stack, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from cli.engine.collector import fewer_collections
from cli.engine.placeholders import COMPUTED, INVOKE_ANSWERS
from cli.engine.recording import Invoke, Recording, Registration
from cli.shared.paths import ROOT
from components.shared.fields import whole_numbers

DYNAMIC_PROVIDER_KEY = "__provider"


def dynamic_provider_label(serialized: str) -> str:
    """A dynamic resource's `__provider` input (a base64 pickle) as `<dynamic provider module.Class>`.

    Read from the pickle's opcodes, never unpickled: the class a provider instance references.
    """
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(base64.b64decode(serialized, validate=True)):
            if isinstance(arg, str) and "UNICODE" in opcode.name:
                strings.append(arg)
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found = ".".join(strings[-2:])
                break
            elif opcode.name == "GLOBAL":
                found = str(arg).replace(" ", ".")
                break
        else:
            found = None
    except (binascii.Error, ValueError):
        found = None
    if found is None or found.startswith("dill."):
        return f"<dynamic provider pickled by value, {len(serialized)} base64 characters>"
    return f"<dynamic provider {found}>"


def _readable_inputs(type_: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Dynamic resources carry their pickled provider as an input: show which provider, deterministically."""
    serialized = inputs.get(DYNAMIC_PROVIDER_KEY)
    if not type_.startswith("pulumi-python:dynamic") or not isinstance(serialized, str):
        return inputs
    return {**inputs, DYNAMIC_PROVIDER_KEY: dynamic_provider_label(serialized)}


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, recording: Recording, preview: bool = False):
        self.recording = recording
        self.preview = preview
        # The inputs new_resource was last given on each thread (the SDK registers from a pool of threads), already
        # deserialized by the MockMonitor: RecordingMonitor records them instead of deserializing them again.
        self.received = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.received.inputs = args.inputs
        computed = COMPUTED.get(args.typ, lambda name, inputs: {})(args.name, args.inputs)
        if self.preview:  # a preview leaves an output the engine does not send unknown
            return f"{args.name}-id", {**args.inputs, **computed}
        # Outside a preview the SDK takes each output the engine does not send from the inputs: the same values
        # as echoing them all back, without serializing every input a second time (a few ms per app).
        return f"{args.name}-id", computed

    def call(self, args: pulumi.runtime.MockCallArgs):
        answer = INVOKE_ANSWERS.get(args.token, lambda a: {})(args.args)
        self.recording.invokes.append(Invoke(args.token, whole_numbers(args.args), answer))
        return answer


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recording: Recording, preview: bool = False):
        self._mocks = _Mocks(recording, preview)
        super().__init__(self._mocks)
        self.recording = recording

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = self._mocks.received.inputs
            self.recording.resources.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    dependencies=sorted(set(request.dependencies)),
                    provider=request.provider,
                    custom=request.custom,
                    inputs=_readable_inputs(request.type, whole_numbers(_revealed(inputs))),
                    options=_options(request, inputs),
                )
            )
        return response

    def ReadResource(self, request):
        self.recording.reads.append((request.type, request.name, request.id))
        return super().ReadResource(request)


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _has_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return any(_has_secret(child) for child in children)


def _revealed(value: Any) -> Any:
    """Inputs as sent, secrets unwrapped: the offline plan's manifests and policies read the values (a `secure:`
    config value is already a placeholder there); which inputs were secret is kept in options.secretInputs.
    Map keys come sorted: the engine's protobuf maps iterate in hash order, which means nothing to a reader."""
    if _is_secret(value):
        return _revealed(value.get("value"))
    if isinstance(value, dict):
        return {k: _revealed(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def _options(request, inputs: dict[str, Any]) -> dict[str, Any]:
    """The request's resource options that say something, and which of its `inputs` (deserialized) are secret."""
    options = {
        "protect": request.protect,
        "deleteBeforeReplace": request.deleteBeforeReplace,
        "ignoreChanges": list(request.ignoreChanges),
        "replaceOnChanges": list(request.replaceOnChanges),
        "retainOnDelete": request.retainOnDelete,
        "aliases": [json_format.MessageToDict(alias) for alias in request.aliases],
        "secretInputs": sorted(key for key, value in inputs.items() if _has_secret(value)),
    }
    return {k: v for k, v in options.items() if v}


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """For every resource the SDK walks the Python stack, reading source lines, to tell the engine where the program
    created it. Nothing here records that, and it was about an eighth of the CPU time of planning an app: the SDK
    sends an empty trace instead, as it does when it finds no user frame."""
    original = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


class _WarningLog(logging.Handler):
    def __init__(self, recording: Recording):
        super().__init__(logging.WARNING)
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.warnings.append(record.getMessage())


def run_program(
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
    program: Path = ROOT / "__main__.py",
    project: str = "bluegreen-platform",
    recording: Recording | None = None,
    preview: bool = False,
) -> Recording:
    """Evaluate `program` for `stack` with `config` (engine form: `project:key` -> text).

    Pass `recording` to inspect what was registered even when the program raises; `preview` evaluates
    the program as `pulumi preview` would (dry run).
    """
    recording = recording if recording is not None else Recording()
    logger = logging.getLogger(f"bluegreen.plan.{stack}")
    logger.propagate = False
    logger.handlers = [_WarningLog(recording)]
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        _Mocks(recording, preview),
        project=project,
        stack=stack,
        organization="organization",  # the diy backend's name for every organization
        preview=preview,
        logger=logger,
        monitor=RecordingMonitor(recording, preview),
    )
    set_all_config(config, secret_keys or [])
    stack_resource = settings.get_root_resource()
    assert isinstance(stack_resource, Stack), "set_mocks makes the root Stack resource"

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    with _without_source_positions(), fewer_collections():
        _sync_await(run_pulumi_func(run))
    recording.outputs = whole_numbers(_sync_await(_resolve(stack_resource.outputs)))
    recording.settle()
    return recording


async def _resolve(outputs: dict[str, Any]) -> dict[str, Any]:
    return {key: await pulumi.Output.from_input(value).future() for key, value in outputs.items()}
