import SwiftUI

/// The MeshPose demo: camera -> Vision person boxes -> GPU crop -> Core ML -> mesh overlay.
/// Launched with `-MeshPoseBenchmark` (Xcode scheme argument, or
/// `xcrun devicectl device process launch ... -MeshPoseBenchmark`) it runs the benchmark at once
/// and writes meshpose-bench JSON to Documents.
@main
struct MeshPoseApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(model)
        }
    }
}

enum LaunchOptions {
    static var benchmarkRequested: Bool {
        let args = ProcessInfo.processInfo.arguments
        return args.contains("-MeshPoseBenchmark") || args.contains("--benchmark")
    }
}
