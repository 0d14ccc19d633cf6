import AVFoundation
import CoreMedia
import CoreVideo
import Foundation

/// AVFoundation capture of BGRA frames from the front or back wide-angle camera.
///
/// Frames are delivered on `videoQueue` and processed there synchronously: with
/// `alwaysDiscardsLateVideoFrames` the camera drops what arrives while a frame is in flight, so
/// the app always works on the newest frame and never queues a backlog (which is how latency and
/// memory grow in long sessions). Buffers stay in the sensor's orientation and unmirrored;
/// MeshPoseKit's FrameGeometry turns them upright for the model and mirrors only the view.
final class CameraSource: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    struct Frame {
        let pixelBuffer: CVPixelBuffer
        /// Presentation time in seconds (the One-Euro filter's clock).
        let time: Double
        let camera: CameraPosition
    }

    let session = AVCaptureSession()
    let videoQueue = DispatchQueue(label: "meshpose.camera.frames", qos: .userInitiated)
    private let sessionQueue = DispatchQueue(label: "meshpose.camera.session")
    private let output = AVCaptureVideoDataOutput()
    private var input: AVCaptureDeviceInput?
    private let currentCamera = Locked<CameraPosition>(.back)

    /// Called on `videoQueue` for every frame the camera does not drop.
    var onFrame: ((Frame) -> Void)?
    /// Called on an arbitrary queue with a one-line message.
    var onError: ((String) -> Void)?

    static func requestAccess(_ done: @escaping (Bool) -> Void) {
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized: done(true)
        case .notDetermined: AVCaptureDevice.requestAccess(for: .video, completionHandler: done)
        default: done(false)
        }
    }

    func start(camera: CameraPosition) {
        sessionQueue.async { [weak self] in
            guard let self else { return }
            self.configure(camera: camera)
            if !self.session.isRunning { self.session.startRunning() }
        }
    }

    func stop() {
        sessionQueue.async { [weak self] in
            guard let self, self.session.isRunning else { return }
            self.session.stopRunning()
        }
    }

    private func configure(camera: CameraPosition) {
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        if session.canSetSessionPreset(.hd1280x720) { session.sessionPreset = .hd1280x720 }
        if let old = input {
            session.removeInput(old)
            input = nil
        }
        let position: AVCaptureDevice.Position = camera == .front ? .front : .back
        guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: position) else {
            onError?("this device has no \(camera.rawValue) camera")
            return
        }
        do {
            let newInput = try AVCaptureDeviceInput(device: device)
            guard session.canAddInput(newInput) else {
                onError?("the \(camera.rawValue) camera cannot be opened now; close other camera apps")
                return
            }
            session.addInput(newInput)
            input = newInput
        } catch {
            onError?("cannot open the \(camera.rawValue) camera: \(error.localizedDescription)")
            return
        }
        if !session.outputs.contains(output) {
            output.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
            output.alwaysDiscardsLateVideoFrames = true
            output.setSampleBufferDelegate(self, queue: videoQueue)
            guard session.canAddOutput(output) else {
                onError?("cannot receive camera frames (video output refused)")
                return
            }
            session.addOutput(output)
        }
        if let connection = output.connection(with: .video), connection.isVideoMirroringSupported {
            // The model must see the person as they are (left arm = left arm); mirroring is the view's job.
            connection.automaticallyAdjustsVideoMirroring = false
            connection.isVideoMirrored = false
        }
        currentCamera.set(camera)
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let time = CMSampleBufferGetPresentationTimeStamp(sampleBuffer).seconds
        onFrame?(Frame(pixelBuffer: pixelBuffer, time: time, camera: currentCamera.get()))
    }
}
