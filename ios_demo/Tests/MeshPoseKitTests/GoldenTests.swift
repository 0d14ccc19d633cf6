import Foundation
import XCTest
@testable import MeshPoseKit

/// MeshPoseKit against the vectors Python writes from the project's own code (golden/README.md).
final class SidecarGoldenTests: XCTestCase {
    func testEveryCase() throws {
        let cases = Golden.cases(try Golden.load("sidecar"))
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let doc: Any = c["sidecar"] ?? NSNull()
            if c["valid"] as? Bool == true {
                let s: Sidecar
                do {
                    s = try Sidecar.parse(jsonObject: doc, source: name)
                } catch {
                    XCTFail("\(name): rejected a valid sidecar: \(error)")
                    continue
                }
                guard let e = c["expected"] as? [String: Any] else { XCTFail("\(name): no expected"); continue }
                XCTAssertEqual(s.target, e["target"] as? String, name)
                XCTAssertEqual(s.precision, e["precision"] as? String, name)
                XCTAssertEqual(s.variant, e["variant"] as? String, name)
                XCTAssertEqual(s.input.name, e["input_name"] as? String, name)
                XCTAssertEqual(s.input.height, JSONRead.int(e["input_height"]), name)
                XCTAssertEqual(s.input.width, JSONRead.int(e["input_width"]), name)
                XCTAssertEqual(s.input.colorOrder, e["color_order"] as? String, name)
                assertClose(s.input.mean, nums(e["mean"]), abs: 1e-9, "\(name) mean")
                assertClose(s.input.std, nums(e["std"]), abs: 1e-9, "\(name) std")
                XCTAssertEqual(s.input.normalizationInModel, e["normalization_in_model"] as? Bool, name)
                let crop = e["crop"] as? [String: Any] ?? [:]
                XCTAssertEqual(s.crop.inputHeight, JSONRead.int(crop["input_height"]), name)
                XCTAssertEqual(s.crop.inputWidth, JSONRead.int(crop["input_width"]), name)
                XCTAssertEqual(s.crop.boxScale, num(crop["box_scale"]), accuracy: 1e-12, name)
                assertClose(s.crop.borderValue, nums(crop["border_value"]), abs: 1e-9, "\(name) border")
                XCTAssertEqual(s.numVertices, JSONRead.int(e["num_vertices"]), name)
                XCTAssertEqual(s.faces?.count, JSONRead.int(e["num_faces"]), "\(name) faces")
                let outs = (e["outputs"] as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
                XCTAssertEqual(s.outputs.map { $0.name }, outs.map { $0["name"] as? String ?? "" }, name)
                for o in outs {
                    let oname = o["name"] as? String ?? ""
                    XCTAssertEqual(s.output(named: oname)?.shape, ints(o["shape"]), "\(name) \(oname) shape")
                    XCTAssertEqual(s.output(named: oname)?.dtype.rawValue, o["dtype"] as? String, "\(name) \(oname) dtype")
                }
            } else {
                XCTAssertEqual(errorKind { try Sidecar.parse(jsonObject: doc, source: name) }, c["error"] as? String, name)
            }
        }
    }

    func testBytesThatAreNotJSONAreNotASidecar() {
        XCTAssertEqual(errorKind { try Sidecar.parse(Data("{not json".utf8)) }, "not_a_sidecar")
    }

    func testMetadataEmbeddedInTheModelGivesTheSameContract() throws {
        // What export/sidecar.py `build_metadata` embeds in the .mlpackage, for a model bundled
        // without its .json: same crop, outputs by name, no faces.
        let cases = Golden.cases(try Golden.load("sidecar"))
        guard let coreml = cases.first(where: { ($0["name"] as? String) == "tiny_coreml_fp16" }),
            let doc = coreml["sidecar"] as? [String: Any]
        else { return XCTFail("no tiny_coreml_fp16 case") }
        let full = try Sidecar.parse(jsonObject: doc)
        func text(_ v: Any) throws -> String { String(decoding: try JSONSerialization.data(withJSONObject: v), as: UTF8.self) }
        var outputs: [String: Any] = [:]
        for o in (doc["outputs"] as? [[String: Any]]) ?? [] {
            outputs[o["name"] as? String ?? ""] = ["shape": o["shape"] ?? NSNull(), "units": o["units"] ?? NSNull()] as [String: Any]
        }
        let input = doc["input"] as? [String: Any] ?? [:]
        let meta: [String: String] = [
            "variant": full.variant, "precision": full.precision, "toolkit_version": full.toolkitVersion,
            "crop_contract": try text(doc["crop"] ?? NSNull()), "outputs": try text(outputs),
            "normalization": try text(input["normalization"] ?? NSNull()), "topology": full.topology,
        ]
        let rebuilt = try Sidecar.fromModelMetadata(meta, inputName: full.input.name, artifact: full.artifact)
        XCTAssertEqual(rebuilt.crop, full.crop)
        XCTAssertEqual(rebuilt.numVertices, full.numVertices)
        XCTAssertNil(rebuilt.faces)
        XCTAssertEqual(rebuilt.output(named: "vertices")?.dtype, .float16)
        XCTAssertEqual(errorKind { try Sidecar.fromModelMetadata([:], inputName: "image", artifact: "x") }, "missing_field")
    }
}

final class CropGoldenTests: XCTestCase {
    func testEveryCase() throws {
        let doc = try Golden.load("crop")
        let images = doc["images"] as? [String: Any] ?? [:]
        let cases = Golden.cases(doc)
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        var checkedPixels = 0
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let k = c["contract"] as? [String: Any] ?? [:]
            let contract = try CropContract(
                inputWidth: JSONRead.int(k["input_width"]) ?? 0, inputHeight: JSONRead.int(k["input_height"]) ?? 0,
                boxScale: num(k["box_scale"]), borderValue: nums(k["border_value"])
            )
            let boxValues = nums(c["box"])
            let box = BoxXYWH(x: boxValues[0], y: boxValues[1], width: boxValues[2], height: boxValues[3])
            if let kind = c["error"] as? String {
                XCTAssertEqual(errorKind { try contract.affine(for: box) }, kind, name)
                continue
            }
            guard let e = c["expected"] as? [String: Any] else { XCTFail("\(name): no expected"); continue }
            let m = try contract.affine(for: box)
            assertClose(m, try affine(e["affine"]), "\(name) affine")
            assertClose(try XCTUnwrap(m.inverse), try affine(e["inverse"]), "\(name) inverse")
            XCTAssertEqual(Swift.abs(try XCTUnwrap(m.inverse).determinant).squareRoot(), num(e["crop_to_image_scale"]),
                           accuracy: 1e-6, "\(name) scale")
            assertClose(try contract.toImage(nums(e["crop_points"]), dims: 3, affine: m), nums(e["image_points"]),
                        abs: 1e-5, rel: 1e-6, "\(name) to image")
            assertClose(try contract.toCrop(nums(e["image_points"]), dims: 3, affine: m), nums(e["crop_points"]),
                        abs: 1e-4, rel: 1e-6, "\(name) back to crop")
            if let pixels = e["crop_pixels"] as? [String: Any] {
                let imageKey = c["image"] as? String ?? ""
                let img = images[imageKey] as? [String: Any] ?? [:]
                let shape = ints(img["shape"])
                let image = try FloatImage(
                    width: shape[1], height: shape[0], channels: shape[2], pixels: nums(img["data"]).map { Float($0) }
                )
                let (crop, _) = try contract.crop(image, box: box)
                XCTAssertEqual([crop.height, crop.width, crop.channels], ints(pixels["shape"]), name)
                assertClose(crop.pixels.map { Double($0) }, nums(pixels["data"]), abs: 1e-3, "\(name) crop pixels")
                checkedPixels += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checkedPixels, 5, "crop cases with pixels")
    }
}

final class GeometryGoldenTests: XCTestCase {
    func testRotations() throws {
        let doc = try Golden.load("geometry")
        let rotations = Golden.cases(doc, "rotations")
        XCTAssertEqual(Set(rotations.map { JSONRead.int($0["rotation"]) ?? -1 }), [0, 90, 180, 270])
        for c in rotations {
            let size = ints(c["buffer_size"])
            let degrees = JSONRead.int(c["rotation"]) ?? -1
            let g = try FrameGeometry(
                bufferWidth: size[0], bufferHeight: size[1], rotation: try SensorRotation(strictDegrees: degrees), mirrored: false
            )
            let what = "rotation \(degrees) of \(size)"
            XCTAssertEqual([g.uprightWidth, g.uprightHeight], ints(c["upright_size"]), what)
            assertClose(g.uprightFromBuffer, try affine(c["buffer_to_upright"]), what)
            assertClose(
                try FrameGeometry.bufferToUpright(bufferWidth: size[0], bufferHeight: size[1], rotationDegrees: degrees),
                try affine(c["buffer_to_upright"]), what
            )
            let points = nums(c["buffer_points"])
            var turned: [Double] = []
            var back: [Double] = []
            for i in stride(from: 0, to: points.count, by: 2) {
                let p = g.uprightFromBuffer.apply(x: points[i], y: points[i + 1])
                turned += [p.x, p.y]
                let q = g.bufferFromUpright.apply(x: p.x, y: p.y)
                back += [q.x, q.y]
            }
            assertClose(turned, nums(c["upright_points"]), abs: 1e-9, "\(what) points")
            assertClose(back, points, abs: 1e-9, "\(what) points back")
            let b = nums(c["buffer_box"])
            assertClose(g.uprightBox(fromBufferBox: try BoxXYWH(b)), nums(c["upright_box"]), "\(what) box")
        }
    }

    func testViews() throws {
        let doc = try Golden.load("geometry")
        let views = Golden.cases(doc, "views")
        XCTAssertTrue(views.contains { ($0["mirrored"] as? Bool) == true })
        XCTAssertTrue(views.contains { ($0["mode"] as? String) == "fit" })
        for c in views {
            let image = nums(c["image_size"])
            let view = nums(c["view_size"])
            let mode = try XCTUnwrap(FrameGeometry.ViewMode(rawValue: c["mode"] as? String ?? ""))
            let mirrored = c["mirrored"] as? Bool ?? false
            let what = "\(image) in \(view) \(mode) mirrored=\(mirrored)"
            let m = try FrameGeometry.imageToView(
                imageWidth: image[0], imageHeight: image[1], viewWidth: view[0], viewHeight: view[1], mode: mode, mirrored: mirrored
            )
            assertClose(m, try affine(c["image_to_view"]), what)
            let points = nums(c["image_points"])
            var mapped: [Double] = []
            for i in stride(from: 0, to: points.count, by: 2) {
                let p = m.apply(x: points[i], y: points[i + 1])
                mapped += [p.x, p.y]
            }
            assertClose(mapped, nums(c["view_points"]), abs: 1e-5, rel: 1e-7, "\(what) points")
        }
    }

    func testBufferToView() throws {
        let doc = try Golden.load("geometry")
        for c in Golden.cases(doc, "buffer_to_view") {
            let size = ints(c["buffer_size"])
            let view = nums(c["view_size"])
            let degrees = JSONRead.int(c["rotation"]) ?? -1
            let mode = try XCTUnwrap(FrameGeometry.ViewMode(rawValue: c["mode"] as? String ?? "fill"))
            let g = try FrameGeometry(
                bufferWidth: size[0], bufferHeight: size[1], rotation: try SensorRotation(strictDegrees: degrees),
                mirrored: c["mirrored"] as? Bool ?? false
            )
            let m = g.viewFromBuffer(viewWidth: view[0], viewHeight: view[1], mode: mode)
            let what = "buffer \(size) rotation \(degrees) mirrored \(g.mirrored)"
            assertClose(m, try affine(c["buffer_to_view"]), what)
            let points = nums(c["buffer_points"])
            var mapped: [Double] = []
            for i in stride(from: 0, to: points.count, by: 2) {
                let p = m.apply(x: points[i], y: points[i + 1])
                mapped += [p.x, p.y]
            }
            assertClose(mapped, nums(c["view_points"]), abs: 1e-5, rel: 1e-7, "\(what) points")
        }
    }

    func testBoxes() throws {
        let doc = try Golden.load("geometry")
        let boxes = Golden.cases(doc, "boxes")
        XCTAssertTrue(boxes.contains { ($0["kind"] as? String) == "vision_bottom_left" })
        for c in boxes {
            let kind = c["kind"] as? String ?? ""
            let expected = nums(c["pixel_box"])
            switch kind {
            case "vision_bottom_left", "normalized_top_left":
                let size = nums(c["image_size"])
                let box = try BoxXYWH(nums(c["box"]))
                let got: BoxXYWH
                if kind == "vision_bottom_left" {
                    got = try FrameGeometry.visionBoxToPixels(box, imageWidth: size[0], imageHeight: size[1])
                } else {
                    got = try FrameGeometry.normalizedBoxToPixels(box, imageWidth: size[0], imageHeight: size[1])
                }
                assertClose(got, expected, kind)
                if kind == "vision_bottom_left" {
                    // The instance form the app uses: the upright image of a rotated buffer.
                    let g = try FrameGeometry(
                        bufferWidth: Int(size[1]), bufferHeight: Int(size[0]), rotation: .deg90, mirrored: true
                    )
                    assertClose(g.uprightBox(fromVisionNormalized: box.x, y: box.y, width: box.width, height: box.height),
                                expected, "\(kind) on the upright image")
                }
            case "edge_rect":
                let r = nums(c["rect"])
                assertClose(FrameGeometry.edgeRectToBox(left: r[0], top: r[1], right: r[2], bottom: r[3]), expected, kind)
            default:
                XCTFail("unknown box kind \(kind)")
            }
        }
    }

    func testErrors() throws {
        let doc = try Golden.load("geometry")
        let errors = Golden.cases(doc, "errors")
        XCTAssertFalse(errors.isEmpty)
        for c in errors {
            let call = c["call"] as? String ?? ""
            let expected = c["error"] as? String
            switch call {
            case "buffer_to_upright":
                let size = ints(c["buffer_size"])
                let degrees = JSONRead.int(c["rotation"]) ?? -1
                XCTAssertEqual(
                    errorKind { try FrameGeometry.bufferToUpright(bufferWidth: size[0], bufferHeight: size[1], rotationDegrees: degrees) },
                    expected, "\(call) \(c)"
                )
            case "image_to_view":
                let image = nums(c["image_size"])
                let view = nums(c["view_size"])
                XCTAssertEqual(
                    errorKind {
                        try FrameGeometry.imageToView(
                            imageWidth: image[0], imageHeight: image[1], viewWidth: view[0], viewHeight: view[1],
                            mode: .fill, mirrored: false
                        )
                    },
                    expected, "\(call) \(c)"
                )
            default:
                XCTFail("unknown call \(call)")
            }
        }
    }
}

final class DecodeGoldenTests: XCTestCase {
    static func tensors(_ outputs: [String: Any], half: Bool = false) throws -> [String: OutputTensor] {
        var out: [String: OutputTensor] = [:]
        for (name, value) in outputs {
            let o = value as? [String: Any] ?? [:]
            let data = nums(o["data"])
            let storage: TensorStorage = half || (o["dtype"] as? String) == "float16"
                ? .float16(data.map { halfBits(Float($0)) })
                : .float32(data.map { Float($0) })
            out[name] = try OutputTensor(shape: ints(o["shape"]), storage: storage)
        }
        return out
    }

    /// The must-show test: real exported outputs of photo crops, read by name, decoded to image
    /// pixels, equal to Python's image-space mesh to 0.01 px.
    func testDecodedMeshMatchesPythonToOneHundredthPixel() throws {
        let cases = Golden.cases(try Golden.load("decode"))
        XCTAssertGreaterThanOrEqual(cases.count, 2)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let k = c["contract"] as? [String: Any] ?? [:]
            let contract = try CropContract(
                inputWidth: JSONRead.int(k["input_width"]) ?? 0, inputHeight: JSONRead.int(k["input_height"]) ?? 0,
                boxScale: num(k["box_scale"])
            )
            let decoder = OutputDecoder(numVertices: JSONRead.int(c["num_vertices"]) ?? 0, contract: contract)
            let box = try BoxXYWH(nums(c["box"]))
            let m = try contract.affine(for: box)
            let e = c["expected"] as? [String: Any] ?? [:]
            assertClose(m, try affine(e["affine"]), "\(name) affine")
            let mesh = try decoder.decode(try Self.tensors(c["outputs"] as? [String: Any] ?? [:]), affine: m)
            let expected = nums(e["image_vertices"])
            assertClose(mesh.vertices, expected, abs: 0.01, "\(name) image vertices (px)")
            assertClose(mesh.visibility, nums(e["visibility"]), abs: 1e-6, "\(name) visibility")
            var worst = 0.0
            for (a, b) in zip(mesh.vertices, expected) { worst = max(worst, Swift.abs(a - b)) }
            print("decode \(name): max |Swift - Python| = \(worst) px over \(mesh.count) vertices")
        }
    }

    /// Neural Engine outputs come with padded strides and in Float16: the same numbers must come out.
    func testPaddedStridesAndFloat16() throws {
        guard let c = Golden.cases(try Golden.load("decode")).first else { return XCTFail("no decode case") }
        let k = JSONRead.int(c["num_vertices"]) ?? 0
        let contract = try CropContract(inputWidth: 48, inputHeight: 64, boxScale: 1.1)
        let decoder = OutputDecoder(numVertices: k, contract: contract)
        let m = try contract.affine(for: try BoxXYWH(nums(c["box"])))
        let outputs = c["outputs"] as? [String: Any] ?? [:]
        let dense = try decoder.decode(try Self.tensors(outputs), affine: m)

        var padded = try Self.tensors(outputs)
        let v = nums((outputs["vertices"] as? [String: Any])?["data"])
        var storage = [Float](repeating: .nan, count: k * 8)  // 8 floats per vertex, 5 of them padding
        for i in 0..<k { for j in 0..<3 { storage[i * 8 + j] = Float(v[i * 3 + j]) } }
        padded["vertices"] = try OutputTensor(shape: [1, k, 3], strides: [k * 8, 8, 1], storage: .float32(storage))
        XCTAssertEqual(try decoder.decode(padded, affine: m), dense)

        let half = try decoder.decode(try Self.tensors(outputs, half: true), affine: m)
        // Float16 keeps 11 significant bits: at most half a unit in the last place of a crop coordinate.
        let scale = Swift.abs(try XCTUnwrap(m.inverse).determinant).squareRoot()
        for i in 0..<dense.vertices.count {
            let crop = Swift.abs(v[i]) + 1
            XCTAssertEqual(half.vertices[i], dense.vertices[i], accuracy: crop * 0x1p-11 * scale + 1e-9)
        }
    }

    func testOutputsAreReadByNameAndMismatchesNamed() throws {
        let contract = try CropContract(inputWidth: 4, inputHeight: 4)
        let decoder = OutputDecoder(numVertices: 2, contract: contract)
        let m = try contract.affine(for: BoxXYWH(x: 0, y: 0, width: 4, height: 4))
        let vertices = try OutputTensor(shape: [1, 2, 3], storage: .float32([0, 0, 0, 1, 1, 1]))
        let visibility = try OutputTensor(shape: [1, 2], storage: .float32([1, 0]))
        XCTAssertEqual(errorKind { try decoder.decode(["vertices": vertices], affine: m) }, "missing_output")
        XCTAssertEqual(errorKind { try decoder.decode(["vertices": visibility, "visibility": visibility], affine: m) }, "invalid_value")
        let nan = try OutputTensor(shape: [1, 2, 3], storage: .float32([0, .nan, 0, 1, 1, 1]))
        XCTAssertEqual(errorKind { try decoder.decode(["vertices": nan, "visibility": visibility], affine: m) }, "invalid_value")
        XCTAssertEqual(errorKind { try OutputTensor(shape: [1, 2, 3], storage: .float32([0, 0])) }, "invalid_value")
    }
}

final class BenchGoldenTests: XCTestCase {
    func testStatistics() throws {
        let cases = Golden.cases(try Golden.load("bench"))
        XCTAssertGreaterThanOrEqual(cases.count, 4)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let e = c["expected"] as? [String: Any] ?? [:]
            let t = try BenchTiming(samplesMs: nums(c["samples_ms"]), warmup: 0)
            XCTAssertEqual(t.medianMs, num(e["median_ms"]), accuracy: 1e-9, name)
            XCTAssertEqual(t.p90Ms, num(e["p90_ms"]), accuracy: 1e-9, name)
            XCTAssertEqual(t.minMs, num(e["min_ms"]), accuracy: 1e-9, name)
            XCTAssertEqual(t.fps, num(e["fps"]), accuracy: 1e-6, name)
            XCTAssertEqual(t.runs, JSONRead.int(e["runs"]), name)
        }
    }

    func testDocumentEqualsPythonsAndRoundTrips() throws {
        let doc = try Golden.load("bench")
        let c = try XCTUnwrap(doc["document_case"] as? [String: Any])
        let m = try XCTUnwrap(c["machine"] as? [String: Any])
        let machine = BenchMachine(
            name: m["name"] as? String ?? "", cpu: m["cpu"] as? String ?? "", cores: JSONRead.int(m["cores"]) ?? 0,
            os: m["os"] as? String ?? "", runtimes: m["runtimes"] as? [String: String] ?? [:], note: m["note"] as? String ?? ""
        )
        let rows = try ((c["rows"] as? [Any]) ?? []).map { try BenchRow(jsonObject: $0 as? [String: Any] ?? [:]) }
        let written = BenchDocument(machine: machine, rows: rows)
        let parsed = try JSONSerialization.jsonObject(with: try written.jsonData())
        assertJSONEqual(parsed, c["expected"])

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshposekit-\(UUID().uuidString)")
        let url = dir.appendingPathComponent("results.json")
        try written.write(to: url)
        let again = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(try BenchDocument.validate(again), rows)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["results.json"], "no temporary file left")
        try? FileManager.default.removeItem(at: dir)
    }

    func testInvalidDocumentsAreRejected() throws {
        let invalid = Golden.cases(try Golden.load("bench"), "invalid")
        XCTAssertGreaterThanOrEqual(invalid.count, 5)
        for c in invalid {
            let document = c["document"] as? [String: Any] ?? [:]
            XCTAssertEqual(errorKind { try BenchDocument.validate(document) }, c["error"] as? String, c["name"] as? String ?? "?")
        }
    }
}
