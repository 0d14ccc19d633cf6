import CoreGraphics
import CoreImage
import CoreVideo
import Foundation
import Metal

extension Affine2D {
    /// CGAffineTransform's fields: x' = a x + c y + tx, y' = b x + d y + ty.
    var cgAffineTransform: CGAffineTransform {
        CGAffineTransform(a: CGFloat(a), b: CGFloat(d), c: CGFloat(b), d: CGFloat(e), tx: CGFloat(c), ty: CGFloat(f))
    }
}

/// The crop contract on the GPU: rotation to upright, the box affine, bilinear sampling and the
/// per-channel border in one Core Image render, into BGRA buffers recycled by a
/// CVPixelBufferPool: no per-frame allocation and no CPU pixel loop. Core ML's image input reads
/// the BGRA buffer directly (its normalisation is inside the model), so there is no conversion
/// step left that could cost more than the model.
final class GPUCropper {
    let context: CIContext
    private var pool: CVPixelBufferPool?
    private var poolWidth = 0
    private var poolHeight = 0

    init() {
        // No colour management: the model was trained on the camera's 8-bit values as they are.
        let options: [CIContextOption: Any] = [
            .workingColorSpace: NSNull(),
            .outputColorSpace: NSNull(),
            .cacheIntermediates: false,
        ]
        if let device = MTLCreateSystemDefaultDevice() {
            context = CIContext(mtlDevice: device, options: options)
        } else {
            context = CIContext(options: options)
        }
    }

    private func buffer(width: Int, height: Int) throws -> CVPixelBuffer {
        if pool == nil || poolWidth != width || poolHeight != height {
            let attributes: [String: Any] = [
                kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA,
                kCVPixelBufferWidthKey as String: width,
                kCVPixelBufferHeightKey as String: height,
                kCVPixelBufferIOSurfacePropertiesKey as String: [String: Any](),
                kCVPixelBufferMetalCompatibilityKey as String: true,
            ]
            let poolAttributes: [String: Any] = [kCVPixelBufferPoolMinimumBufferCountKey as String: 3]
            var newPool: CVPixelBufferPool?
            let status = CVPixelBufferPoolCreate(
                kCFAllocatorDefault, poolAttributes as CFDictionary, attributes as CFDictionary, &newPool
            )
            guard status == kCVReturnSuccess, let newPool else {
                throw MeshPoseError("cannot create the crop buffer pool (CoreVideo status \(status))", kind: .model)
            }
            pool = newPool
            poolWidth = width
            poolHeight = height
        }
        var out: CVPixelBuffer?
        let status = CVPixelBufferPoolCreatePixelBuffer(kCFAllocatorDefault, pool!, &out)
        guard status == kCVReturnSuccess, let out else {
            throw MeshPoseError("no free crop buffer (CoreVideo status \(status))", kind: .model)
        }
        return out
    }

    /// Renders the crop of `box` (upright image pixels) out of a camera frame or a photo whose
    /// buffer size and rotation `geometry` describes.
    func crop(
        _ source: CIImage, geometry: FrameGeometry, box: BoxXYWH, contract: CropContract
    ) throws -> (buffer: CVPixelBuffer, affine: Affine2D) {
        let affine = try contract.affine(for: box)
        // Tested in MeshPoseKitTests (CoreConventionTests) against the pixel-centre contract.
        let transform = geometry.coreImageCropTransform(cropAffine: affine, cropHeight: contract.inputHeight)
        let rect = CGRect(x: 0, y: 0, width: contract.inputWidth, height: contract.inputHeight)
        let b = contract.borderValue
        let border = CIImage(color: CIColor(red: CGFloat(b[0] / 255), green: CGFloat(b[1] / 255), blue: CGFloat(b[2] / 255)))
            .cropped(to: rect)
        // Outside the source the transformed image is transparent; over the border colour that is
        // exactly the contract's bilinear blend with a constant border.
        let image = source.transformed(by: transform.cgAffineTransform).composited(over: border).cropped(to: rect)
        let out = try buffer(width: contract.inputWidth, height: contract.inputHeight)
        let destination = CIRenderDestination(pixelBuffer: out)
        destination.colorSpace = nil
        // The model gets exactly the contract's values: no dither noise on the 8-bit quantisation.
        destination.isDithered = false
        let task = try context.startTask(toRender: image, from: rect, to: destination, at: .zero)
        _ = try task.waitUntilCompleted()
        return (out, affine)
    }

    func crop(
        _ pixelBuffer: CVPixelBuffer, geometry: FrameGeometry, box: BoxXYWH, contract: CropContract
    ) throws -> (buffer: CVPixelBuffer, affine: Affine2D) {
        try crop(CIImage(cvPixelBuffer: pixelBuffer), geometry: geometry, box: box, contract: contract)
    }
}
