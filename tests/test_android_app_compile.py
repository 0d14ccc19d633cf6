"""The Kotlin compile check of the Android app (android_demo/compile_check/, run by
`make test-android-app`): pinned to the Kotlin version the Gradle build declares, its stubs listed,
and proven to bite: a wrong call into the Java core and a call to a core method that does not exist
fail the compile. It checks our code against our stubs, not against Google's libraries."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ANDROID = REPO / "android_demo"
CHECK = ANDROID / "compile_check"
KOTLINC = CHECK / "node_modules" / "kotlin-compiler" / "bin" / "kotlinc"


def test_compiler_is_the_kotlin_version_the_gradle_build_declares() -> None:
    gradle = (ANDROID / "build.gradle.kts").read_text()
    declared = re.search(r'id\("org\.jetbrains\.kotlin\.android"\) version "([^"]+)"', gradle).group(1)
    package = json.loads((CHECK / "package.json").read_text())
    lock = json.loads((CHECK / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/kotlin-compiler"]
    assert package["dependencies"]["kotlin-compiler"] == declared, "an exact pin, equal to the Gradle build's Kotlin"
    assert entry["version"] == declared
    # npm ci refuses a tarball whose hash differs from this one.
    assert entry["integrity"].startswith("sha512-")


def test_every_stub_is_listed_in_the_readme() -> None:
    readme = (CHECK / "README.md").read_text()
    stubs = sorted(p.relative_to(CHECK / "stubs").with_suffix("") for p in (CHECK / "stubs").rglob("*.java"))
    assert stubs
    missing = [str(s) for s in stubs if ".".join(s.parts) not in readme]
    assert not missing, f"stubs not listed in compile_check/README.md: {missing}"
    assert "not against Google's libraries" in readme


def _compile(core: Path, app: Path) -> subprocess.CompletedProcess[str]:
    if not KOTLINC.exists():
        pytest.fail("the Kotlin compiler is not installed: run `make test-android-app` (make test does)")
    return subprocess.run(
        ["bash", str(CHECK / "compile.sh"), str(core), str(app)],
        capture_output=True,
        text=True,
        timeout=900,
    )


def _inject(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new))


@pytest.mark.slow
def test_a_wrong_call_into_the_core_fails_the_compile(tmp_path: Path) -> None:
    """Two faults, one compile: arguments swapped in a call into the core, and a core method renamed."""
    core = tmp_path / "core"
    app = tmp_path / "app"
    shutil.copytree(ANDROID / "core" / "src" / "main" / "java", core)
    shutil.copytree(ANDROID / "app" / "src" / "main" / "java", app)
    demo = app / "org" / "meshpose" / "demo"
    # Kotlin calls PersonTracker.applyMesh(int, double[], double[]): swapped, the types no longer fit.
    _inject(
        demo / "MeshPipeline.kt",
        "tr.applyMesh(track.id, mesh.xy(), mesh.visibility)",
        "tr.applyMesh(mesh.xy(), track.id, mesh.visibility)",
    )
    # The core loses a method the app calls.
    _inject(
        core / "org" / "meshpose" / "core" / "DelegateReport.java",
        "public static DelegateReport of(String requested, List<String> lines)",
        "public static DelegateReport from(String requested, List<String> lines)",
    )
    result = _compile(core, app)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert re.search(r"MeshPipeline\.kt:\d+:\d+: error: (type mismatch|argument type mismatch)", out), out
    assert re.search(r"ModelRunner\.kt:\d+:\d+: error: unresolved reference: of", out), out
