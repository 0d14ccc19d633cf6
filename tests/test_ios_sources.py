"""What can be checked of the iOS code on Linux, where no Swift compiler installs.

Every .swift file under ios_demo/ (Package.swift included) must parse with tree-sitter-swift
without ERROR or MISSING nodes: syntax errors are caught, type errors are not (those need Xcode
or `swift test` on a Mac). The Xcode project file must parse with the `pbxproj` package and list
every app source file, so that a file added to the folder but not to the project cannot slip by.
"""

from __future__ import annotations

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
