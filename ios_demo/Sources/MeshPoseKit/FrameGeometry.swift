import Foundation

/// Clockwise rotation that turns a camera buffer upright.
public enum SensorRotation: Int, CaseIterable, Equatable {
    case deg0 = 0
    case deg90 = 90
    case deg180 = 180
    case deg270 = 270

    public init(degrees: Int) throws {
        let normalised = ((degrees % 360) + 360) % 360
        guard let r = SensorRotation(rawValue: normalised) else {
            throw MeshPoseError("rotation \(degrees) degrees is not a multiple of 90")
        }
        self = r
    }

    /// EXIF / CGImagePropertyOrientation raw value of a buffer that needs this rotation, for
    /// Vision's request handler: up (1), right (6), down (3), left (8).
    public var exifOrientation: UInt32 {
        switch self {
        case .deg0: return 1
        case .deg90: return 6
        case .deg180: return 3
        case .deg270: return 8
        }
    }
}

public enum CameraPosition: String, Equatable {
    case back
    case front
}

/// How the phone is held (or how the interface is laid out), named by where the home edge is so
/// that UIDeviceOrientation's and UIInterfaceOrientation's opposite "landscapeLeft" meanings
/// cannot be mixed up.
public enum HoldingOrientation: String, CaseIterable, Equatable {
    case portrait
    case portraitUpsideDown
    /// UIDeviceOrientation.landscapeLeft == UIInterfaceOrientation.landscapeRight.
    case landscapeHomeRight
    /// UIDeviceOrientation.landscapeRight == UIInterfaceOrientation.landscapeLeft.
    case landscapeHomeLeft
}

/// Where a camera frame's pixels go: buffer (as delivered by the sensor, without any capture
/// connection rotation) -> upright image (what the person in front of the camera looks like,
/// never mirrored: the detector, the crop, the model, the tracker and the smoother all work here)
/// -> view (aspect-fill, mirrored for the front camera so that it looks like a mirror).
/// Pixel centres have integer coordinates (top-left pixel centre at (0, 0)), as in the crop
/// contract; view coordinates are continuous (the view's top-left corner is (0, 0)).
public struct FrameGeometry: Equatable {
    public let bufferWidth: Int
    public let bufferHeight: Int
    public let rotation: SensorRotation
    /// Mirror the view horizontally (front camera preview).
    public let mirrored: Bool

    public init(bufferWidth: Int, bufferHeight: Int, rotation: SensorRotation, mirrored: Bool) throws {
        guard bufferWidth > 0, bufferHeight > 0 else {
            throw MeshPoseError("camera buffer size \(bufferWidth)x\(bufferHeight) must be positive")
        }
        self.bufferWidth = bufferWidth
        self.bufferHeight = bufferHeight
        self.rotation = rotation
        self.mirrored = mirrored
    }

    /// The rotation of an iPhone camera's buffer for a holding orientation, when the capture
    /// connection is left unrotated. Both sensors deliver landscape buffers that are upright
    /// with the home edge on the right for the back camera; the front camera faces the other way,
    /// so it sees the phone's roll reversed and is upright with the home edge on the left.
    public static func sensorRotation(holding: HoldingOrientation, camera: CameraPosition) -> SensorRotation {
        switch (holding, camera) {
        case (.portrait, _): return .deg90
        case (.portraitUpsideDown, _): return .deg270
        case (.landscapeHomeRight, .back): return .deg0
        case (.landscapeHomeRight, .front): return .deg180
        case (.landscapeHomeLeft, .back): return .deg180
        case (.landscapeHomeLeft, .front): return .deg0
        }
    }

    public static func forCamera(
        bufferWidth: Int, bufferHeight: Int, holding: HoldingOrientation, camera: CameraPosition
    ) throws -> FrameGeometry {
        try FrameGeometry(
            bufferWidth: bufferWidth,
            bufferHeight: bufferHeight,
            rotation: sensorRotation(holding: holding, camera: camera),
            mirrored: camera == .front
        )
    }

    public var uprightWidth: Int { rotation == .deg90 || rotation == .deg270 ? bufferHeight : bufferWidth }
    public var uprightHeight: Int { rotation == .deg90 || rotation == .deg270 ? bufferWidth : bufferHeight }

    /// Buffer pixel -> upright pixel.
    public var uprightFromBuffer: Affine2D {
        let w = Double(bufferWidth)
        let h = Double(bufferHeight)
        switch rotation {
        case .deg0: return .identity
        case .deg90: return Affine2D(a: 0, b: -1, c: h - 1, d: 1, e: 0, f: 0)
        case .deg180: return Affine2D(a: -1, b: 0, c: w - 1, d: 0, e: -1, f: h - 1)
        case .deg270: return Affine2D(a: 0, b: 1, c: 0, d: -1, e: 0, f: w - 1)
        }
    }

    /// Upright pixel -> buffer pixel.
    public var bufferFromUpright: Affine2D {
        // A rotation by a multiple of 90 degrees always inverts.
        uprightFromBuffer.inverse ?? .identity
    }

    /// A Vision observation's `boundingBox` (normalised to [0, 1], origin at the bottom-left, in
    /// the upright image Vision saw when given `rotation.exifOrientation`) -> a COCO box in upright
    /// pixels. Normalised 0 is the left edge of pixel 0, i.e. pixel coordinate -0.5.
    public func uprightBox(fromVisionNormalized x: Double, y: Double, width: Double, height: Double) -> BoxXYWH {
        let uw = Double(uprightWidth)
        let uh = Double(uprightHeight)
        return BoxXYWH(x: x * uw - 0.5, y: (1.0 - y - height) * uh - 0.5, width: width * uw, height: height * uh)
    }

    /// Upright pixel -> view point for a view of the given size showing the frame aspect-fill
    /// (scaled to cover the view, centred, the overflow cropped), mirrored when `mirrored`.
    public func viewFromUpright(viewWidth: Double, viewHeight: Double) -> Affine2D {
        let uw = Double(uprightWidth)
        let uh = Double(uprightHeight)
        let s = max(viewWidth / uw, viewHeight / uh)
        let ox = (viewWidth - uw * s) / 2.0
        let oy = (viewHeight - uh * s) / 2.0
        if mirrored {
            // The pixel column x covers [x - 0.5, x + 0.5]; mirrored it covers [uw - x - 0.5, uw - x + 0.5].
            return Affine2D(a: -s, b: 0, c: ox + s * (uw - 0.5), d: 0, e: s, f: oy + s * 0.5)
        }
        return Affine2D(a: s, b: 0, c: ox + s * 0.5, d: 0, e: s, f: oy + s * 0.5)
    }

    public func viewPoint(fromUpright x: Double, _ y: Double, viewWidth: Double, viewHeight: Double) -> (x: Double, y: Double) {
        viewFromUpright(viewWidth: viewWidth, viewHeight: viewHeight).apply(x: x, y: y)
    }

    // MARK: - Core Image coordinates

    /// Core Image puts a buffer's origin at its bottom-left corner and pixel (u, v) (top-left
    /// origin, integer centres) at (u + 0.5, height - v - 0.5).
    public static func pixelsFromCoreImage(height: Int) -> Affine2D {
        Affine2D(a: 1, b: 0, c: -0.5, d: 0, e: -1, f: Double(height) - 0.5)
    }

    public static func coreImageFromPixels(height: Int) -> Affine2D {
        Affine2D(a: 1, b: 0, c: 0.5, d: 0, e: -1, f: Double(height) - 0.5)
    }

    /// The one transform the GPU crop applies to the camera image in Core Image coordinates:
    /// buffer -> upright -> crop (the contract's affine) -> the crop buffer's Core Image coordinates.
    public func coreImageCropTransform(cropAffine: Affine2D, cropHeight: Int) -> Affine2D {
        FrameGeometry.coreImageFromPixels(height: cropHeight)
            .concatenating(after: cropAffine)
            .concatenating(after: uprightFromBuffer)
            .concatenating(after: FrameGeometry.pixelsFromCoreImage(height: bufferHeight))
    }

    /// The transform that draws the camera image into a view (drawable) of the given size in Core
    /// Image coordinates (origin bottom-left): the same map the overlay uses, so frame and mesh agree.
    public func coreImageDisplayTransform(viewWidth: Double, viewHeight: Double) -> Affine2D {
        let flip = Affine2D(a: 1, b: 0, c: 0, d: 0, e: -1, f: viewHeight)
        return flip
            .concatenating(after: viewFromUpright(viewWidth: viewWidth, viewHeight: viewHeight))
            .concatenating(after: uprightFromBuffer)
            .concatenating(after: FrameGeometry.pixelsFromCoreImage(height: bufferHeight))
    }
}
