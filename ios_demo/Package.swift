// swift-tools-version:5.9
// MeshPoseKit: the platform-free core of the iOS app (sidecar, crop contract, frame geometry,
// output decoding, tracking, smoothing, benchmark statistics), Foundation only, tested with
// `swift test` against the golden vectors in ../golden. MeshPoseBench: the macOS command-line
// benchmark, a thin Core ML layer over MeshPoseKit. The iOS app is MeshPoseApp.xcodeproj.
import PackageDescription

let package = Package(
    name: "MeshPoseKit",
    platforms: [.macOS(.v13), .iOS(.v16)],
    products: [
        .library(name: "MeshPoseKit", targets: ["MeshPoseKit"]),
        .executable(name: "MeshPoseBench", targets: ["MeshPoseBench"]),
    ],
    targets: [
        .target(name: "MeshPoseKit", path: "Sources/MeshPoseKit"),
        // Core ML glue shared with the app; empty where Core ML does not exist (Linux).
        .target(name: "MeshPoseCoreML", dependencies: ["MeshPoseKit"], path: "Sources/MeshPoseCoreML"),
        .executableTarget(
            name: "MeshPoseBench", dependencies: ["MeshPoseKit", "MeshPoseCoreML"], path: "Sources/MeshPoseBench"
        ),
        .testTarget(name: "MeshPoseKitTests", dependencies: ["MeshPoseKit"], path: "Tests/MeshPoseKitTests"),
    ]
)
