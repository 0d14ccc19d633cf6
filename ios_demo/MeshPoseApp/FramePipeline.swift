import CoreVideo
import Foundation
import QuartzCore

/// One person in a processed frame, in upright image pixels.
struct PersonResult {
    let trackID: Int
    /// K x 2 interleaved, One-Euro smoothed.
    let xy: [Double]
    let visibility: [Double]
    let box: BoxXYWH
}

/// What the view draws: the frame the mesh was computed on, so frame and overlay never disagree.
struct FrameResult {
    let pixelBuffer: CVPixelBuffer
    let geometry: FrameGeometry
    let people: [PersonResult]
    let modelMs: Double
    let pipelineMs: Double
    let ranDetector: Bool
    let completedAt: CFTimeInterval
}

/// Per frame, on the camera queue: detector when the tracker asks for it, then for every tracked
/// person the GPU crop, the model, decoding by output name, the tracker update and One-Euro
/// smoothing. All state lives here and is touched only on that queue.
final class FramePipeline {
    private let cropper = GPUCropper()
    private let detector = PersonDetector()
    private var model: MeshPoseModel?
    private var decoder: OutputDecoder?
    private var tracker: PersonTracker?
    private var trackerKey = ""
    private var filters: [Int: OneEuroFilter] = [:]
    var smoothing: OneEuroParams = .standard
    var trackerParams = TrackerParams()

    func setModel(_ newModel: MeshPoseModel?) {
        model = newModel
        decoder = newModel.map { OutputDecoder(sidecar: $0.sidecar) }
        tracker = nil
        filters = [:]
    }

    /// `holding`: how the phone is held (gravity), which the model's image is turned for;
    /// `interface`: how the UI stands, which the screen shows the frame turned for.
    func process(_ frame: CameraSource.Frame, holding: HoldingOrientation, interface: HoldingOrientation) throws -> FrameResult {
        let start = CACurrentMediaTime()
        let geometry = try FrameGeometry.forCamera(
            bufferWidth: CVPixelBufferGetWidth(frame.pixelBuffer), bufferHeight: CVPixelBufferGetHeight(frame.pixelBuffer),
            holding: holding, camera: frame.camera, interface: interface
        )
        guard let model, let decoder else {
            return FrameResult(
                pixelBuffer: frame.pixelBuffer, geometry: geometry, people: [], modelMs: 0,
                pipelineMs: (CACurrentMediaTime() - start) * 1000, ranDetector: false, completedAt: CACurrentMediaTime()
            )
        }
        // A new camera or orientation is a new image space: start tracking and smoothing afresh.
        let key = "\(frame.camera.rawValue)-\(geometry.uprightWidth)x\(geometry.uprightHeight)"
        if tracker == nil || key != trackerKey {
            tracker = try PersonTracker(
                params: trackerParams, aspect: decoder.contract.aspect,
                imageWidth: geometry.uprightWidth, imageHeight: geometry.uprightHeight
            )
            trackerKey = key
            filters = [:]
        }
        guard var tracker else { throw MeshPoseError("tracker missing", kind: .model) }
        defer { self.tracker = tracker }

        let ranDetector = tracker.beginFrame()
        if ranDetector {
            let detections = try detector.detect(frame.pixelBuffer, geometry: geometry)
            try tracker.applyDetections(detections.map { $0.box }, scores: detections.map { $0.score })
        }
        var people: [PersonResult] = []
        var modelMs = 0.0
        for track in tracker.activeTracks {
            let crop = try cropper.crop(frame.pixelBuffer, geometry: geometry, box: track.box, contract: decoder.contract)
            let t0 = CACurrentMediaTime()
            let outputs = try model.predict(crop.buffer)
            modelMs += (CACurrentMediaTime() - t0) * 1000
            let mesh = try decoder.decode(outputs, affine: crop.affine)
            try tracker.applyMesh(trackID: track.id, xy: mesh.xy, visibility: mesh.visibility)
            // Speeds in box heights per second: the same smoothing for a near and a far person.
            var filter = filters[track.id] ?? OneEuroFilter(params: smoothing)
            let smoothed = try filter.filter(mesh.xy, time: frame.time, valueScale: track.box.height)
            filters[track.id] = filter
            people.append(PersonResult(trackID: track.id, xy: smoothed, visibility: mesh.visibility, box: track.box))
        }
        tracker.endFrame()
        let alive = Set(tracker.tracks.map { $0.id })
        filters = filters.filter { alive.contains($0.key) }
        let end = CACurrentMediaTime()
        return FrameResult(
            pixelBuffer: frame.pixelBuffer, geometry: geometry, people: people, modelMs: modelMs,
            pipelineMs: (end - start) * 1000, ranDetector: ranDetector, completedAt: end
        )
    }
}

/// The live camera session: camera, pipeline, how the phone is held and how the interface
/// stands, off the main actor.
final class LiveSession {
    let camera = CameraSource()
    /// How the phone is held (HoldingMonitor's gravity; the interface where there is no motion).
    let holding = Locked<HoldingOrientation>(.portrait)
    /// How the interface stands (the window scene's orientation).
    let interface = Locked<HoldingOrientation>(.portrait)
    private let pipeline = FramePipeline()
    private var lastError = ""

    /// Called on the camera queue with every processed frame.
    var onResult: ((FrameResult) -> Void)?
    /// Called on the camera queue (or the session queue) with a one-line message.
    var onMessage: ((String) -> Void)?

    init() {
        camera.onFrame = { [weak self] frame in self?.handle(frame) }
        camera.onError = { [weak self] message in self?.onMessage?(message) }
    }

    func start(camera position: CameraPosition) {
        camera.start(camera: position)
    }

    func stop() {
        camera.stop()
    }

    /// Installs a loaded model (or none) between two frames.
    func install(_ model: MeshPoseModel?) {
        camera.videoQueue.async { [weak self] in self?.pipeline.setModel(model) }
    }

    private func handle(_ frame: CameraSource.Frame) {
        // Vision, Core Image and Core ML autorelease per call; drain per frame so memory stays flat.
        autoreleasepool {
            do {
                let result = try pipeline.process(frame, holding: holding.get(), interface: interface.get())
                lastError = ""
                onResult?(result)
            } catch {
                let message = "\(error.localizedDescription)"
                if message != lastError {
                    lastError = message
                    onMessage?(message)
                }
            }
        }
    }
}
