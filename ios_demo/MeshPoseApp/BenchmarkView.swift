import SwiftUI

/// Benchmark mode: runs BenchmarkRunner with the camera stopped, shows its progress and shares
/// the JSON it wrote to Documents (also visible in the Files app and in Finder).
struct BenchmarkView: View {
    let autoStart: Bool
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    @State private var lines: [String] = []
    @State private var running = false
    @State private var resultURL: URL?

    var body: some View {
        NavigationStack {
            List {
                Section("Progress") {
                    if lines.isEmpty {
                        Text("Model-only timings per compute-unit setting, then the whole pipeline over the bundled photos.")
                            .font(.caption)
                    }
                    ForEach(Array(lines.enumerated()), id: \.offset) { item in
                        Text(item.element).font(.caption.monospaced())
                    }
                }
                if let url = resultURL {
                    Section("Result") {
                        Text(url.lastPathComponent).font(.caption)
                        ShareLink(item: url) {
                            Label("Share meshpose-bench JSON", systemImage: "square.and.arrow.up")
                        }
                    }
                }
            }
            .navigationTitle("Benchmark")
            .toolbar {
                ToolbarItem(placement: .confirmationAction) {
                    Button(running ? "Running…" : "Run") { start() }.disabled(running)
                }
                ToolbarItem(placement: .cancellationAction) {
                    Button("Close") { dismiss() }.disabled(running)
                }
            }
        }
        .interactiveDismissDisabled(running)
        .onAppear {
            // The camera path would compete with the measurement.
            model.session.stop()
            if autoStart && resultURL == nil && !running { start() }
        }
        .onDisappear {
            model.session.start(camera: model.camera)
        }
    }

    @MainActor
    private func start() {
        running = true
        lines = []
        Task { @MainActor in
            do {
                let url = try await BenchmarkRunner().run { line in
                    Task { @MainActor in lines.append(line) }
                }
                resultURL = url
                lines.append("wrote \(url.path)")
            } catch {
                lines.append("failed: \(error.localizedDescription)")
            }
            running = false
        }
    }
}
