import Foundation

/// A 2x3 affine map in row-major form, as meshpose_mobile/crop.py's matrices:
/// x' = a * x + b * y + c,  y' = d * x + e * y + f.
public struct Affine2D: Equatable, CustomStringConvertible {
    public var a: Double
    public var b: Double
    public var c: Double
    public var d: Double
    public var e: Double
    public var f: Double

    public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        self.e = e
        self.f = f
    }

    /// From the rows of a 2x3 matrix, [[a, b, c], [d, e, f]].
    public init(rows: [[Double]]) throws {
        guard rows.count == 2, rows[0].count == 3, rows[1].count == 3 else {
            throw MeshPoseError("an affine matrix needs 2 rows of 3 numbers, got \(rows)")
        }
        self.init(a: rows[0][0], b: rows[0][1], c: rows[0][2], d: rows[1][0], e: rows[1][1], f: rows[1][2])
    }

    public static let identity = Affine2D(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

    public static func translation(_ tx: Double, _ ty: Double) -> Affine2D {
        Affine2D(a: 1, b: 0, c: tx, d: 0, e: 1, f: ty)
    }

    public static func scale(_ sx: Double, _ sy: Double) -> Affine2D {
        Affine2D(a: sx, b: 0, c: 0, d: 0, e: sy, f: 0)
    }

    public var rows: [[Double]] { [[a, b, c], [d, e, f]] }

    /// Determinant of the linear 2x2 part.
    public var determinant: Double { a * e - b * d }

    public var description: String { "[[\(a), \(b), \(c)], [\(d), \(e), \(f)]]" }

    public func apply(x: Double, y: Double) -> (x: Double, y: Double) {
        (a * x + b * y + c, d * x + e * y + f)
    }

    /// The inverse map; nil when the linear part is singular.
    public var inverse: Affine2D? {
        let det = determinant
        guard det != 0, det.isFinite else { return nil }
        let ia = e / det
        let ib = -b / det
        let id = -d / det
        let ie = a / det
        return Affine2D(a: ia, b: ib, c: -(ia * c + ib * f), d: id, e: ie, f: -(id * c + ie * f))
    }

    /// `self` after `first`: (self ∘ first)(p) = self(first(p)).
    public func concatenating(after first: Affine2D) -> Affine2D {
        Affine2D(
            a: a * first.a + b * first.d,
            b: a * first.b + b * first.e,
            c: a * first.c + b * first.f + c,
            d: d * first.a + e * first.d,
            e: d * first.b + e * first.e,
            f: d * first.c + e * first.f + f
        )
    }

    /// The affine map sending three source points to three destination points (cv2's
    /// getAffineTransform; crop.py's `_affine_from_points`), solved by Cramer's rule.
    public static func fromPoints(
        _ src: [(x: Double, y: Double)], _ dst: [(x: Double, y: Double)]
    ) throws -> Affine2D {
        guard src.count == 3, dst.count == 3 else {
            throw MeshPoseError("an affine map from points needs exactly 3 source and 3 destination points")
        }
        let det = src[0].x * (src[1].y - src[2].y) - src[0].y * (src[1].x - src[2].x)
            + (src[1].x * src[2].y - src[2].x * src[1].y)
        guard det != 0, det.isFinite else {
            throw MeshPoseError("the 3 source points of an affine map are collinear")
        }
        func solve(_ v0: Double, _ v1: Double, _ v2: Double) -> (Double, Double, Double) {
            // Rows [x_i, y_i, 1] . [p, q, r] = v_i.
            let p = (v0 * (src[1].y - src[2].y) - src[0].y * (v1 - v2) + (v1 * src[2].y - v2 * src[1].y)) / det
            let q = (src[0].x * (v1 - v2) - v0 * (src[1].x - src[2].x) + (src[1].x * v2 - src[2].x * v1)) / det
            let r = (src[0].x * (src[1].y * v2 - src[2].y * v1) - src[0].y * (src[1].x * v2 - src[2].x * v1)
                + v0 * (src[1].x * src[2].y - src[2].x * src[1].y)) / det
            return (p, q, r)
        }
        let rowX = solve(dst[0].x, dst[1].x, dst[2].x)
        let rowY = solve(dst[0].y, dst[1].y, dst[2].y)
        return Affine2D(a: rowX.0, b: rowX.1, c: rowX.2, d: rowY.0, e: rowY.1, f: rowY.2)
    }
}

/// A person box in COCO form: top-left corner, width, height, in image pixels (pixel centres at
/// integer coordinates, as everywhere in the project).
public struct BoxXYWH: Equatable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public init(_ values: [Double]) throws {
        guard values.count == 4 else { throw MeshPoseError("a box needs 4 numbers (x, y, w, h), got \(values)") }
        self.init(x: values[0], y: values[1], width: values[2], height: values[3])
    }

    public var centerX: Double { x + width / 2.0 }
    public var centerY: Double { y + height / 2.0 }
    public var area: Double { width * height }
    public var values: [Double] { [x, y, width, height] }
    public var isValid: Bool { x.isFinite && y.isFinite && width.isFinite && height.isFinite && width > 0 && height > 0 }
    public var description: String { "(\(x), \(y), \(width), \(height))" }

    /// Intersection over union; 0 when either box is empty (export/runtime/tracking.py `box_iou`).
    public func iou(_ other: BoxXYWH) -> Double {
        let ax1 = x + width
        let ay1 = y + height
        let bx1 = other.x + other.width
        let by1 = other.y + other.height
        let iw = min(ax1, bx1) - max(x, other.x)
        let ih = min(ay1, by1) - max(y, other.y)
        if iw <= 0 || ih <= 0 { return 0 }
        let inter = iw * ih
        let union = width * height + other.width * other.height - inter
        return union > 0 ? inter / union : 0
    }
}
