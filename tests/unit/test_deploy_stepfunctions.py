"""The stepfunctions target: the library's enrichment as a Distributed Map state machine, its
SAM template translated by aws-sam-translator and linted by cfn-lint, its definition checked
by npm's asl-validator (installed by make install-dev)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyferry.config import ConfigurationError
from skyferry.deploy import cloudformation, stepfunctions
from skyferry.deploy.artifacts import load_yaml
from tests.deploy_support import assert_golden, model_of

ASL = "statemachine/library-enrich.asl.json"


@pytest.fixture(scope="module")
def cfn_lint() -> None:
    """cfn-lint takes seconds to import: once for this module (the module caches it)."""
    cloudformation._lint_module()


def _files(artifacts: list[Any]) -> dict[str, str]:
    return {a.path: a.content for a in artifacts}


@pytest.mark.usefixtures("cfn_lint")
def test_golden_stepfunctions(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = stepfunctions.generate(model_of(monkeypatch))
    assert_golden("stepfunctions", artifacts)
    assert stepfunctions.check(_files(artifacts)) == []


def test_the_map_reads_s3_batches_and_writes_its_results(monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(stepfunctions.generate(model_of(monkeypatch)))
    states = json.loads(files[ASL])["States"]
    items = states["Items"]
    assert items["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert items["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert items["ItemBatcher"]["MaxItemsPerBatch"] == 10
    # the library's 100 books at once, in batches of 10
    assert items["MaxConcurrency"] == 10
    assert items["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    assert items["Next"] == "Aggregate"
    machine = load_yaml(files["template.yaml"])["Resources"]["LibraryEnrichStateMachine"]
    assert machine["Properties"]["DefinitionUri"] == ASL
    statements = machine["Properties"]["Policies"][1]["Statement"]
    # results go under the map's own prefix only
    writes = next(s for s in statements if "s3:PutObject" in s["Action"])
    assert writes["Resource"]["Fn::Join"][1][1] == "/skyferry/stepfunctions/library-enrich/*"


def test_a_changed_setting_changes_the_state_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(
        stepfunctions.generate(model_of(monkeypatch, SKYFERRY_LIBRARY__CONCURRENCY="35"))
    )
    assert json.loads(files[ASL])["States"]["Items"]["MaxConcurrency"] == 4
    env = load_yaml(files["template.yaml"])["Resources"]["FanOutFunction"]["Properties"]
    assert env["Environment"]["Variables"]["SKYFERRY_LIBRARY__CONCURRENCY"] == "35"


def test_the_validator_catches_a_broken_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(stepfunctions.generate(model_of(monkeypatch)))
    broken = json.loads(files[ASL])
    broken["States"]["Items"]["Next"] = "Nowhere"
    found = stepfunctions.validate_asl({ASL: json.dumps(broken)})
    assert len(found) == 1
    assert "Nowhere" in found[0]


def test_an_app_without_maps_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_of(monkeypatch, SKYFERRY_SERVICES="demo")
    with pytest.raises(ConfigurationError, match="no enabled service declares a DistributedMap"):
        stepfunctions.generate(model)
