import Foundation

/// IEEE 754 half-precision bits -> Float, by hand: Swift's Float16 type does not exist on Intel
/// Macs, and MeshPoseKit must build wherever `swift test` runs. Exact for every half value
/// (normals, subnormals, zeros, infinities, NaN).
public enum Half {
    public static func toFloat(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal: mantissa * 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }
}

/// Raw elements of one model output as the runtime hands them over.
public enum TensorStorage {
    case float32([Float])
    case float16([UInt16])
    case float64([Double])

    public var count: Int {
        switch self {
        case .float32(let v): return v.count
        case .float16(let v): return v.count
        case .float64(let v): return v.count
        }
    }

    /// The element type's name; not a `TensorDType`, which names only what a sidecar may declare
    /// (float32, float16), while Core ML may also hand over a Double MLMultiArray.
    public var dtypeName: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .float64: return "float64"
        }
    }

    @inline(__always) func element(_ i: Int) -> Double {
        switch self {
        case .float32(let v): return Double(v[i])
        case .float16(let v): return Double(Half.toFloat(v[i]))
        case .float64(let v): return v[i]
        }
    }
}

/// A named output: shape, strides in elements (Core ML pads the last dimension of Neural Engine
/// outputs, so strides are not always the dense ones) and the storage they index.
public struct OutputTensor {
    public let shape: [Int]
    public let strides: [Int]
    public let storage: TensorStorage

    public init(shape: [Int], strides: [Int]? = nil, storage: TensorStorage) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
            throw MeshPoseError("output shape \(shape) must have positive dimensions")
        }
        let dense = OutputTensor.denseStrides(shape)
        let st = strides ?? dense
        guard st.count == shape.count, st.allSatisfy({ $0 >= 0 }) else {
            throw MeshPoseError("output strides \(st) do not fit its shape \(shape)")
        }
        var last = 0
        for (n, s) in zip(shape, st) { last += (n - 1) * s }
        guard last < storage.count else {
            throw MeshPoseError("output of shape \(shape) and strides \(st) needs \(last + 1) elements, has \(storage.count)")
        }
        self.shape = shape
        self.strides = st
        self.storage = storage
    }

    public static func denseStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// All elements in row-major order of `shape`, as Double.
    public func values() -> [Double] {
        let n = elementCount
        var out = [Double](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: shape.count)
        for flat in 0..<n {
            var offset = 0
            for d in 0..<shape.count { offset += index[d] * strides[d] }
            out[flat] = storage.element(offset)
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}

/// One person's mesh in image pixels (the upright camera image, or the photo).
public struct DecodedMesh: Equatable {
    /// K x 3 interleaved: x, y in image pixels; z relative depth scaled to image pixels.
    public var vertices: [Double]
    /// K probabilities in [0, 1].
    public var visibility: [Double]
    /// K x 2 interleaved heatmap estimate in image pixels, when the model has that output.
    public var vertices2D: [Double]?

    public var count: Int { visibility.count }

    public init(vertices: [Double], visibility: [Double], vertices2D: [Double]?) {
        self.vertices = vertices
        self.visibility = visibility
        self.vertices2D = vertices2D
    }

    /// x, y of every vertex, K x 2 interleaved (what the tracker and the overlay read).
    public var xy: [Double] {
        var out = [Double](repeating: 0, count: count * 2)
        for i in 0..<count {
            out[2 * i] = vertices[3 * i]
            out[2 * i + 1] = vertices[3 * i + 1]
        }
        return out
    }
}

/// The model's named outputs (crop pixels) -> image-space vertices and visibility, read by name,
/// never by position, because runtimes reorder outputs.
public struct OutputDecoder {
    public let numVertices: Int
    public let contract: CropContract

    public init(numVertices: Int, contract: CropContract) {
        self.numVertices = numVertices
        self.contract = contract
    }

    public init(sidecar: Sidecar) {
        self.init(numVertices: sidecar.numVertices, contract: sidecar.crop)
    }

    public func decode(_ outputs: [String: OutputTensor], affine: Affine2D) throws -> DecodedMesh {
        let k = numVertices
        let verticesCrop = try read(outputs, "vertices", expected: k * 3, last: 3)
        let visibility = try read(outputs, "visibility", expected: k, last: nil)
        let vertices = try contract.toImage(verticesCrop, dims: 3, affine: affine)
        var vertices2D: [Double]?
        if outputs["vertices_2d"] != nil {
            let v2 = try read(outputs, "vertices_2d", expected: k * 2, last: 2)
            vertices2D = try contract.toImage(v2, dims: 2, affine: affine)
        }
        return DecodedMesh(vertices: vertices, visibility: visibility, vertices2D: vertices2D)
    }

    private func read(_ outputs: [String: OutputTensor], _ name: String, expected: Int, last: Int?) throws -> [Double] {
        guard let tensor = outputs[name] else {
            let names = outputs.keys.sorted().joined(separator: ", ")
            throw MeshPoseError(
                "the model has no output named \"\(name)\" (it has: \(names)); use a meshpose-export model", kind: .missingOutput
            )
        }
        let shapeOK = tensor.elementCount == expected && (last == nil || tensor.shape.last == last)
        guard shapeOK else {
            throw MeshPoseError(
                "output \"\(name)\" has shape \(tensor.shape), expected \(expected) values for \(numVertices) vertices; "
                    + "the model and its sidecar do not match"
            )
        }
        let values = tensor.values()
        guard values.allSatisfy({ $0.isFinite }) else {
            throw MeshPoseError("output \"\(name)\" contains NaN or infinity; the model or its input is broken")
        }
        return values
    }
}
