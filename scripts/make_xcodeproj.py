"""Write ios_demo/MeshPoseApp.xcodeproj (project file and shared scheme) from the source folders.

The iOS app target compiles ios_demo/MeshPoseApp/*.swift together with the MeshPoseKit and
MeshPoseCoreML sources (one module: no package resolution step, opens in any Xcode 15+), and
copies the folder references MeshPoseApp/Models (where the exported .mlpackage and its .json go)
and MeshPoseApp/BenchImages, and the privacy manifest MeshPoseApp/PrivacyInfo.xcprivacy. Object
ids are derived from names, so the output is stable and tests/test_ios_sources.py can check that
the checked-in project is what this script writes.

    python scripts/make_xcodeproj.py          # rewrite
    python scripts/make_xcodeproj.py --check  # exit 1 when the checked-in project is stale
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IOS = ROOT / "ios_demo"
PROJECT_DIR = IOS / "MeshPoseApp.xcodeproj"
PBXPROJ = PROJECT_DIR / "project.pbxproj"
SCHEME = PROJECT_DIR / "xcshareddata" / "xcschemes" / "MeshPoseApp.xcscheme"
GROUPS = (
    ("MeshPoseApp", "MeshPoseApp"),
    ("MeshPoseKit", "Sources/MeshPoseKit"),
    ("MeshPoseCoreML", "Sources/MeshPoseCoreML"),
)
FOLDERS = ("Models", "BenchImages")
PRIVACY_MANIFEST = "PrivacyInfo.xcprivacy"
BENCH_ARGUMENT = "-MeshPoseBenchmark"


def oid(*parts: str) -> str:
    return hashlib.md5("/".join(parts).encode()).hexdigest()[:24].upper()


def _quote(value: str) -> str:
    safe = value and all(c.isalnum() or c in "._/$" for c in value) and "$(" not in value
    return value if safe else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _settings(d: dict[str, str | list[str]], indent: str) -> str:
    lines = []
    for key in sorted(d):
        v = d[key]
        if isinstance(v, list):
            inner = "".join(f"{indent}\t\t{_quote(x)},\n" for x in v)
            lines.append(f"{indent}\t{key} = (\n{inner}{indent}\t);\n")
        else:
            lines.append(f"{indent}\t{key} = {_quote(v)};\n")
    return "".join(lines)


def build() -> tuple[str, str]:
    target = oid("target", "MeshPoseApp")
    project = oid("project")
    main_group = oid("group", "main")
    products_group = oid("group", "Products")
    product = oid("product", "MeshPoseApp.app")
    sources_phase = oid("phase", "sources")
    resources_phase = oid("phase", "resources")
    frameworks_phase = oid("phase", "frameworks")
    project_configs = oid("configlist", "project")
    target_configs = oid("configlist", "target")

    file_refs: list[str] = []
    build_files: list[str] = []
    groups: list[str] = []
    source_entries: list[str] = []
    resource_entries: list[str] = []
    group_ids: list[str] = []

    for name, rel in GROUPS:
        gid = oid("group", rel)
        group_ids.append(gid)
        children = []
        for path in sorted((IOS / rel).glob("*.swift")):
            ref = oid("file", rel, path.name)
            bf = oid("build", rel, path.name)
            children.append(f"\t\t\t\t{ref} /* {path.name} */,\n")
            file_refs.append(
                f"\t\t{ref} /* {path.name} */ = {{isa = PBXFileReference; lastKnownFileType = sourcecode.swift; "
                f'path = {_quote(path.name)}; sourceTree = "<group>"; }};\n'
            )
            build_files.append(
                f"\t\t{bf} /* {path.name} in Sources */ ="
                f" {{isa = PBXBuildFile; fileRef = {ref} /* {path.name} */; }};\n"
            )
            source_entries.append(f"\t\t\t\t{bf} /* {path.name} in Sources */,\n")
        if name == "MeshPoseApp":
            plist = oid("file", rel, "Info.plist")
            children.append(f"\t\t\t\t{plist} /* Info.plist */,\n")
            file_refs.append(
                f"\t\t{plist} /* Info.plist */ = {{isa = PBXFileReference; lastKnownFileType = text.plist.xml; "
                f'path = Info.plist; sourceTree = "<group>"; }};\n'
            )
            # The privacy manifest is a resource at the bundle's top level (App Store requirement).
            ref = oid("file", rel, PRIVACY_MANIFEST)
            bf = oid("build", rel, PRIVACY_MANIFEST)
            children.append(f"\t\t\t\t{ref} /* {PRIVACY_MANIFEST} */,\n")
            file_refs.append(
                f"\t\t{ref} /* {PRIVACY_MANIFEST} */ = {{isa = PBXFileReference; lastKnownFileType = text.xml; "
                f'path = {PRIVACY_MANIFEST}; sourceTree = "<group>"; }};\n'
            )
            build_files.append(
                f"\t\t{bf} /* {PRIVACY_MANIFEST} in Resources */ ="
                f" {{isa = PBXBuildFile; fileRef = {ref} /* {PRIVACY_MANIFEST} */; }};\n"
            )
            resource_entries.append(f"\t\t\t\t{bf} /* {PRIVACY_MANIFEST} in Resources */,\n")
            for folder in FOLDERS:
                ref = oid("folder", rel, folder)
                bf = oid("build", rel, folder)
                children.append(f"\t\t\t\t{ref} /* {folder} */,\n")
                file_refs.append(
                    f"\t\t{ref} /* {folder} */ = {{isa = PBXFileReference; lastKnownFileType = folder; "
                    f'path = {folder}; sourceTree = "<group>"; }};\n'
                )
                build_files.append(
                    f"\t\t{bf} /* {folder} in Resources */ ="
                    f" {{isa = PBXBuildFile; fileRef = {ref} /* {folder} */; }};\n"
                )
                resource_entries.append(f"\t\t\t\t{bf} /* {folder} in Resources */,\n")
        groups.append(
            f"\t\t{gid} /* {name} */ = {{\n\t\t\tisa = PBXGroup;\n\t\t\tchildren = (\n{''.join(children)}\t\t\t);\n"
            f'\t\t\tname = {name};\n\t\t\tpath = {_quote(rel)};\n\t\t\tsourceTree = "<group>";\n\t\t}};\n'
        )
    main_children = "".join(f"\t\t\t\t{g},\n" for g in group_ids) + f"\t\t\t\t{products_group} /* Products */,\n"
    groups.append(
        f"\t\t{main_group} = {{\n\t\t\tisa = PBXGroup;\n\t\t\tchildren = (\n{main_children}\t\t\t);\n"
        f'\t\t\tsourceTree = "<group>";\n\t\t}};\n'
    )
    groups.append(
        f"\t\t{products_group} /* Products */ = {{\n\t\t\tisa = PBXGroup;\n\t\t\tchildren = (\n"
        f"\t\t\t\t{product} /* MeshPoseApp.app */,\n\t\t\t);\n\t\t\tname = Products;\n"
        f'\t\t\tsourceTree = "<group>";\n\t\t}};\n'
    )
    file_refs.append(
        f"\t\t{product} /* MeshPoseApp.app */ = {{isa = PBXFileReference; explicitFileType = wrapper.application; "
        f"includeInIndex = 0; path = MeshPoseApp.app; sourceTree = BUILT_PRODUCTS_DIR; }};\n"
    )

    common = {
        "ALWAYS_SEARCH_USER_PATHS": "NO",
        "CLANG_ENABLE_MODULES": "YES",
        "CLANG_ENABLE_OBJC_ARC": "YES",
        "ENABLE_STRICT_OBJC_MSGSEND": "YES",
        "GCC_NO_COMMON_BLOCKS": "YES",
        "IPHONEOS_DEPLOYMENT_TARGET": "16.0",
        "SDKROOT": "iphoneos",
        "SWIFT_VERSION": "5.0",
    }
    project_settings = {
        "Debug": {
            **common,
            "DEBUG_INFORMATION_FORMAT": "dwarf",
            "ENABLE_TESTABILITY": "YES",
            "GCC_OPTIMIZATION_LEVEL": "0",
            "ONLY_ACTIVE_ARCH": "YES",
            "SWIFT_ACTIVE_COMPILATION_CONDITIONS": "DEBUG",
            "SWIFT_OPTIMIZATION_LEVEL": "-Onone",
        },
        "Release": {
            **common,
            "DEBUG_INFORMATION_FORMAT": "dwarf-with-dsym",
            "SWIFT_COMPILATION_MODE": "wholemodule",
            "SWIFT_OPTIMIZATION_LEVEL": "-O",
            "VALIDATE_PRODUCT": "YES",
        },
    }
    target_common: dict[str, str | list[str]] = {
        "CODE_SIGN_STYLE": "Automatic",
        "CURRENT_PROJECT_VERSION": "1",
        "DEVELOPMENT_TEAM": "",
        "ENABLE_PREVIEWS": "NO",
        "GENERATE_INFOPLIST_FILE": "NO",
        "INFOPLIST_FILE": "MeshPoseApp/Info.plist",
        "IPHONEOS_DEPLOYMENT_TARGET": "16.0",
        "LD_RUNPATH_SEARCH_PATHS": ["$(inherited)", "@executable_path/Frameworks"],
        "MARKETING_VERSION": "1.0",
        # Unique per signing team, so free provisioning never collides with someone else's id.
        "PRODUCT_BUNDLE_IDENTIFIER": "org.meshpose.demo.$(DEVELOPMENT_TEAM)",
        "PRODUCT_NAME": "$(TARGET_NAME)",
        "SUPPORTS_MACCATALYST": "NO",
        "SWIFT_EMIT_LOC_STRINGS": "NO",
        "SWIFT_STRICT_CONCURRENCY": "minimal",
        "SWIFT_VERSION": "5.0",
        "TARGETED_DEVICE_FAMILY": "1",
    }
    configs = []
    lists = []
    for owner, list_id, per in (
        ("project", project_configs, project_settings),
        ("target", target_configs, {"Debug": target_common, "Release": target_common}),
    ):
        ids = []
        for name in ("Debug", "Release"):
            cid = oid("config", owner, name)
            ids.append(cid)
            configs.append(
                f"\t\t{cid} /* {name} */ = {{\n\t\t\tisa = XCBuildConfiguration;\n\t\t\tbuildSettings = {{\n"
                f"{_settings(per[name], chr(9) * 3)}\t\t\t}};\n\t\t\tname = {name};\n\t\t}};\n"
            )
        entries = "".join(f"\t\t\t\t{c} /* {n} */,\n" for c, n in zip(ids, ("Debug", "Release"), strict=True))
        what = 'PBXProject "MeshPoseApp"' if owner == "project" else 'PBXNativeTarget "MeshPoseApp"'
        lists.append(
            f"\t\t{list_id} /* Build configuration list for {what} */ = {{\n\t\t\tisa = XCConfigurationList;\n"
            f"\t\t\tbuildConfigurations = (\n{entries}\t\t\t);\n\t\t\tdefaultConfigurationIsVisible = 0;\n"
            f"\t\t\tdefaultConfigurationName = Release;\n\t\t}};\n"
        )

    def section(name: str, body: list[str]) -> str:
        return f"\n/* Begin {name} section */\n{''.join(sorted(body))}/* End {name} section */\n"

    phases = [
        f"\t\t{sources_phase} /* Sources */ = {{\n"
        "\t\t\tisa = PBXSourcesBuildPhase;\n\t\t\tbuildActionMask = 2147483647;\n"
        f"\t\t\tfiles = (\n{''.join(source_entries)}\t\t\t);\n\t\t\trunOnlyForDeploymentPostprocessing = 0;\n\t\t}};\n",
    ]
    resources = [
        f"\t\t{resources_phase} /* Resources */ = {{\n"
        "\t\t\tisa = PBXResourcesBuildPhase;\n\t\t\tbuildActionMask = 2147483647;\n"
        f"\t\t\tfiles = (\n{''.join(resource_entries)}\t\t\t);\n"
        f"\t\t\trunOnlyForDeploymentPostprocessing = 0;\n\t\t}};\n",
    ]
    frameworks = [
        f"\t\t{frameworks_phase} /* Frameworks */ = {{\n\t\t\tisa = PBXFrameworksBuildPhase;\n"
        "\t\t\tbuildActionMask = 2147483647;\n\t\t\tfiles = (\n\t\t\t);\n"
        f"\t\t\trunOnlyForDeploymentPostprocessing = 0;\n\t\t}};\n",
    ]
    native = [
        f"\t\t{target} /* MeshPoseApp */ = {{\n\t\t\tisa = PBXNativeTarget;\n"
        f"\t\t\tbuildConfigurationList = {target_configs} /* Build configuration list for PBXNativeTarget "
        f'"MeshPoseApp" */;\n\t\t\tbuildPhases = (\n\t\t\t\t{sources_phase} /* Sources */,\n'
        f"\t\t\t\t{frameworks_phase} /* Frameworks */,\n\t\t\t\t{resources_phase} /* Resources */,\n\t\t\t);\n"
        f"\t\t\tbuildRules = (\n\t\t\t);\n\t\t\tdependencies = (\n\t\t\t);\n\t\t\tname = MeshPoseApp;\n"
        f"\t\t\tproductName = MeshPoseApp;\n\t\t\tproductReference = {product} /* MeshPoseApp.app */;\n"
        f'\t\t\tproductType = "com.apple.product-type.application";\n\t\t}};\n'
    ]
    proj = [
        f"\t\t{project} /* Project object */ = {{\n\t\t\tisa = PBXProject;\n\t\t\tattributes = {{\n"
        f"\t\t\t\tBuildIndependentTargetsInParallel = 1;\n\t\t\t\tLastSwiftUpdateCheck = 1500;\n"
        f"\t\t\t\tLastUpgradeCheck = 1500;\n\t\t\t\tTargetAttributes = {{\n\t\t\t\t\t{target} = {{\n"
        f"\t\t\t\t\t\tCreatedOnToolsVersion = 15.0;\n\t\t\t\t\t}};\n\t\t\t\t}};\n\t\t\t}};\n"
        f"\t\t\tbuildConfigurationList = {project_configs} /* Build configuration list for PBXProject "
        f'"MeshPoseApp" */;\n\t\t\tcompatibilityVersion = "Xcode 14.0";\n\t\t\tdevelopmentRegion = en;\n'
        f"\t\t\thasScannedForEncodings = 0;\n\t\t\tknownRegions = (\n\t\t\t\ten,\n\t\t\t\tBase,\n\t\t\t);\n"
        f"\t\t\tmainGroup = {main_group};\n\t\t\tproductRefGroup = {products_group} /* Products */;\n"
        f'\t\t\tprojectDirPath = "";\n\t\t\tprojectRoot = "";\n\t\t\ttargets = (\n'
        f"\t\t\t\t{target} /* MeshPoseApp */,\n\t\t\t);\n\t\t}};\n"
    ]
    text = (
        "// !$*UTF8*$!\n"
        "// Written by scripts/make_xcodeproj.py; regenerate instead of editing.\n"
        "{\n\tarchiveVersion = 1;\n\tclasses = {\n\t};\n\tobjectVersion = 56;\n\tobjects = {\n"
        + section("PBXBuildFile", build_files)
        + section("PBXFileReference", file_refs)
        + section("PBXFrameworksBuildPhase", frameworks)
        + section("PBXGroup", groups)
        + section("PBXNativeTarget", native)
        + section("PBXProject", proj)
        + section("PBXResourcesBuildPhase", resources)
        + section("PBXSourcesBuildPhase", phases)
        + section("XCBuildConfiguration", configs)
        + section("XCConfigurationList", lists)
        + f"\t}};\n\trootObject = {project} /* Project object */;\n}}\n"
    )
    scheme = _scheme(target)
    return text, scheme


def _scheme(target: str) -> str:
    ref = (
        f'            <BuildableReference\n               BuildableIdentifier = "primary"\n'
        f'               BlueprintIdentifier = "{target}"\n               BuildableName = "MeshPoseApp.app"\n'
        '               BlueprintName = "MeshPoseApp"\n'
        '               ReferencedContainer = "container:MeshPoseApp.xcodeproj">\n'
        f"            </BuildableReference>\n"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Scheme\n   LastUpgradeVersion = "1500"\n   version = "1.7">\n'
        '   <BuildAction\n      parallelizeBuildables = "YES"\n      buildImplicitDependencies = "YES">\n'
        "      <BuildActionEntries>\n         <BuildActionEntry\n"
        '            buildForTesting = "YES"\n            buildForRunning = "YES"\n'
        '            buildForProfiling = "YES"\n'
        '            buildForArchiving = "YES"\n            buildForAnalyzing = "YES">\n'
        f"{ref}         </BuildActionEntry>\n      </BuildActionEntries>\n   </BuildAction>\n"
        '   <TestAction\n      buildConfiguration = "Debug"\n'
        '      selectedDebuggerIdentifier = "Xcode.DebuggerFoundation.Debugger.LLDB"\n'
        '      selectedLauncherIdentifier = "Xcode.DebuggerFoundation.Launcher.LLDB"\n'
        '      shouldUseLaunchSchemeArgsEnv = "YES">\n   </TestAction>\n'
        '   <LaunchAction\n      buildConfiguration = "Release"\n'
        '      selectedDebuggerIdentifier = "Xcode.DebuggerFoundation.Debugger.LLDB"\n'
        '      selectedLauncherIdentifier = "Xcode.DebuggerFoundation.Launcher.LLDB"\n'
        '      launchStyle = "0"\n      useCustomWorkingDirectory = "NO"\n      ignoresPersistentStateOnLaunch = "NO"\n'
        '      debugDocumentVersioning = "YES"\n      debugServiceExtension = "internal"\n'
        '      allowLocationSimulation = "YES">\n'
        '      <BuildableProductRunnable\n         runnableDebuggingMode = "0">\n'
        f"{ref.replace('            ', '         ')}      </BuildableProductRunnable>\n"
        "      <CommandLineArguments>\n         <CommandLineArgument\n"
        f'            argument = "{BENCH_ARGUMENT}"\n            isEnabled = "NO">\n'
        "         </CommandLineArgument>\n      </CommandLineArguments>\n   </LaunchAction>\n"
        '   <ProfileAction\n      buildConfiguration = "Release"\n      shouldUseLaunchSchemeArgsEnv = "YES"\n'
        '      savedToolIdentifier = ""\n      useCustomWorkingDirectory = "NO"\n'
        '      debugDocumentVersioning = "YES">\n'
        '      <BuildableProductRunnable\n         runnableDebuggingMode = "0">\n'
        f"{ref.replace('            ', '         ')}      </BuildableProductRunnable>\n   </ProfileAction>\n"
        '   <AnalyzeAction\n      buildConfiguration = "Debug">\n   </AnalyzeAction>\n'
        '   <ArchiveAction\n      buildConfiguration = "Release"\n      revealArchiveInOrganizer = "YES">\n'
        "   </ArchiveAction>\n</Scheme>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the checked-in project differs")
    args = parser.parse_args(argv)
    text, scheme = build()
    if args.check:
        stale = [p for p, want in ((PBXPROJ, text), (SCHEME, scheme)) if not p.is_file() or p.read_text() != want]
        for p in stale:
            print(f"{p.relative_to(ROOT)} is stale: run python scripts/make_xcodeproj.py", file=sys.stderr)
        return 1 if stale else 0
    for path, content in ((PBXPROJ, text), (SCHEME, scheme)):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(content)
        tmp.replace(path)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
