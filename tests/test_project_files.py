"""Project and stack files: Pulumi.yaml matches Pulumi's schema, every stack file is a valid config."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from cli.stackfile.read import project_name, read_stack_config
from components.config import parse_stack_config, project_config
from tests.conftest import PROJECT, ROOT, SHARED


@pytest.mark.skipif(not (SHARED / "schemas" / "pulumi-project.json").exists(), reason="../shared not present")
def test_pulumi_yaml_matches_the_published_schema():
    schema = json.loads((SHARED / "schemas" / "pulumi-project.json").read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "Pulumi.yaml").read_text()), schema)


def test_project_name_is_the_config_namespace():
    assert project_name(ROOT) == PROJECT


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_stack_file_is_valid(stack):
    config, _ = read_stack_config(ROOT / f"Pulumi.{stack}.yaml", PROJECT)
    assert parse_stack_config(project_config(config, PROJECT), stack=stack).apps
