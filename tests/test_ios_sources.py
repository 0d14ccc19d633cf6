"""What can be checked of the iOS code on Linux, where no Swift compiler installs.

Every .swift file under ios_demo/ (Package.swift included) must parse with tree-sitter-swift
without ERROR or MISSING nodes: syntax errors are caught, type errors are not (those need Xcode
or `swift test` on a Mac). The Xcode project file must parse with the `pbxproj` package and list
every app source file, so that a file added to the folder but not to the project cannot slip by.
"""

from __future__ import annotations

import json
import plistlib
import re
import subprocess
import sys
from pathlib import Path

import pbxproj
import pytest
import tree_sitter as ts
import tree_sitter_swift as ts_swift
from golden_readers import golden_readers

ROOT = Path(__file__).resolve().parents[1]
IOS = ROOT / "ios_demo"
PROJECT = IOS / "MeshPoseApp.xcodeproj" / "project.pbxproj"
SCHEME = IOS / "MeshPoseApp.xcodeproj" / "xcshareddata" / "xcschemes" / "MeshPoseApp.xcscheme"
APP_DIR = IOS / "MeshPoseApp"
KIT_DIR = IOS / "Sources" / "MeshPoseKit"
COREML_DIR = IOS / "Sources" / "MeshPoseCoreML"


def _swift_files() -> list[Path]:
    return sorted(p for p in IOS.rglob("*.swift") if ".build" not in p.parts)


def _parser():
    return ts.Parser(ts.Language(ts_swift.language()))


def _problems(node, out: list[str]) -> None:
    if node.type == "ERROR" or node.is_missing:
        kind = "missing " + node.type if node.is_missing else "syntax error"
        out.append(f"line {node.start_point[0] + 1}, column {node.start_point[1] + 1}: {kind}")
    if node.has_error:
        for child in node.children:
            _problems(child, out)


def test_there_are_swift_sources() -> None:
    names = {p.name for p in _swift_files()}
    for required in (
        "Package.swift",
        "Sidecar.swift",
        "CropContract.swift",
        "OutputDecoder.swift",
        "GoldenTests.swift",
    ):
        assert required in names, f"{required} is missing from ios_demo/"
    assert any(p.parent == APP_DIR for p in _swift_files()), "the iOS app has no Swift sources"


@pytest.mark.parametrize("path", _swift_files(), ids=lambda p: str(p.relative_to(IOS)))
def test_swift_file_parses(path: Path) -> None:
    tree = _parser().parse(path.read_bytes())
    problems: list[str] = []
    _problems(tree.root_node, problems)
    assert not problems, f"{path.relative_to(ROOT)} does not parse: " + "; ".join(problems[:10])


def test_parser_catches_a_syntax_error() -> None:
    """The check above is only worth something if a broken file fails it."""
    problems: list[str] = []
    _problems(_parser().parse(b"func f( -> Int { return 1 }\nlet x = [1, 2\n").root_node, problems)
    assert problems


def test_package_manifest_declares_the_kit_and_its_tests() -> None:
    text = (IOS / "Package.swift").read_text()
    assert re.search(r'\.library\(\s*name:\s*"MeshPoseKit"', text)
    assert re.search(r'\.testTarget\(\s*name:\s*"MeshPoseKitTests"', text)
    # The platform-free core: Foundation only (issue 13).
    for path in sorted(KIT_DIR.glob("*.swift")):
        imports = set(re.findall(r"^\s*import\s+(\w+)", path.read_text(), flags=re.M))
        assert imports <= {"Foundation"}, f"{path.name} imports {sorted(imports - {'Foundation'})}"


def test_xcode_project_parses_and_lists_every_app_source() -> None:
    project = pbxproj.XcodeProject.load(str(PROJECT))
    names = {ref.path.split("/")[-1] for ref in project.objects.get_objects_in_section("PBXFileReference")}
    sources = [p.name for d in (APP_DIR, KIT_DIR, COREML_DIR) for p in sorted(d.glob("*.swift"))]
    missing = [n for n in sources if n not in names]
    assert not missing, f"{PROJECT.relative_to(ROOT)} does not reference {missing}"
    compiled = {
        project.objects[f.fileRef].path.split("/")[-1]
        for phase in project.objects.get_objects_in_section("PBXSourcesBuildPhase")
        for f in (project.objects[i] for i in phase.files)
    }
    not_built = [n for n in sources if n not in compiled]
    assert not not_built, f"app target does not compile {not_built}"
    resources = {
        project.objects[f.fileRef].path
        for phase in project.objects.get_objects_in_section("PBXResourcesBuildPhase")
        for f in (project.objects[i] for i in phase.files)
    }
    assert resources == {"Models", "BenchImages", "PrivacyInfo.xcprivacy"}, resources
    targets = project.objects.get_objects_in_section("PBXNativeTarget")
    assert [t.name for t in targets] == ["MeshPoseApp"]
    app_configs = [
        c for c in project.objects.get_objects_in_section("XCBuildConfiguration") if "INFOPLIST_FILE" in c.buildSettings
    ]
    assert len(app_configs) == 2
    for cfg in app_configs:
        settings = cfg.buildSettings
        assert settings["IPHONEOS_DEPLOYMENT_TARGET"] == "16.0"
        assert settings["TARGETED_DEVICE_FAMILY"] == "1"
        assert (IOS / settings["INFOPLIST_FILE"]).is_file()


def test_xcode_project_is_what_the_generator_writes() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_xcodeproj.py"), "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_info_plist_and_benchmark_launch_argument() -> None:
    info = plistlib.loads((APP_DIR / "Info.plist").read_bytes())
    assert info["NSCameraUsageDescription"]
    assert info["UIFileSharingEnabled"] is True  # the benchmark JSON in Documents shows in Finder / Files
    assert {"UIInterfaceOrientationPortrait", "UIInterfaceOrientationLandscapeLeft"} <= set(
        info["UISupportedInterfaceOrientations"]
    )
    scheme = SCHEME.read_text()
    assert 'argument = "-MeshPoseBenchmark"' in scheme
    assert "-MeshPoseBenchmark" in (APP_DIR / "MeshPoseApp.swift").read_text()
    assert any((APP_DIR / "BenchImages").glob("*.jpg")), "the benchmark needs bundled photos"


# Apple's required-reason APIs (App Store privacy manifest rules) -> a pattern that finds a use in
# the app's sources; each category used must be declared in PrivacyInfo.xcprivacy with a reason.
_REQUIRED_REASON_APIS = {
    "NSPrivacyAccessedAPICategoryFileTimestamp": r"\.modificationDate|\.creationDate|contentModificationDate|\bstat\(",
    "NSPrivacyAccessedAPICategorySystemBootTime": r"systemUptime|mach_absolute_time",
    "NSPrivacyAccessedAPICategoryDiskSpace": r"volumeAvailableCapacity|systemFreeSize|statfs",
    "NSPrivacyAccessedAPICategoryUserDefaults": r"UserDefaults",
    "NSPrivacyAccessedAPICategoryActiveKeyboards": r"activeInputModes",
}


def test_privacy_manifest_declares_what_the_app_uses() -> None:
    manifest = plistlib.loads((APP_DIR / "PrivacyInfo.xcprivacy").read_bytes())
    assert manifest["NSPrivacyTracking"] is False and manifest["NSPrivacyTrackingDomains"] == []
    # Frames are processed on the phone and nothing is sent anywhere: no collected data types.
    assert manifest["NSPrivacyCollectedDataTypes"] == []
    declared = {
        e["NSPrivacyAccessedAPIType"]: e["NSPrivacyAccessedAPITypeReasons"]
        for e in manifest["NSPrivacyAccessedAPITypes"]
    }
    app_sources = "".join(p.read_text() for d in (APP_DIR, KIT_DIR, COREML_DIR) for p in d.glob("*.swift"))
    for category, pattern in _REQUIRED_REASON_APIS.items():
        used = re.search(pattern, app_sources) is not None
        assert used == (category in declared), f"{category}: used={used}, declared={category in declared}"
    for reasons in declared.values():
        assert reasons and all(re.fullmatch(r"[0-9A-F]{4}\.\d", r) for r in reasons), reasons


def test_every_golden_area_has_a_swift_test() -> None:
    """Every golden file golden/README.md says iOS reads has a MeshPoseKit test, and no other one
    does: a new golden file needs a row there (tests/golden_readers.py), so the iOS core cannot
    drift unnoticed and a platform-specific file is a written decision, not an exemption here."""
    tests = "".join(p.read_text() for p in (IOS / "Tests" / "MeshPoseKitTests").glob("*.swift"))
    readers = golden_readers()
    loaded = {a for a in (Path(n).stem for n in readers) if f'Golden.load("{a}")' in tests}
    stated = {Path(n).stem for n, cores in readers.items() if "ios" in cores}
    assert stated, "golden/README.md names no file for iOS"
    assert not stated - loaded, (
        f"no MeshPoseKit test reads golden/{sorted(stated - loaded)} (golden/README.md says iOS does)"
    )
    assert not loaded - stated, (
        f"MeshPoseKit tests read golden/{sorted(loaded - stated)}; golden/README.md says iOS does not"
    )
    assert "abs: 0.01" in tests, "the decode test must hold Swift to 0.01 px of Python"


# --- The Swift readers against golden/schema/ (what runs of SchemaContractTests.swift here) ----------
#
# SchemaContractTests.swift checks MeshPoseKit's readers against the JSON Schemas when `swift test`
# runs on a Mac. Here the same contract is read from the Swift sources: every key Sidecar.parse and
# BenchDocument.validate refuse to do without is a required property of the schema, of the type the
# reader parses it as, and the constants and field lists the readers compare with are the schema's.

SCHEMA_DIR = ROOT / "golden" / "schema"
SWIFT_TESTS = IOS / "Tests" / "MeshPoseKitTests"
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "object": dict,
    "array": list,
    "boolean": bool,
}
# How a reader parses a value -> the JSON type it needs.
_PARSED_AS = {
    "positiveInt": "integer",
    "number": "number",
    "numbers": "array",
    "section": "object",
    "JSONRead.string": "string",
    "JSONRead.int": "integer",
    "JSONRead.double": "number",
    "JSONRead.object": "object",
    "BenchRow.string": "string",
    "BenchRow.whole": "integer",
    "BenchRow.number": "number",
}
# Sidecar.parse: `try need(obj, "key", "prefix.")` (absent or null throws) and `section(...)` (an object).
_NEED = re.compile(
    r"(?:let (?P<var>\w+) = )?(?:(?P<wrap>positiveInt|numbers|number|JSONRead\.string)\()?(?:try )?"
    r'(?P<fn>need|section)\(\w+, "(?P<key>\w+)", "(?P<prefix>[^"]*)"\)(?P<cast> as\? \[Any\])?'
)
_GUARD = re.compile(r"\bguard (.*?) else \{", re.S)
# In a guard condition: `JSONRead.string(doc["format"])`, `try BenchRow.string(d, "model")`.
_ACCESS = re.compile(r'(?P<how>JSONRead\.\w+|BenchRow\.\w+)\((?P<var>\w+)(?:\["(?P<k1>\w+)"\]|, "(?P<k2>\w+)")\)')


def _schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text())


def _resolve(root: dict, s: dict) -> dict:
    while "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/$defs/"), ref
        s = root["$defs"][ref.removeprefix("#/$defs/")]
    return s


def _has_type(s: dict, type_: str) -> bool:
    declared = s.get("type")
    if declared is not None:
        return type_ in (declared if isinstance(declared, list) else [declared])
    values = [s["const"]] if "const" in s else s.get("enum")
    py = _JSON_TYPES[type_]
    return bool(values) and all(isinstance(v, py) and (type_ == "boolean") == isinstance(v, bool) for v in values)


def _schema_problems(root: dict, needs: dict[str, str | None]) -> list[str]:
    """Each path ("input.height", "outputs[].name", "rows?[].model") required at every step not
    marked "?", its schema of the type given (None: any type)."""
    problems = []
    for path, type_ in needs.items():
        s = root
        for part in path.split("."):
            item = part.endswith("[]")
            key = part.removesuffix("[]")
            optional = key.endswith("?")
            key = key.removesuffix("?")
            s = _resolve(root, s)
            if not optional and key not in s.get("required", []):
                problems.append(f"{path}: {key} is not required")
            if key not in s.get("properties", {}):
                problems.append(f"{path}: the schema has no property {key}")
                break
            s = _resolve(root, s["properties"][key])
            if item:
                s = _resolve(root, s["items"])
        else:
            if type_ is not None and not _has_type(s, type_):
                problems.append(f"{path}: the reader parses {type_}, the schema says {s.get('type', s)}")
    return problems


def _sidecar_reader_needs(text: str) -> dict[str, str | None]:
    """Keys Sidecar.parse(jsonObject:) throws without, with the type it parses them as."""
    body = re.search(r"func parse\(jsonObject.*?\n    \}\n", text, re.S)
    assert body, "Sidecar.swift has no parse(jsonObject:)"
    body_text = body.group(0)
    needs: dict[str, str | None] = {}
    for m in _NEED.finditer(body_text):
        path = re.sub(r"\[\\\(\w+\)\]", "[]", m.group("prefix")) + m.group("key")
        cast = m.group("cast") or (m.group("var") and re.search(rf"\b{m.group('var')} as\? \[Any\]", body_text))
        how = m.group("wrap") or ("section" if m.group("fn") == "section" else None)
        needs[path] = "array" if cast else _PARSED_AS.get(how or "")
    needs.update(_guarded(body_text, {"doc": ""}))
    return needs


def _guarded(text: str, prefixes: dict[str, str]) -> dict[str, str | None]:
    """Keys read inside `guard ... else { throw }` conditions, for the variables named in `prefixes`
    (variable -> path prefix); `let v = name` in a condition also reads `name`'s own `let`."""
    lets = dict(re.findall(r"\blet (\w+) = (.+)", text))
    needs: dict[str, str | None] = {}
    for cond in _GUARD.findall(text):
        for alias in re.findall(r"\blet \w+ = (\w+)\s*(?:,|$)", cond):
            cond += " " + lets.get(alias, "")
        for m in _ACCESS.finditer(cond):
            if m.group("var") in prefixes and m.group("how") in _PARSED_AS:
                needs[prefixes[m.group("var")] + (m.group("k1") or m.group("k2"))] = _PARSED_AS[m.group("how")]
    return needs


def _swift_list(text: str, name: str) -> list:
    m = re.search(rf"static let {name} = (\[[^\]]*\])", text)
    assert m, f"no static let {name}"
    return json.loads(re.sub(r",\s*\]$", "]", m.group(1)))  # Swift allows a trailing comma


def _swift_const(text: str, name: str) -> object:
    m = re.search(rf"static let {name} = (\S+)\n", text)
    assert m, f"no static let {name}"
    return json.loads(m.group(1))


def test_keys_the_swift_sidecar_reader_needs_are_required_in_the_schema() -> None:
    text = (KIT_DIR / "Sidecar.swift").read_text()
    needs = _sidecar_reader_needs(text)
    # What the extraction must at least find (SidecarReader.java's list): a reader rewritten so that
    # the patterns above no longer see it fails here instead of passing with nothing checked.
    expected = {
        "format": "string", "format_version": "integer",
        "input": "object", "input.name": "string", "input.height": "integer", "input.width": "integer",
        "input.normalization": "object", "input.normalization.mean": "array", "input.normalization.std": "array",
        "crop": "object", "crop.input_height": "integer", "crop.input_width": "integer", "crop.box_scale": "number",
        "mesh": "object", "mesh.num_vertices": "integer",
        "outputs": "array", "outputs[].name": "string", "outputs[].shape": "array",
    }  # fmt: skip
    assert {k: needs.get(k) for k in expected} == expected, needs
    schema = _schema("sidecar.schema.json")
    assert not _schema_problems(schema, needs)
    assert schema["properties"]["format"]["const"] == _swift_const(text, "format")
    assert schema["properties"]["format_version"]["const"] == _swift_const(text, "supportedVersion")


def test_keys_the_swift_bench_reader_needs_are_required_in_the_schema() -> None:
    text = (KIT_DIR / "BenchStats.swift").read_text()
    needs = _guarded(text, {"doc": "", "machine": "machine.", "d": "rows?[]."})
    expected = {
        "schema": "string", "schema_version": "integer", "machine": "object", "machine.name": "string",
        "rows?[].model": "string", "rows?[].runtime": "string", "rows?[].precision": "string",
    }  # fmt: skip
    assert needs == expected
    schema = _schema("bench-results.schema.json")
    assert not _schema_problems(schema, needs)
    assert schema["properties"]["schema"]["const"] == _swift_const(text, "schema")
    assert schema["properties"]["schema_version"]["enum"] == _swift_list(text, "readableVersions")
    row = schema["$defs"]["row"]["properties"]
    # Field lists in schema order: BenchRow writes its fields in this order (PythonJSON keeps it).
    assert list(row) == _swift_list(text, "fieldNames")
    assert list(row["stages_ms"]["anyOf"][1]["properties"]) == _swift_list(text, "names")
    assert row["status"]["enum"] == _swift_list(text, "statuses")
    assert row["scope"]["enum"] == _swift_list(text, "scopes")


def test_the_schema_cross_check_catches_a_key_the_schema_does_not_require() -> None:
    schema = _schema("sidecar.schema.json")
    assert _schema_problems(schema, {"weights": "string"}) == ["weights: weights is not required"]
    assert _schema_problems(schema, {"input.height": "string"})
    assert _schema_problems(schema, {"format_version": "string"})
    found = _sidecar_reader_needs('func parse(jsonObject x: Any) {\n    let w = try need(doc, "weights", "")\n    }\n')
    assert found == {"weights": None}


def test_swift_schema_tests_cover_every_golden_file_ios_reads() -> None:
    text = (SWIFT_TESTS / "SchemaContractTests.swift").read_text()
    files = _swift_list(text, "goldenFiles")
    stated = sorted(Path(n).stem for n, cores in golden_readers().items() if "ios" in cores)
    assert files == stated, f"SchemaContractTests.goldenFiles {files}; golden/README.md says iOS reads {stated}"
    for name in files:
        assert (SCHEMA_DIR / f"golden-{name}.schema.json").is_file(), name
    # The keywords MiniSchema.swift implements cover every keyword the schemas use (it throws on others).
    implemented = set(_swift_list(text, r"keywords: Set<String>")) | set(_swift_list(text, r"annotations: Set<String>"))
    used: set[str] = set()

    def walk(s: object) -> None:
        if isinstance(s, dict):
            for key, value in s.items():
                used.add(key)
                if key in ("properties", "$defs"):
                    for sub in value.values():
                        walk(sub)
                elif key not in ("enum", "const", "required"):
                    walk(value)
        elif isinstance(s, list):
            for sub in s:
                walk(sub)

    for path in SCHEMA_DIR.glob("*.schema.json"):
        walk(json.loads(path.read_text()))
    assert used <= implemented, f"MiniSchema (Swift) lacks {sorted(used - implemented)}"
