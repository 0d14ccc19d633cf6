import Foundation

/// Element type of a model output as the sidecar declares it. FP16 Core ML programs hand back
/// Float16 arrays; the decoder reads whatever type the array it is given has.
public enum TensorDType: String, Equatable {
    case float32
    case float16
}

public struct SidecarOutput: Equatable {
    public let name: String
    public let shape: [Int]
    public let units: String
    public let dtype: TensorDType
}

public struct SidecarInput: Equatable {
    public let name: String
    public let width: Int
    public let height: Int
    public let layout: String
    public let colorOrder: String
    public let mean: [Double]
    public let std: [Double]
    /// True when the model normalises itself ("inside the model"); the app feeds raw 0...255 RGB
    /// either way (Core ML's image input applies the rest).
    public let normalizationInModel: Bool
}

/// The JSON that meshpose-export writes beside every artifact (export/sidecar.py): the app's
/// single source of truth for input size, crop contract, output names and the mesh. The reading
/// rules are those of `sidecar_view` in scripts/make_golden.py, checked by golden/sidecar.json.
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
    /// In the sidecar's order; look them up by name (`output(named:)`), never by position.
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
            throw MeshPoseError(
                "cannot read sidecar \(url.path); copy the .json meshpose-export wrote beside the model", kind: .io
            )
        }
        return try parse(data, source: url.lastPathComponent)
    }

    public static func parse(_ data: Data, source: String = "sidecar") throws -> Sidecar {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw MeshPoseError("\(source) is not JSON; use the .json meshpose-export wrote beside the model", kind: .notASidecar)
        }
        return try parse(jsonObject: root, source: source)
    }

    public static func parse(jsonObject root: Any, source: String = "sidecar") throws -> Sidecar {
        let fix = "re-export the model with meshpose-export"
        guard let doc = root as? [String: Any], JSONRead.string(doc["format"]) == format else {
            throw MeshPoseError(
                "\(source) is not a meshpose-export sidecar (format must be \"\(format)\"); use the .json written beside the model",
                kind: .notASidecar
            )
        }
        guard JSONRead.int(doc["format_version"]) == supportedVersion else {
            throw MeshPoseError(
                "\(source) has sidecar format_version \(doc["format_version"] ?? "none"); this app reads version "
                    + "\(supportedVersion): update the app or export with a matching meshpose-export",
                kind: .unsupportedVersion
            )
        }
        func need(_ obj: [String: Any], _ key: String, _ where_: String) throws -> Any {
            guard let v = obj[key], !(v is NSNull) else {
                throw MeshPoseError("\(source) has no \(where_)\(key); \(fix)", kind: .missingField)
            }
            return v
        }
        func section(_ obj: [String: Any], _ key: String, _ where_: String) throws -> [String: Any] {
            guard let d = try need(obj, key, where_) as? [String: Any] else {
                throw MeshPoseError("\(source): \(where_)\(key) must be a JSON object; \(fix)", kind: .missingField)
            }
            return d
        }
        func invalid(_ what: String) -> MeshPoseError {
            MeshPoseError("\(source): \(what); \(fix)", kind: .invalidValue)
        }
        func positiveInt(_ v: Any, _ what: String) throws -> Int {
            guard let i = JSONRead.int(v), i > 0 else { throw invalid("\(what) must be a positive integer, got \(v)") }
            return i
        }
        func number(_ v: Any, _ what: String) throws -> Double {
            guard let d = JSONRead.double(v), d.isFinite else { throw invalid("\(what) must be a finite number, got \(v)") }
            return d
        }
        func numbers(_ v: Any, _ what: String) throws -> [Double] {
            guard let list = v as? [Any] else { throw invalid("\(what) must be a list of numbers") }
            return try list.map { try number($0, what) }
        }

        let inp = try section(doc, "input", "")
        let crop = try section(doc, "crop", "")
        let mesh = try section(doc, "mesh", "")
        let outputsAny = try need(doc, "outputs", "")
        let height = try positiveInt(try need(inp, "height", "input."), "input.height")
        let width = try positiveInt(try need(inp, "width", "input."), "input.width")
        let norm = try section(inp, "normalization", "input.")
        let mean = try numbers(try need(norm, "mean", "input.normalization."), "input.normalization.mean")
        let std = try numbers(try need(norm, "std", "input.normalization."), "input.normalization.std")
        guard mean.count == 3, std.count == 3, (std.min() ?? 0) > 0 else {
            throw invalid("input.normalization mean and std need 3 values, std > 0")
        }
        let cropH = try positiveInt(try need(crop, "input_height", "crop."), "crop.input_height")
        let cropW = try positiveInt(try need(crop, "input_width", "crop."), "crop.input_width")
        guard cropH == height, cropW == width else {
            throw invalid("crop size \(cropW)x\(cropH) differs from the input size \(width)x\(height)")
        }
        let boxScale = try number(try need(crop, "box_scale", "crop."), "crop.box_scale")
        guard boxScale > 0 else { throw invalid("crop.box_scale must be positive") }
        let borderRaw: Any = crop["border_value"] ?? 0.0
        let border: [Double]
        if let list = borderRaw as? [Any] {
            guard list.count == 3 else { throw invalid("crop.border_value must be one number or three (R, G, B)") }
            border = try list.map { try number($0, "crop.border_value") }
        } else {
            let one = try number(borderRaw, "crop.border_value")
            border = [one, one, one]
        }
        let k = try positiveInt(try need(mesh, "num_vertices", "mesh."), "mesh.num_vertices")
        guard let outputList = outputsAny as? [Any] else { throw invalid("outputs must be a list") }
        let target = JSONRead.string(doc["target"]) ?? ""
        let precision = JSONRead.string(doc["precision"]) ?? ""
        // FP16 Core ML programs output FLOAT16 unless the sidecar says otherwise.
        let defaultDType: TensorDType = target == "coreml" && precision != "fp32" ? .float16 : .float32
        var outputs: [SidecarOutput] = []
        for item in outputList {
            guard let o = item as? [String: Any] else { throw MeshPoseError("\(source) has no outputs[].name; \(fix)", kind: .missingField) }
            guard let name = JSONRead.string(try need(o, "name", "outputs[].")) else { throw invalid("an output name is not a string") }
            guard let shapeList = try need(o, "shape", "outputs[\(name)].") as? [Any], !shapeList.isEmpty else {
                throw invalid("output \(name) has no shape")
            }
            let shape = try shapeList.map { try positiveInt($0, "output \(name) shape") }
            var dtype = defaultDType
            if let given = o["dtype"] {
                guard let spelled = given as? String, let parsed = TensorDType(rawValue: spelled) else {
                    throw invalid("output \(name) dtype \(given) is not float32 or float16")
                }
                dtype = parsed
            }
            outputs.append(SidecarOutput(name: name, shape: shape, units: JSONRead.string(o["units"]) ?? "", dtype: dtype))
        }
        for (name, shape) in [("vertices", [1, k, 3]), ("visibility", [1, k])] {
            guard let out = outputs.last(where: { $0.name == name }) else {
                throw MeshPoseError(
                    "\(source) lists no output named \"\(name)\" (it has \(outputs.map { $0.name })); \(fix)", kind: .missingOutput
                )
            }
            guard out.shape == shape else { throw invalid("output \(name) shape \(out.shape) is not \(shape)") }
        }
        var faces: [[Int]]?
        if let facesAny = mesh["faces"], !(facesAny is NSNull) {
            guard let list = facesAny as? [Any] else { throw invalid("mesh.faces must be a list of triangles or null") }
            var tris: [[Int]] = []
            tris.reserveCapacity(list.count)
            for item in list {
                guard let tri = item as? [Any], tri.count == 3 else {
                    throw invalid("mesh.faces must be triangles of vertex indices below \(k)")
                }
                var ids: [Int] = []
                for v in tri {
                    guard let i = JSONRead.int(v), i >= 0, i < k else {
                        throw invalid("mesh.faces must be triangles of vertex indices below \(k)")
                    }
                    ids.append(i)
                }
                tris.append(ids)
            }
            faces = tris
        }
        guard let inputName = JSONRead.string(try need(inp, "name", "input.")) else { throw invalid("input.name is not a string") }
        let contract = try CropContract(inputWidth: cropW, inputHeight: cropH, boxScale: boxScale, borderValue: border)
        let parity = doc["parity"] as? [String: Any] ?? [:]
        return Sidecar(
            formatVersion: supportedVersion,
            artifact: JSONRead.string(doc["artifact"]) ?? "",
            target: target,
            precision: precision,
            variant: JSONRead.string(doc["variant"]) ?? "",
            toolkitVersion: JSONRead.string(doc["toolkit_version"]) ?? "",
            input: SidecarInput(
                name: inputName,
                width: width,
                height: height,
                layout: JSONRead.string(inp["layout"]) ?? "",
                colorOrder: JSONRead.string(inp["color_order"]) ?? "RGB",
                mean: mean,
                std: std,
                normalizationInModel: JSONRead.string(norm["applied"]) == "inside the model"
            ),
            crop: contract,
            outputs: outputs,
            numVertices: k,
            faces: faces,
            topology: JSONRead.string(mesh["topology"]) ?? "",
            parityPassed: JSONRead.bool(parity["passed"]),
            parityMaxPx: JSONRead.double(parity["vertices_max_px"])
        )
    }

    /// A sidecar rebuilt from the key/value metadata meshpose-export embeds in the .mlpackage
    /// itself (export/sidecar.py `build_metadata`), for an app that bundles the model alone. That
    /// metadata carries no faces, so the mesh is drawn as points until the .json is bundled too.
    public static func fromModelMetadata(_ meta: [String: String], inputName: String, artifact: String) throws -> Sidecar {
        let source = "\(artifact) metadata"
        func json(_ key: String) throws -> Any {
            guard let text = meta[key], let data = text.data(using: .utf8),
                let value = try? JSONSerialization.jsonObject(with: data, options: [])
            else {
                throw MeshPoseError(
                    "\(source) has no readable \"\(key)\" entry: not written by meshpose-export; bundle the model's .json sidecar or re-export",
                    kind: .missingField
                )
            }
            return value
        }
        let cropAny = try json("crop_contract")
        let outsAny = try json("outputs")
        let normAny = try json("normalization")
        guard let crop = cropAny as? [String: Any], let w = JSONRead.int(crop["input_width"]),
            let h = JSONRead.int(crop["input_height"])
        else { throw MeshPoseError("\(source): crop_contract lacks the input size; re-export the model", kind: .missingField) }
        guard let outs = outsAny as? [String: Any] else {
            throw MeshPoseError("\(source): outputs is not a JSON object; re-export the model", kind: .invalidValue)
        }
        // A dictionary loses the JSON order; outputs are read by name, so any stable order will do.
        let outputs: [[String: Any]] = outs.keys.sorted().map { name in
            var o = outs[name] as? [String: Any] ?? [:]
            o["name"] = name
            return o
        }
        let verticesShape = outputs.first(where: { ($0["name"] as? String) == "vertices" })?["shape"]
        let k = JSONRead.ints(verticesShape).flatMap { $0.count == 3 ? $0[1] : nil } ?? 0
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
                "color_order": "RGB", "normalization": normAny,
            ] as [String: Any],
            "crop": crop,
            "outputs": outputs,
            "mesh": ["topology": meta["topology"] ?? "", "num_vertices": k, "faces": NSNull()] as [String: Any],
        ]
        return try parse(jsonObject: doc, source: source)
    }
}
