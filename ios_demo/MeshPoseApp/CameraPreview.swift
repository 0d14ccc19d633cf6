import CoreImage
import Metal
import MetalKit
import SwiftUI

/// The camera frame of the latest result, drawn by Core Image into a Metal view with
/// FrameGeometry's display transform (rotation upright, aspect fill, mirroring for the front
/// camera): the same map MeshOverlay uses for the mesh.
struct CameraPreview: UIViewRepresentable {
    let result: FrameResult?

    func makeCoordinator() -> Renderer {
        Renderer()
    }

    func makeUIView(context: Context) -> MTKView {
        let view = MTKView(frame: .zero, device: context.coordinator.device)
        view.framebufferOnly = false  // Core Image writes into the drawable
        view.colorPixelFormat = .bgra8Unorm
        view.isPaused = true
        view.enableSetNeedsDisplay = true  // draw once per processed frame, not on a timer
        view.backgroundColor = .black
        view.delegate = context.coordinator
        return view
    }

    func updateUIView(_ view: MTKView, context: Context) {
        context.coordinator.result = result
        view.setNeedsDisplay()
    }

    final class Renderer: NSObject, MTKViewDelegate {
        let device: MTLDevice? = MTLCreateSystemDefaultDevice()
        private lazy var queue: MTLCommandQueue? = device?.makeCommandQueue()
        private lazy var context: CIContext? = device.map {
            CIContext(mtlDevice: $0, options: [.workingColorSpace: NSNull(), .outputColorSpace: NSNull(), .cacheIntermediates: false])
        }
        private let colorSpace = CGColorSpaceCreateDeviceRGB()
        var result: FrameResult?

        func mtkView(_ view: MTKView, drawableSizeWillChange size: CGSize) {}

        func draw(in view: MTKView) {
            guard let result, let drawable = view.currentDrawable, let queue, let context,
                let commandBuffer = queue.makeCommandBuffer()
            else { return }
            let size = view.drawableSize
            let transform = result.geometry.coreImageDisplayTransform(viewWidth: Double(size.width), viewHeight: Double(size.height))
            let bounds = CGRect(origin: .zero, size: size)
            let image = CIImage(cvPixelBuffer: result.pixelBuffer)
                .transformed(by: transform.cgAffineTransform)
                .composited(over: CIImage(color: .black).cropped(to: bounds))
            context.render(image, to: drawable.texture, commandBuffer: commandBuffer, bounds: bounds, colorSpace: colorSpace)
            commandBuffer.present(drawable)
            commandBuffer.commit()
        }
    }
}
