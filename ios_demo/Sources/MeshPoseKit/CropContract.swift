import Foundation

/// An interleaved float image (rows top to bottom, `channels` values per pixel), the CPU form the
/// crop contract is specified and tested on. The app crops on the GPU with the same affine.
public struct FloatImage: Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [Float]

    public init(width: Int, height: Int, channels: Int, pixels: [Float]) throws {
        guard width > 0, height > 0, channels > 0, pixels.count == width * height * channels else {
            throw MeshPoseError(
                "image of \(width)x\(height)x\(channels) needs \(width * height * channels) values, got \(pixels.count)",
                kind: .invalidSize
            )
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public func value(x: Int, y: Int, channel: Int) -> Float {
        pixels[(y * width + x) * channels + channel]
    }
}

/// How a person box becomes the network's input crop and how outputs go back to image pixels:
/// meshpose_mobile/crop.py, number for number. Pixel centres have integer coordinates in both
/// images (top-left pixel centre at (0, 0)); sampling is bilinear with a constant border, one
/// border value per channel (RGB order) because a border equal to the normalisation mean is
/// not grey.
public struct CropContract: Equatable {
    public let inputWidth: Int
    public let inputHeight: Int
    public let boxScale: Double
    /// Border value per RGB channel, in the image's value range (0...255 for camera pixels).
    public let borderValue: [Double]

    public init(inputWidth: Int, inputHeight: Int, boxScale: Double = 1.1, borderValue: [Double] = [0, 0, 0]) throws {
        guard inputWidth > 0, inputHeight > 0 else {
            throw MeshPoseError("crop size \(inputWidth)x\(inputHeight) must be positive; re-export the model")
        }
        guard boxScale.isFinite, boxScale > 0 else {
            throw MeshPoseError("crop box_scale \(boxScale) must be a positive number; re-export the model")
        }
        let border = borderValue.count == 1 ? Array(repeating: borderValue[0], count: 3) : borderValue
        guard border.count == 3, border.allSatisfy({ $0.isFinite }) else {
            throw MeshPoseError("crop border_value must be one number or one per RGB channel, got \(borderValue)")
        }
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        self.boxScale = boxScale
        self.borderValue = border
    }

    /// input_width / input_height: the aspect every person box is grown to.
    public var aspect: Double { Double(inputWidth) / Double(inputHeight) }

    /// The 2x3 map from image pixels to crop pixels for a COCO xywh box (crop.py `box_affine`):
    /// the box centre c, the smaller side grown to the aspect, both sides times box_scale, then
    /// c -> (W/2, H/2), c + (0, h/2) -> (W/2, H), c + (w/2, 0) -> (W, H/2).
    public func affine(for box: BoxXYWH) throws -> Affine2D {
        guard box.isValid else {
            throw MeshPoseError("person box \(box) must have finite x, y and positive width and height", kind: .invalidBox)
        }
        let cx = box.x + box.width / 2.0
        let cy = box.y + box.height / 2.0
        var w = box.width
        var h = box.height
        if w > aspect * h {
            h = w / aspect
        } else {
            w = h * aspect
        }
        w *= boxScale
        h *= boxScale
        let bigW = Double(inputWidth)
        let bigH = Double(inputHeight)
        return try Affine2D.fromPoints(
            [(x: cx, y: cy), (x: cx, y: cy + h / 2.0), (x: cx + w / 2.0, y: cy)],
            [(x: bigW / 2, y: bigH / 2), (x: bigW / 2, y: bigH), (x: bigW, y: bigH / 2)]
        )
    }

    /// Crop-pixel points (x, y[, z] interleaved, `dims` = 2 or 3 per point) -> image pixels; z is
    /// scaled by sqrt(|det|) of the inverse's linear part (= box width / input width).
    public func toImage(_ points: [Double], dims: Int, affine: Affine2D) throws -> [Double] {
        guard let inv = affine.inverse else { throw MeshPoseError("crop affine \(affine) is not invertible") }
        return try Self.map(points, dims: dims, through: inv)
    }

    /// The inverse of `toImage`.
    public func toCrop(_ points: [Double], dims: Int, affine: Affine2D) throws -> [Double] {
        try Self.map(points, dims: dims, through: affine)
    }

    static func map(_ points: [Double], dims: Int, through m: Affine2D) throws -> [Double] {
        guard dims == 2 || dims == 3, points.count % dims == 0 else {
            throw MeshPoseError("points must be interleaved with 2 or 3 values each, got \(points.count) values")
        }
        let zScale = abs(m.determinant).squareRoot()
        var out = points
        var i = 0
        while i < points.count {
            let p = m.apply(x: points[i], y: points[i + 1])
            out[i] = p.x
            out[i + 1] = p.y
            if dims == 3 { out[i + 2] = points[i + 2] * zScale }
            i += dims
        }
        return out
    }

    /// The crop itself on the CPU (crop.py `crop` with `bilinear_sample`): the reference the GPU
    /// pass is checked against, and what the benchmark's model-only input is made with.
    public func crop(_ image: FloatImage, box: BoxXYWH) throws -> (crop: FloatImage, affine: Affine2D) {
        let affine = try self.affine(for: box)
        guard let inv = affine.inverse else { throw MeshPoseError("crop affine \(affine) is not invertible") }
        guard image.channels == borderValue.count || image.channels == 1 else {
            throw MeshPoseError("the crop border has \(borderValue.count) channels, the image \(image.channels)")
        }
        let c = image.channels
        var out = [Float](repeating: 0, count: inputWidth * inputHeight * c)
        for yo in 0..<inputHeight {
            for xo in 0..<inputWidth {
                let sx = inv.a * Double(xo) + inv.b * Double(yo) + inv.c
                let sy = inv.d * Double(xo) + inv.e * Double(yo) + inv.f
                let base = (yo * inputWidth + xo) * c
                for ch in 0..<c {
                    out[base + ch] = Self.sample(image, x: sx, y: sy, channel: ch, border: Float(borderValue[ch]))
                }
            }
        }
        let cropped = try FloatImage(width: inputWidth, height: inputHeight, channels: c, pixels: out)
        return (cropped, affine)
    }

    /// Bilinear read at a float position; positions outside the image read `border`, with the
    /// image padded by one border pixel on every side (crop.py `bilinear_sample`).
    static func sample(_ image: FloatImage, x: Double, y: Double, channel: Int, border: Float) -> Float {
        let w = image.width
        let h = image.height
        let px = min(max(x + 1.0, 0.0), Double(w) + 1.0)
        let py = min(max(y + 1.0, 0.0), Double(h) + 1.0)
        let x0 = min(max(Int(px.rounded(.down)), 0), w)
        let y0 = min(max(Int(py.rounded(.down)), 0), h)
        let fx = Float(px - Double(x0))
        let fy = Float(py - Double(y0))
        // Padded coordinates: 0 and w + 1 (h + 1) are the border ring.
        func padded(_ xp: Int, _ yp: Int) -> Float {
            if xp < 1 || yp < 1 || xp > w || yp > h { return border }
            return image.value(x: xp - 1, y: yp - 1, channel: channel)
        }
        let top = padded(x0, y0) * (1 - fx) + padded(x0 + 1, y0) * fx
        let bottom = padded(x0, y0 + 1) * (1 - fx) + padded(x0 + 1, y0 + 1) * fx
        return top * (1 - fy) + bottom * fy
    }
}
