import CoreML
import Foundation
import QuartzCore
import SwiftUI
import UIKit

/// The numbers on screen, averaged over the last second of frames.
struct Readout {
    var modelMs = 0.0
    var pipelineMs = 0.0
    var fps = 0.0
    var people = 0
    var loadSeconds: Double?
    var thermal = "nominal"
}

/// UI state, on the main actor. Frames are processed on the camera queue by LiveSession and
/// arrive here only as finished results.
@MainActor
final class AppModel: ObservableObject {
    @Published var camera: CameraPosition = .back
    @Published var compute: ComputeChoice = .all
    @Published private(set) var result: FrameResult?
    @Published private(set) var readout = Readout()
    @Published private(set) var faces: [[Int]]?
    @Published private(set) var status = "Loading the model…"
    @Published private(set) var modelName = ""
    @Published var showBenchmark = LaunchOptions.benchmarkRequested

    let session = LiveSession()
    private let holdingMonitor = HoldingMonitor()
    private var holdingFromMotion = false
    /// Finished frames wait here for the main actor, the newest only (see LatestValueMailbox).
    private let results = LatestValueMailbox<FrameResult>()
    private(set) var prepared: ModelStore.Prepared?
    private var recent: [(time: CFTimeInterval, model: Double, pipeline: Double)] = []
    private var loadGeneration = 0
    private var started = false

    init() {
        let results = self.results
        session.onResult = { [weak self] result in
            // Latest only: while a hand-off is pending the newer result replaces the waiting one,
            // so a busy main thread holds at most one camera buffer more, never a queue of them.
            guard results.offer(result) else { return }
            Task { @MainActor in
                guard let self, let latest = results.take() else { return }
                self.apply(latest)
            }
        }
        session.onMessage = { [weak self] message in
            Task { @MainActor in self?.status = message }
        }
    }

    func start() {
        guard !started else { return }
        started = true
        let session = self.session
        holdingFromMotion = holdingMonitor.start(initial: session.holding.get()) { holding in
            session.holding.set(holding)
        }
        CameraSource.requestAccess { [weak self] granted in
            Task { @MainActor in
                guard let self else { return }
                if granted {
                    self.session.start(camera: self.camera)
                } else {
                    self.status = "Camera access is off: allow it in Settings > Privacy & Security > Camera"
                }
            }
        }
        loadModel()
    }

    func switchCamera() {
        camera = camera == .back ? .front : .back
        session.start(camera: camera)
    }

    /// Loads the model for the chosen compute units off the main thread; frames keep flowing and
    /// are shown without a mesh until it is ready.
    func loadModel() {
        loadGeneration += 1
        let generation = loadGeneration
        let choice = compute
        status = "Loading the model (\(choice.title))…"
        session.install(nil)
        DispatchQueue.global(qos: .userInitiated).async { [weak self] in
            do {
                let prepared = try ModelStore.prepare()
                let warm = try makeGreyPixelBuffer(width: prepared.sidecar.input.width, height: prepared.sidecar.input.height)
                let model = try MeshPoseModel.load(
                    compiledURL: prepared.compiledURL, sidecar: prepared.sidecar, computeChoice: choice, warmInput: warm
                )
                Task { @MainActor in
                    guard let self, generation == self.loadGeneration else { return }
                    self.prepared = prepared
                    self.faces = prepared.sidecar.faces
                    self.modelName = "\(prepared.sidecar.variant) \(prepared.sidecar.precision)"
                    self.readout.loadSeconds = model.loadSeconds
                    let compile = prepared.compileSeconds.map { String(format: ", compiled in %.1f s", $0) } ?? ""
                    self.status = String(format: "Loaded in %.2f s", model.loadSeconds ?? 0) + compile
                    self.session.install(model)
                }
            } catch {
                Task { @MainActor in
                    guard let self, generation == self.loadGeneration else { return }
                    self.status = error.localizedDescription
                }
            }
        }
    }

    /// The interface orientation decides how the screen shows frames; how they are turned upright
    /// for the model follows the phone (HoldingMonitor), which orientation lock does not stop.
    func interfaceDidChange() {
        let scene = UIApplication.shared.connectedScenes.compactMap { $0 as? UIWindowScene }.first
        let holding: HoldingOrientation
        switch scene?.interfaceOrientation ?? .portrait {
        case .portraitUpsideDown: holding = .portraitUpsideDown
        case .landscapeLeft: holding = .landscapeHomeLeft
        case .landscapeRight: holding = .landscapeHomeRight
        default: holding = .portrait
        }
        session.interface.set(holding)
        if !holdingFromMotion { session.holding.set(holding) }
    }

    private func apply(_ result: FrameResult) {
        self.result = result
        recent.append((time: result.completedAt, model: result.modelMs, pipeline: result.pipelineMs))
        recent.removeAll { result.completedAt - $0.time > 1.0 }
        let n = Double(recent.count)
        var r = readout
        r.modelMs = recent.map { $0.model }.reduce(0, +) / n
        r.pipelineMs = recent.map { $0.pipeline }.reduce(0, +) / n
        if let first = recent.first, recent.count > 1, result.completedAt > first.time {
            r.fps = Double(recent.count - 1) / (result.completedAt - first.time)
        }
        r.people = result.people.count
        r.thermal = thermalStateName()
        readout = r
    }
}
