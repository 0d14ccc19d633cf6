// swift-tools-version:5.9
// MeshPoseBench: times a MeshPose .mlpackage with CoreML's compute units and writes the
// meshpose-bench results schema (benchmarks/README.md). Build and run on macOS (see README.md).
import PackageDescription

let package = Package(
    name: "MeshPoseBench",
    platforms: [.macOS(.v13), .iOS(.v16)],
    targets: [
        .executableTarget(name: "MeshPoseBench", path: "Sources/MeshPoseBench")
    ]
)
