import SwiftUI

/// The mesh over the camera image: triangles when the sidecar has faces, points otherwise,
/// coloured by visibility (red = hidden ... green = visible). Placed with the same
/// FrameGeometry map as the frame itself (CameraPreview), so portrait, landscape and the front
/// camera's mirroring cannot disagree between frame and mesh.
struct MeshOverlay: View {
    let result: FrameResult?
    let faces: [[Int]]?

    private static let colors: [Color] = [.red, .orange, .yellow, .green]

    var body: some View {
        Canvas { context, size in
            guard let result, size.width > 0, size.height > 0 else { return }
            let m = result.geometry.viewFromUpright(viewWidth: Double(size.width), viewHeight: Double(size.height))
            for person in result.people {
                Self.draw(person, through: m, faces: faces, in: &context)
            }
        }
        .allowsHitTesting(false)
    }

    private static func bucket(_ v: Double) -> Int {
        min(colors.count - 1, max(0, Int(v * Double(colors.count))))
    }

    private static func draw(_ person: PersonResult, through m: Affine2D, faces: [[Int]]?, in context: inout GraphicsContext) {
        let k = person.visibility.count
        guard person.xy.count == 2 * k else { return }
        var points: [CGPoint] = []
        points.reserveCapacity(k)
        for i in 0..<k {
            let p = m.apply(x: person.xy[2 * i], y: person.xy[2 * i + 1])
            points.append(CGPoint(x: p.x, y: p.y))
        }
        // One path per colour: a few fills per frame instead of one per triangle.
        var paths = [Path](repeating: Path(), count: colors.count)
        if let faces, !faces.isEmpty {
            for tri in faces where tri.count == 3 && tri.allSatisfy({ $0 < k }) {
                let v = (person.visibility[tri[0]] + person.visibility[tri[1]] + person.visibility[tri[2]]) / 3.0
                let b = bucket(v)
                paths[b].move(to: points[tri[0]])
                paths[b].addLine(to: points[tri[1]])
                paths[b].addLine(to: points[tri[2]])
                paths[b].closeSubpath()
            }
            for (i, path) in paths.enumerated() {
                context.fill(path, with: .color(colors[i].opacity(0.3)))
                context.stroke(path, with: .color(colors[i].opacity(0.75)), lineWidth: 0.5)
            }
        } else {
            for i in 0..<k {
                let b = bucket(person.visibility[i])
                paths[b].addEllipse(in: CGRect(x: points[i].x - 2, y: points[i].y - 2, width: 4, height: 4))
            }
            for (i, path) in paths.enumerated() {
                context.fill(path, with: .color(colors[i].opacity(0.9)))
            }
        }
    }
}
