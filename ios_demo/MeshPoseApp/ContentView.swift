import SwiftUI

struct ContentView: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        GeometryReader { proxy in
            ZStack {
                Color.black.ignoresSafeArea()
                CameraPreview(result: model.result)
                    .ignoresSafeArea()
                MeshOverlay(result: model.result, faces: model.faces)
                    .ignoresSafeArea()
                VStack(spacing: 8) {
                    ReadoutView(readout: model.readout, modelName: model.modelName, status: model.status)
                    Spacer()
                    controls
                }
                .padding()
            }
            .onAppear {
                model.interfaceDidChange()
                model.start()
            }
            .onChange(of: proxy.size) { _ in model.interfaceDidChange() }
        }
        .sheet(isPresented: $model.showBenchmark) {
            BenchmarkView(autoStart: LaunchOptions.benchmarkRequested)
                .environmentObject(model)
        }
    }

    @MainActor
    private var controls: some View {
        HStack(spacing: 12) {
            Button {
                model.switchCamera()
            } label: {
                Label(model.camera == .back ? "Back" : "Front", systemImage: "arrow.triangle.2.circlepath.camera")
            }
            Picker("Compute", selection: $model.compute) {
                ForEach(ComputeChoice.allCases) { choice in
                    Text(choice.title).tag(choice)
                }
            }
            .pickerStyle(.segmented)
            .onChange(of: model.compute) { _ in model.loadModel() }
            Button {
                model.showBenchmark = true
            } label: {
                Label("Bench", systemImage: "speedometer")
            }
        }
        .buttonStyle(.borderedProminent)
        .padding(8)
        .background(.ultraThinMaterial, in: RoundedRectangle(cornerRadius: 12))
    }
}

struct ReadoutView: View {
    let readout: Readout
    let modelName: String
    let status: String

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            Text(String(format: "model %.1f ms   pipeline %.1f ms   %.1f FPS", readout.modelMs, readout.pipelineMs, readout.fps))
                .font(.system(.callout, design: .monospaced))
            Text("\(modelName)   people \(readout.people)   thermal \(readout.thermal)")
                .font(.system(.caption, design: .monospaced))
            if !status.isEmpty {
                Text(status).font(.caption).lineLimit(3)
            }
        }
        .foregroundColor(.white)
        .padding(8)
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Color.black.opacity(0.55), in: RoundedRectangle(cornerRadius: 10))
    }
}
