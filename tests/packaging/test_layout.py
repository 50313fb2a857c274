"""The distribution ships every subpackage and keeps the one-way data flow.

Layers, lowest first: systems <- scoring <- optimizer <- the application layer (``cotclip``
itself: the public API and the CLI in ``cotclip/``). ``prompts`` is data the optimizer reads.
"""

from __future__ import annotations

import ast
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAPPING = {
    "systems": "cotclip.systems",
    "scoring": "cotclip.scoring",
    "optimizer": "cotclip.optimizer",
    "prompts": "cotclip.prompts",
    "cotclip": "cotclip",
}
LIBRARIES = ("cotclip.systems", "cotclip.scoring", "cotclip.optimizer", "cotclip.prompts")
# Each layer may import only from the layers listed for it; "cotclip" is the application layer.
ALLOWED = {
    "cotclip.systems": {"cotclip.systems"},
    "cotclip.scoring": {"cotclip.systems", "cotclip.scoring"},
    "cotclip.optimizer": {"cotclip.systems", "cotclip.scoring", "cotclip.optimizer", "cotclip.prompts"},
    "cotclip": {*LIBRARIES, "cotclip"},
}


def _python_packages() -> set[str]:
    found = set()
    for folder, dotted in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((dotted, *relative)))
    return found


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    missing = sorted(_python_packages() - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def _imported_cotclip_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_cotclip(node.module):
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.add(f"<relative import at line {node.lineno}>")
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if _is_cotclip(a.name))
    return names


def _is_cotclip(module: str) -> bool:
    return module == "cotclip" or module.startswith("cotclip.")


def _layer(module: str) -> str:
    """The layer a module belongs to: one of the libraries, or the application layer ``cotclip``."""
    top = ".".join(module.split(".")[:2])
    return top if top in LIBRARIES else "cotclip"


def test_data_flows_one_way():
    violations = []
    for folder, layer in MAPPING.items():
        if layer not in ALLOWED:
            continue
        for path in (ROOT / folder).rglob("*.py"):
            for module in _imported_cotclip_modules(path):
                if module.startswith("<") or _layer(module) not in ALLOWED[layer]:
                    violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, violations


def test_the_layer_check_sees_the_application_layer():
    """A library module importing the API or the CLI would be a violation (guards _layer itself)."""
    assert _layer("cotclip") == "cotclip" and _layer("cotclip.cli._app") == "cotclip"
    assert _layer("cotclip.api.evaluation") == "cotclip"
    assert _layer("cotclip.scoring.deploy.classifier") == "cotclip.scoring"
    assert "cotclip" not in ALLOWED["cotclip.optimizer"]
