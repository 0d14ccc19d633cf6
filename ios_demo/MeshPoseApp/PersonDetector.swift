import CoreVideo
import Foundation
import ImageIO
import Vision

/// Person boxes from Vision's human-rectangles request (whole body: upperBodyOnly = false), in
/// upright image pixels. Vision is told the frame's orientation, so its normalised boxes refer
/// to the upright image; FrameGeometry converts their bottom-left origin to COCO pixel boxes.
final class PersonDetector {
    struct Detection {
        let box: BoxXYWH
        let score: Double
    }

    private let request: VNDetectHumanRectanglesRequest = {
        let r = VNDetectHumanRectanglesRequest()
        r.upperBodyOnly = false
        return r
    }()

    func detect(_ pixelBuffer: CVPixelBuffer, geometry: FrameGeometry) throws -> [Detection] {
        let orientation = CGImagePropertyOrientation(rawValue: geometry.exifOrientation) ?? .up
        let handler = VNImageRequestHandler(cvPixelBuffer: pixelBuffer, orientation: orientation, options: [:])
        return try run(handler, geometry: geometry)
    }

    func detect(_ image: CGImage, geometry: FrameGeometry) throws -> [Detection] {
        let orientation = CGImagePropertyOrientation(rawValue: geometry.exifOrientation) ?? .up
        let handler = VNImageRequestHandler(cgImage: image, orientation: orientation, options: [:])
        return try run(handler, geometry: geometry)
    }

    private func run(_ handler: VNImageRequestHandler, geometry: FrameGeometry) throws -> [Detection] {
        do {
            try handler.perform([request])
        } catch {
            throw MeshPoseError("Vision person detection failed: \(error.localizedDescription)", kind: .model)
        }
        let observations = request.results ?? []
        return observations.map { o in
            let r = o.boundingBox
            let box = geometry.uprightBox(
                fromVisionNormalized: Double(r.origin.x), y: Double(r.origin.y),
                width: Double(r.size.width), height: Double(r.size.height)
            )
            return Detection(box: box, score: Double(o.confidence))
        }
    }
}
