"""The Python versions the package declares are the ones its code runs on."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Interpreter features the code relies on, with the first Python that has them.
NEEDS = {"co_qualname": (3, 11)}


def _declared_minimum():
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\s*", spec)
    assert match, f"requires-python should be a plain lower bound, got {spec!r}"
    return int(match.group(1)), int(match.group(2))


def test_requires_python_is_no_older_than_the_interpreter_features_the_code_uses():
    sources = [p for folder in ("ppl_kernel", "extension") for p in (ROOT / folder).rglob("*.py")]
    used = {feature: version for feature, version in NEEDS.items()
            if any(feature in p.read_text(encoding="utf-8") for p in sources)}
    assert used, "the feature table is stale: no module uses any of its features"
    oldest = _declared_minimum()
    for feature, version in used.items():
        assert oldest >= version, f"the code uses {feature} (Python {version}), but requires-python allows {oldest}"
