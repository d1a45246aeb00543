"""The documentation: builds without warnings (mkdocs --strict: broken links, bad API references),
documents every public name and every schema key, and its examples are valid."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pprl

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
STAGES = ["encode", "block", "compare", "solve", "disclosure", "datasets", "plots", "attack", "job"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_mkdocs_build_strict(site):
    assert (site / "reference" / "index.html").exists()
    for page in ("getting-started", "schema", "privacy", "performance", "notebooks",
                 "guides/agency-developer", "guides/researcher", "guides/managing-entity",
                 "guides/publishing"):
        assert (site / page / "index.html").exists(), page


@pytest.mark.parametrize("stage", STAGES)
def test_reference_lists_every_public_name(site, stage):
    module = importlib.import_module(f"pprl.{stage}")
    html = (site / "reference" / stage / "index.html").read_text("utf-8")
    documented = {name: getattr(module, name) for name in module.__all__
                  if callable(getattr(module, name)) and _has_docstring(getattr(module, name))}
    assert documented, stage
    # listed under the stage, or (a function shadowed by its own module) under its module
    missing = [n for n, obj in documented.items()
               if f'id="pprl.{stage}.{n}"' not in html
               and f'id="{obj.__module__}.{obj.__qualname__}"' not in html]
    assert not missing, f"pprl.{stage}: not in the API reference: {missing}"
    role = re.search(r":(func|class|meth|mod|data|attr|exc):", html)
    assert role is None, f"pprl.{stage}: a Sphinx role was not turned into a link: {role}"


def _has_docstring(obj) -> bool:
    """A docstring written by hand (not the signature dataclasses put in ``__doc__``)."""
    doc = obj.__doc__
    if not doc:
        return False
    return not (dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("))


def test_reference_lists_shared_types(site):
    html = (site / "reference" / "index.html").read_text("utf-8")
    for name in ("Secret", "Encodings", "Candidates"):
        assert f'id="pprl.{name}"' in html, name
    for name in ("PprlError", "DataError", "SchemaError", "IncompatibleEncodingsError"):
        assert f'id="pprl.errors.{name}"' in html, name


def _meta_schema() -> dict:
    path = ROOT / "src" / "pprl" / "encode" / "schemas" / "pprl-linkage-schema-v1.json"
    return json.loads(path.read_text("utf-8"))


def _keys(node: dict) -> set[str]:
    """Property names a JSON Schema node allows, through oneOf/allOf/then branches."""
    keys = set(node.get("properties", {}))
    for branch in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(branch, []):
            keys |= _keys(sub)
    for sub in (node.get("then"), node.get("else")):
        if isinstance(sub, dict) and "$ref" not in sub:
            keys |= _keys(sub)
    return keys


def test_schema_reference_documents_every_key():
    meta = _meta_schema()
    text = (DOCS / "schema.md").read_text("utf-8")
    keys = _keys(meta) - {"$schema"}
    for name, node in meta["definitions"].items():
        keys |= _keys(node)
        if name == "hardening":
            for sub in node.get("properties", {}).values():
                keys |= _keys(sub)
    undocumented = sorted(k for k in keys if f"`{k}`" not in text and f"`{k}." not in text)
    assert not undocumented, f"schema.md does not mention: {undocumented}"


def _code_blocks(lang: str) -> list[tuple[str, str]]:
    blocks = []
    for page in sorted(DOCS.rglob("*.md")):
        for m in re.finditer(rf"^```{lang}\n(.*?)^```", page.read_text("utf-8"), re.M | re.S):
            blocks.append((str(page.relative_to(ROOT)), m.group(1)))
    return blocks


def test_every_complete_schema_example_is_valid():
    examples = [(p, b) for p, b in _code_blocks("json") if '"pprl-linkage-schema"' in b]
    assert examples
    for page, block in examples:
        schema = pprl.Schema.from_dict(json.loads(block))
        assert schema.columns, page


def test_every_toml_example_parses():
    examples = _code_blocks("toml")
    assert examples
    for page, block in examples:
        try:
            tomllib.loads(block)
        except tomllib.TOMLDecodeError as err:
            pytest.fail(f"{page}: {err}")


def test_performance_page_has_one_generated_section():
    text = (DOCS / "performance.md").read_text("utf-8")
    assert text.count("<!-- benchmarks:begin -->") == 1
    assert text.count("<!-- benchmarks:end -->") == 1
    generated = text.split("<!-- benchmarks:begin -->")[1].split("<!-- benchmarks:end -->")[0]
    assert "| stage | measure | pprl |" in generated


def test_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text("utf-8")
    assert len(text.splitlines()) < 120
    assert "python3 dev.py demo" in text and "python3 dev.py test" in text
    assert "shields.io" not in text and "badge" not in text.lower()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
