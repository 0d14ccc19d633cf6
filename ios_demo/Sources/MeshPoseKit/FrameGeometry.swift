import Foundation

/// Clockwise rotation that turns a camera buffer upright.
public enum SensorRotation: Int, CaseIterable, Equatable {
    case deg0 = 0
    case deg90 = 90
    case deg180 = 180
    case deg270 = 270

    /// Only 0, 90, 180 or 270 (export/runtime/frame_geometry.py rejects anything else, 360 included).
    public init(strictDegrees degrees: Int) throws {
        guard let r = SensorRotation(rawValue: degrees) else {
            throw MeshPoseError("rotation \(degrees) must be 0, 90, 180 or 270 degrees clockwise", kind: .invalidRotation)
        }
        self = r
    }

    /// Any multiple of 90, normalised (AVFoundation's videoRotationAngle may read 360 or -90).
    public init(degrees: Int) throws {
        let normalised = ((degrees % 360) + 360) % 360
        guard let r = SensorRotation(rawValue: normalised) else {
            throw MeshPoseError("rotation \(degrees) must be 0, 90, 180 or 270 degrees clockwise", kind: .invalidRotation)
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

    /// The name export/runtime/frame_geometry.py and golden/geometry.json use (UIDeviceOrientation's).
    public var referenceName: String {
        switch self {
        case .portrait: return "portrait"
        case .portraitUpsideDown: return "portrait_upside_down"
        case .landscapeHomeRight: return "landscape_left"
        case .landscapeHomeLeft: return "landscape_right"
        }
    }

    public init?(referenceName: String) {
        guard let h = HoldingOrientation.allCases.first(where: { $0.referenceName == referenceName }) else { return nil }
        self = h
    }

    /// Gravity in the phone's screen plane (g) below which the phone counts as lying flat.
    public static let gravityMinTilt = 0.5
    /// A holding is kept until gravity is 45 + this many degrees away from it: no flicker at 45.
    public static let gravityHysteresisDegrees = 10.0

    /// Direction of gravity on the screen (degrees, atan2(x, -y)) when held this way.
    var gravityCentreDegrees: Double {
        switch self {
        case .portrait: return 0
        case .landscapeHomeLeft: return 90
        case .portraitUpsideDown: return 180
        case .landscapeHomeRight: return 270
        }
    }

    /// How the phone is held, from CoreMotion's gravity (x to the right edge, y to the top edge,
    /// z out of the screen, in g): unlike UIDevice's orientation it keeps coming under orientation
    /// lock. `previous` stays while the phone lies nearly flat or is within the hysteresis of it
    /// (export/runtime/frame_geometry.py `holding_from_gravity`, golden/geometry.json "gravity").
    public static func fromGravity(x: Double, y: Double, z: Double, previous: HoldingOrientation) -> HoldingOrientation {
        guard x.isFinite, y.isFinite, z.isFinite, (x * x + y * y).squareRoot() >= gravityMinTilt else { return previous }
        var angle = atan2(x, -y) * 180.0 / Double.pi
        angle = angle.truncatingRemainder(dividingBy: 360.0)
        if angle < 0 { angle += 360.0 }
        func distance(_ h: HoldingOrientation) -> Double {
            let d = Swift.abs(angle - h.gravityCentreDegrees).truncatingRemainder(dividingBy: 360.0)
            return min(d, 360.0 - d)
        }
        if distance(previous) <= 45.0 + gravityHysteresisDegrees { return previous }
        // Ties keep the reference's order (portrait, upside down, home right, home left).
        let order: [HoldingOrientation] = [.portrait, .portraitUpsideDown, .landscapeHomeRight, .landscapeHomeLeft]
        var best = order[0]
        for h in order.dropFirst() where distance(h) < distance(best) { best = h }
        return best
    }
}

/// Where a camera frame's pixels go: buffer (as delivered by the sensor, without any capture
/// connection rotation) -> upright image (what the person in front of the camera looks like,
/// never a mirror image: the detector, the crop, the model, the tracker and the smoother all work
/// here) -> view (aspect-fill, mirrored for the front camera so that it looks like a mirror).
/// The upright image is turned for how the phone is held (`rotation`); the screen shows the frame
/// turned for the interface (`displayRotation`): the two differ under orientation lock.
/// Pixel centres have integer coordinates (top-left pixel centre at (0, 0)), as in the crop
/// contract; view coordinates are continuous (the view's top-left corner is (0, 0)).
public struct FrameGeometry: Equatable {
    public let bufferWidth: Int
    public let bufferHeight: Int
    public let rotation: SensorRotation
    /// Mirror the view horizontally (front camera preview).
    public let mirrored: Bool
    /// The turn the screen shows the frame with (the interface's orientation).
    public let displayRotation: SensorRotation
    /// Flip the upright image horizontally after the turn (a buffer that arrives mirrored); no
    /// iPhone camera frame needs it with CameraSource's unmirrored connection (see `orientation`).
    public let uprightMirrored: Bool

    public init(
        bufferWidth: Int, bufferHeight: Int, rotation: SensorRotation, mirrored: Bool,
        displayRotation: SensorRotation? = nil, uprightMirrored: Bool = false
    ) throws {
        guard bufferWidth > 0, bufferHeight > 0 else {
            throw MeshPoseError("camera buffer size \(bufferWidth)x\(bufferHeight) must be positive", kind: .invalidSize)
        }
        self.bufferWidth = bufferWidth
        self.bufferHeight = bufferHeight
        self.rotation = rotation
        self.mirrored = mirrored
        self.displayRotation = displayRotation ?? rotation
        self.uprightMirrored = uprightMirrored
    }

    /// What turns an iPhone camera frame upright and true (never a mirror image) for a way of
    /// holding the phone, with CameraSource's unrotated, unmirrored connection. The golden cases
    /// ("cameras" in golden/geometry.json) are derived in export/runtime/frame_geometry.py from where each
    /// sensor's buffer axes point on the phone, not copied from this table. The front camera needs
    /// no mirror here: its unmirrored buffer is a true image. The widely copied Vision / ML Kit
    /// table (.leftMirrored, .downMirrored, ...) is this one plus a horizontal flip: it gives the
    /// mirror view users see, and would show the model every person left-right swapped.
    public static func orientation(holding: HoldingOrientation, camera: CameraPosition) -> (rotation: SensorRotation, mirrored: Bool) {
        (sensorRotation(holding: holding, camera: camera), false)
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

    /// `holding`: how the phone is held (gravity); `interface`: how the UI stands (defaults to
    /// `holding`; differs under orientation lock).
    public static func forCamera(
        bufferWidth: Int, bufferHeight: Int, holding: HoldingOrientation, camera: CameraPosition,
        interface: HoldingOrientation? = nil
    ) throws -> FrameGeometry {
        let turn = orientation(holding: holding, camera: camera)
        return try FrameGeometry(
            bufferWidth: bufferWidth,
            bufferHeight: bufferHeight,
            rotation: turn.rotation,
            mirrored: camera == .front,
            displayRotation: orientation(holding: interface ?? holding, camera: camera).rotation,
            uprightMirrored: turn.mirrored
        )
    }

    public var uprightWidth: Int { rotation == .deg90 || rotation == .deg270 ? bufferHeight : bufferWidth }
    public var uprightHeight: Int { rotation == .deg90 || rotation == .deg270 ? bufferWidth : bufferHeight }
    public var displayWidth: Int { displayRotation == .deg90 || displayRotation == .deg270 ? bufferHeight : bufferWidth }
    public var displayHeight: Int { displayRotation == .deg90 || displayRotation == .deg270 ? bufferWidth : bufferHeight }

    /// EXIF / CGImagePropertyOrientation raw value of the buffer, for Vision: the turn, and for a
    /// mirrored one upMirrored (2), leftMirrored (5, a transpose), downMirrored (4), rightMirrored (7).
    public var exifOrientation: UInt32 {
        guard uprightMirrored else { return rotation.exifOrientation }
        switch rotation {
        case .deg0: return 2
        case .deg90: return 5
        case .deg180: return 4
        case .deg270: return 7
        }
    }

    /// Buffer pixel -> upright pixel: the turn, then the flip if `uprightMirrored`.
    public var uprightFromBuffer: Affine2D {
        let turn = FrameGeometry.turn(bufferWidth: bufferWidth, bufferHeight: bufferHeight, rotation: rotation)
        guard uprightMirrored else { return turn }
        return Affine2D(a: -1, b: 0, c: Double(uprightWidth) - 1, d: 0, e: 1, f: 0).concatenating(after: turn)
    }

    /// Buffer pixel -> the pixel of the frame as the screen shows it (turned by `displayRotation`).
    public var displayFromBuffer: Affine2D {
        FrameGeometry.turn(bufferWidth: bufferWidth, bufferHeight: bufferHeight, rotation: displayRotation)
    }

    /// A clockwise quarter-turn multiple of a buffer, in pixel-centre coordinates.
    static func turn(bufferWidth: Int, bufferHeight: Int, rotation: SensorRotation) -> Affine2D {
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

    /// Upright pixel -> view point: back to the buffer, turned as the screen shows the frame, then
    /// placed (export/runtime/frame_geometry.py `upright_to_view_matrix`).
    public func viewFromUpright(viewWidth: Double, viewHeight: Double, mode: ViewMode = .fill) -> Affine2D {
        viewFromDisplay(viewWidth: viewWidth, viewHeight: viewHeight, mode: mode)
            .concatenating(after: displayFromBuffer)
            .concatenating(after: bufferFromUpright)
    }

    /// The frame as the screen shows it -> view point (`image_to_view_matrix`).
    func viewFromDisplay(viewWidth: Double, viewHeight: Double, mode: ViewMode) -> Affine2D {
        // The display size is positive by construction; a non-positive view gets the identity.
        (try? FrameGeometry.imageToView(
            imageWidth: Double(displayWidth), imageHeight: Double(displayHeight),
            viewWidth: viewWidth, viewHeight: viewHeight, mode: mode, mirrored: mirrored
        )) ?? .identity
    }

    public func viewPoint(fromUpright x: Double, _ y: Double, viewWidth: Double, viewHeight: Double) -> (x: Double, y: Double) {
        viewFromUpright(viewWidth: viewWidth, viewHeight: viewHeight).apply(x: x, y: y)
    }

    /// How the upright image is placed in a view: scaled uniformly and centred; `fill` covers the
    /// view and crops the overflow (resizeAspectFill), `fit` shows all of it with bars.
    public enum ViewMode: String, Equatable {
        case fill
        case fit
    }

    /// Image pixels -> view coordinates (continuous, (0, 0) = the view's top-left corner): pixel x
    /// sits at ox + s (x + 0.5); mirrored, the view is then flipped about its vertical centre line.
    public static func imageToView(
        imageWidth: Double, imageHeight: Double, viewWidth: Double, viewHeight: Double, mode: ViewMode, mirrored: Bool
    ) throws -> Affine2D {
        try checkSize(imageWidth, imageHeight, "image")
        try checkSize(viewWidth, viewHeight, "view")
        let s = mode == .fill
            ? max(viewWidth / imageWidth, viewHeight / imageHeight)
            : min(viewWidth / imageWidth, viewHeight / imageHeight)
        let ox = (viewWidth - s * imageWidth) / 2.0
        let oy = (viewHeight - s * imageHeight) / 2.0
        let m = Affine2D(a: s, b: 0, c: ox + 0.5 * s, d: 0, e: s, f: oy + 0.5 * s)
        if mirrored {
            return Affine2D(a: -1, b: 0, c: viewWidth, d: 0, e: 1, f: 0).concatenating(after: m)
        }
        return m
    }

    static func checkSize(_ width: Double, _ height: Double, _ what: String) throws {
        guard width.isFinite, height.isFinite, width > 0, height > 0 else {
            throw MeshPoseError("\(what) size \(width)x\(height) must be positive", kind: .invalidSize)
        }
    }

    /// Buffer pixels -> upright pixels for a buffer size, a clockwise rotation in degrees and,
    /// if `mirrored`, a horizontal flip of the upright image after the turn.
    public static func bufferToUpright(
        bufferWidth: Int, bufferHeight: Int, rotationDegrees: Int, mirrored: Bool = false
    ) throws -> Affine2D {
        let rotation = try SensorRotation(strictDegrees: rotationDegrees)
        return try FrameGeometry(
            bufferWidth: bufferWidth, bufferHeight: bufferHeight, rotation: rotation, mirrored: false, uprightMirrored: mirrored
        ).uprightFromBuffer
    }

    /// Buffer pixels straight to the view: rotate upright, place, then mirror.
    public func viewFromBuffer(viewWidth: Double, viewHeight: Double, mode: ViewMode = .fill) -> Affine2D {
        viewFromUpright(viewWidth: viewWidth, viewHeight: viewHeight, mode: mode).concatenating(after: uprightFromBuffer)
    }

    /// A COCO box found on the buffer -> the same region's box on the upright image (the corners
    /// turned and bounded: a quarter turn keeps boxes axis-aligned).
    public func uprightBox(fromBufferBox box: BoxXYWH) -> BoxXYWH {
        let m = uprightFromBuffer
        let corners = [
            m.apply(x: box.x, y: box.y), m.apply(x: box.x + box.width, y: box.y),
            m.apply(x: box.x, y: box.y + box.height), m.apply(x: box.x + box.width, y: box.y + box.height),
        ]
        let x0 = corners.map { $0.x }.min() ?? 0
        let x1 = corners.map { $0.x }.max() ?? 0
        let y0 = corners.map { $0.y }.min() ?? 0
        let y1 = corners.map { $0.y }.max() ?? 0
        return BoxXYWH(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Vision's normalised rect (origin bottom-left, y = the bottom edge) -> COCO pixels.
    public static func visionBoxToPixels(_ box: BoxXYWH, imageWidth: Double, imageHeight: Double) throws -> BoxXYWH {
        try checkSize(imageWidth, imageHeight, "image")
        return BoxXYWH(
            x: box.x * imageWidth - 0.5, y: (1.0 - box.y - box.height) * imageHeight - 0.5,
            width: box.width * imageWidth, height: box.height * imageHeight
        )
    }

    /// Top-left-origin normalised xywh (MediaPipe's relative boxes) -> COCO pixels.
    public static func normalizedBoxToPixels(_ box: BoxXYWH, imageWidth: Double, imageHeight: Double) throws -> BoxXYWH {
        try checkSize(imageWidth, imageHeight, "image")
        return BoxXYWH(
            x: box.x * imageWidth - 0.5, y: box.y * imageHeight - 0.5,
            width: box.width * imageWidth, height: box.height * imageHeight
        )
    }

    /// A rect in edge coordinates (0 = the image's left edge; a CGRect in image pixels) -> COCO
    /// xywh in pixel-centre coordinates.
    public static func edgeRectToBox(left: Double, top: Double, right: Double, bottom: Double) -> BoxXYWH {
        BoxXYWH(x: left - 0.5, y: top - 0.5, width: right - left, height: bottom - top)
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
            .concatenating(after: viewFromDisplay(viewWidth: viewWidth, viewHeight: viewHeight, mode: .fill))
            .concatenating(after: displayFromBuffer)
            .concatenating(after: FrameGeometry.pixelsFromCoreImage(height: bufferHeight))
    }
}
