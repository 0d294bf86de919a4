"""Generated files, and the one way each format is written: YAML and JSON by their libraries,
never by joining strings, so a value holding a colon or a quote cannot break a document."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Artifact:
    """One file of a target's output, ``path`` relative to the output folder."""

    path: str
    content: str

    def write(self, folder: Path) -> Path:
        target = folder / self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.content, encoding="utf-8")
        return target


class _Dumper(yaml.SafeDumper):
    """Block style throughout, and multi-line strings as literal blocks, for people to read.

    No anchors or aliases: a value used twice (one environment for web and worker) is written
    out twice, as the tools reading these files expect and people reading them can follow."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(document: Any, *more: Any) -> str:
    """One YAML document, or several separated by ``---`` (as Kubernetes manifests are)."""
    return yaml.dump_all(
        [document, *more], Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100
    )


def to_json(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"


def load_yaml(text: str) -> Any:
    return yaml.safe_load(text)
