import Foundation

/// Element type of a model output. FP16 Core ML programs hand back Float16 arrays; the sidecar
/// may say so per output (`dtype`), and the decoder takes the type of the array it is given.
public enum TensorDType: String, Equatable {
    case float32 = "FLOAT32"
    case float16 = "FLOAT16"
    case float64 = "FLOAT64"

    /// Accepts the spellings exporters write: FLOAT16, float16, fp16, Float16.
    public init?(spelling: String) {
        switch spelling.lowercased() {
        case "float32", "fp32", "f32": self = .float32
        case "float16", "fp16", "f16", "half": self = .float16
        case "float64", "fp64", "f64", "double": self = .float64
        default: return nil
        }
    }
}

public struct SidecarOutput: Equatable {
    public let name: String
    public let shape: [Int]
    public let units: String
    /// nil when the sidecar does not say; the array handed to the decoder decides.
    public let dtype: TensorDType?
}

public struct SidecarInput: Equatable {
    public let name: String
    public let width: Int
    public let height: Int
    public let layout: String
    public let colorOrder: String
    public let valueRange: [Double]
    public let mean: [Double]
    public let std: [Double]
}

/// The JSON that meshpose-export writes beside every artifact (export/sidecar.py): the app's
/// single source of truth for input size, crop contract, output names and the mesh.
public struct Sidecar: Equatable {
    public static let format = "meshpose-sidecar"
    public static let supportedVersion = 1

    public let formatVersion: Int
    public let artifact: String
    public let target: String
    public let precision: String
    public let variant: String
    public let toolkitVersion: String
    public let input: SidecarInput
    public let crop: CropContract
    public let outputs: [SidecarOutput]
    public let numVertices: Int
    /// Triangles as vertex index triples; nil when the model publishes none (the released
    /// checkpoint's topology has no faces): the app then draws points.
    public let faces: [[Int]]?
    public let topology: String
    public let parityPassed: Bool?
    public let parityMaxPx: Double?

    public func output(named name: String) -> SidecarOutput? {
        outputs.first { $0.name == name }
    }

    public static func load(contentsOf url: URL) throws -> Sidecar {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw MeshPoseError("cannot read sidecar \(url.path); copy the .json meshpose-export wrote beside the model")
        }
        return try parse(data, source: url.lastPathComponent)
    }

    /// A sidecar rebuilt from the key/value metadata meshpose-export embeds in the .mlpackage
    /// itself (export/sidecar.py `build_metadata`), for an app that bundles the model alone. That
    /// metadata carries no faces, so the mesh is drawn as points until the .json is bundled too.
    public static func fromModelMetadata(_ meta: [String: String], inputName: String, artifact: String) throws -> Sidecar {
        let source = "\(artifact) metadata"
        func json(_ key: String) throws -> Any {
            guard let text = meta[key], let data = text.data(using: .utf8) else {
                throw MeshPoseError(
                    "\(source) has no \"\(key)\" entry: not exported by meshpose-export; bundle its sidecar .json or re-export"
                )
            }
            return try JSONRead.parse(data, what: "\(source) \"\(key)\"")
        }
        let cropAny = try json("crop_contract")
        let outsAny = try json("outputs")
        guard let crop = JSONRead.object(cropAny),
            let w = JSONRead.int(crop["input_width"]), let h = JSONRead.int(crop["input_height"])
        else { throw MeshPoseError("\(source): crop_contract lacks the input size; re-export the model") }
        guard let outs = JSONRead.object(outsAny) else {
            throw MeshPoseError("\(source): outputs is not a JSON object; re-export the model")
        }
        // JSON object order is lost in a dictionary: list the outputs in a stable order.
        let outputs: [[String: Any]] = outs.keys.sorted().map { name in
            var o = JSONRead.object(outs[name]) ?? [:]
            o["name"] = name
            return o
        }
        let verticesShape = outputs.first(where: { ($0["name"] as? String) == "vertices" })?["shape"]
        let k = JSONRead.ints(verticesShape)?.dropFirst().first ?? 0
        let norm = meta["normalization"].flatMap { $0.data(using: .utf8) }.flatMap { try? JSONSerialization.jsonObject(with: $0) }
        let doc: [String: Any] = [
            "format": format,
            "format_version": supportedVersion,
            "toolkit_version": meta["toolkit_version"] ?? "",
            "artifact": artifact,
            "target": "coreml",
            "precision": meta["precision"] ?? "",
            "variant": meta["variant"] ?? "",
            "input": [
                "name": inputName, "width": w, "height": h, "layout": meta["input_layout"] ?? "",
                "color_order": "RGB", "normalization": norm ?? NSNull(),
            ] as [String: Any],
            "crop": crop,
            "outputs": outputs,
            "mesh": ["topology": meta["topology"] ?? "", "num_vertices": k, "faces": NSNull()] as [String: Any],
        ]
        let data = try JSONSerialization.data(withJSONObject: doc, options: [])
        return try parse(data, source: source)
    }

    public static func parse(_ data: Data, source: String = "sidecar") throws -> Sidecar {
        let root = try JSONRead.parse(data, what: source)
        guard let doc = JSONRead.object(root) else {
            throw MeshPoseError("\(source) is not a meshpose-export sidecar (not a JSON object); use the .json written beside the model")
        }
        func bad(_ what: String) -> MeshPoseError {
            MeshPoseError("\(source): \(what); re-export the model with meshpose-export")
        }
        guard JSONRead.string(doc["format"]) == format else {
            let found = JSONRead.string(doc["format"]).map { "\"\($0)\"" } ?? "none"
            throw MeshPoseError(
                "\(source) is not a meshpose-export sidecar (format \(found), expected \"\(format)\"); "
                    + "use the .json written beside the model"
            )
        }
        guard let version = JSONRead.int(doc["format_version"]) else { throw bad("format_version missing") }
        guard version == supportedVersion else {
            throw MeshPoseError(
                "\(source) is sidecar format_version \(version); this app reads version \(supportedVersion): "
                    + "update the app or re-export with a matching meshpose-export"
            )
        }

        guard let inputDoc = JSONRead.object(doc["input"]) else { throw bad("input section missing") }
        guard let inputName = JSONRead.string(inputDoc["name"]), !inputName.isEmpty else {
            throw bad("input.name missing")
        }
        guard let width = JSONRead.int(inputDoc["width"]), let height = JSONRead.int(inputDoc["height"]),
            width > 0, height > 0
        else { throw bad("input.width / input.height missing or not positive integers") }
        let norm = JSONRead.object(inputDoc["normalization"]) ?? [:]
        let input = SidecarInput(
            name: inputName,
            width: width,
            height: height,
            layout: JSONRead.string(inputDoc["layout"]) ?? "",
            colorOrder: JSONRead.string(inputDoc["color_order"]) ?? "RGB",
            valueRange: JSONRead.doubles(inputDoc["value_range"]) ?? [0, 255],
            mean: JSONRead.doubles(norm["mean"]) ?? [],
            std: JSONRead.doubles(norm["std"]) ?? []
        )

        guard let cropDoc = JSONRead.object(doc["crop"]) else { throw bad("crop section missing") }
        guard let cropW = JSONRead.int(cropDoc["input_width"]), let cropH = JSONRead.int(cropDoc["input_height"]) else {
            throw bad("crop.input_width / crop.input_height missing")
        }
        guard cropW == width, cropH == height else {
            throw bad("crop size \(cropW)x\(cropH) differs from the input size \(width)x\(height)")
        }
        guard let boxScale = JSONRead.double(cropDoc["box_scale"]) else { throw bad("crop.box_scale missing") }
        let border: [Double]
        if JSONRead.isNull(cropDoc["border_value"]) {
            border = [0, 0, 0]
        } else if let one = JSONRead.double(cropDoc["border_value"]) {
            border = [one, one, one]
        } else if let list = JSONRead.doubles(cropDoc["border_value"]) {
            border = list
        } else {
            throw bad("crop.border_value must be a number or one number per channel")
        }
        let crop: CropContract
        do {
            crop = try CropContract(inputWidth: cropW, inputHeight: cropH, boxScale: boxScale, borderValue: border)
        } catch let error as MeshPoseError {
            throw MeshPoseError("\(source): \(error.message)")
        }

        guard let outputList = doc["outputs"] as? [Any], !outputList.isEmpty else { throw bad("outputs list missing") }
        var outputs: [SidecarOutput] = []
        for (i, item) in outputList.enumerated() {
            guard let o = JSONRead.object(item), let name = JSONRead.string(o["name"]),
                let shape = JSONRead.ints(o["shape"])
            else { throw bad("outputs[\(i)] needs a name and a shape") }
            var dtype: TensorDType?
            if let spelled = JSONRead.string(o["dtype"]) {
                guard let parsed = TensorDType(spelling: spelled) else {
                    throw bad("outputs[\(i)] (\(name)) has dtype \(spelled); expected FLOAT32, FLOAT16 or FLOAT64")
                }
                dtype = parsed
            }
            outputs.append(SidecarOutput(name: name, shape: shape, units: JSONRead.string(o["units"]) ?? "", dtype: dtype))
        }
        guard let verticesOut = outputs.first(where: { $0.name == "vertices" }) else {
            throw bad("no output named \"vertices\" (outputs: \(outputs.map { $0.name }))")
        }
        guard outputs.contains(where: { $0.name == "visibility" }) else {
            throw bad("no output named \"visibility\" (outputs: \(outputs.map { $0.name }))")
        }
        guard verticesOut.shape.count == 3, verticesOut.shape[0] == 1, verticesOut.shape[2] == 3 else {
            throw bad("output vertices has shape \(verticesOut.shape), expected [1, K, 3]")
        }

        let mesh = JSONRead.object(doc["mesh"]) ?? [:]
        let k = JSONRead.int(mesh["num_vertices"]) ?? verticesOut.shape[1]
        guard k == verticesOut.shape[1], k > 0 else {
            throw bad("mesh.num_vertices \(k) differs from the vertices output's \(verticesOut.shape[1])")
        }
        var faces: [[Int]]?
        if !JSONRead.isNull(mesh["faces"]) {
            guard let list = mesh["faces"] as? [Any] else { throw bad("mesh.faces must be a list of triangles or null") }
            var tris: [[Int]] = []
            tris.reserveCapacity(list.count)
            for (i, item) in list.enumerated() {
                guard let tri = JSONRead.ints(item), tri.count == 3 else { throw bad("mesh.faces[\(i)] is not 3 vertex indices") }
                guard tri.allSatisfy({ $0 >= 0 && $0 < k }) else {
                    throw bad("mesh.faces[\(i)] = \(tri) indexes outside the \(k) vertices")
                }
                tris.append(tri)
            }
            faces = tris.isEmpty ? nil : tris
        }
        let parity = JSONRead.object(doc["parity"]) ?? [:]

        return Sidecar(
            formatVersion: version,
            artifact: JSONRead.string(doc["artifact"]) ?? "",
            target: JSONRead.string(doc["target"]) ?? "",
            precision: JSONRead.string(doc["precision"]) ?? "",
            variant: JSONRead.string(doc["variant"]) ?? "",
            toolkitVersion: JSONRead.string(doc["toolkit_version"]) ?? "",
            input: input,
            crop: crop,
            outputs: outputs,
            numVertices: k,
            faces: faces,
            topology: JSONRead.string(mesh["topology"]) ?? "",
            parityPassed: JSONRead.bool(parity["passed"]),
            parityMaxPx: JSONRead.double(parity["vertices_max_px"])
        )
    }
}
