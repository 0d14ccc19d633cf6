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

    /// The eight buffer -> upright orientations (a turn, then a flip) and their EXIF values.
    func testOrientations() throws {
        let doc = try Golden.load("geometry")
        let cases = Golden.cases(doc, "orientations")
        XCTAssertEqual(cases.count, 8)
        for c in cases {
            let size = ints(c["buffer_size"])
            let degrees = JSONRead.int(c["rotation"]) ?? -1
            let mirrored = c["mirrored"] as? Bool ?? false
            let what = "orientation \(degrees) mirrored=\(mirrored)"
            let g = try FrameGeometry(
                bufferWidth: size[0], bufferHeight: size[1], rotation: try SensorRotation(strictDegrees: degrees),
                mirrored: false, uprightMirrored: mirrored
            )
            XCTAssertEqual(Int(g.exifOrientation), JSONRead.int(c["exif"]), what)
            assertClose(g.uprightFromBuffer, try affine(c["buffer_to_upright"]), what)
            assertClose(
                try FrameGeometry.bufferToUpright(
                    bufferWidth: size[0], bufferHeight: size[1], rotationDegrees: degrees, mirrored: mirrored
                ),
                try affine(c["buffer_to_upright"]), what
            )
            assertClose(mapPoints(g.uprightFromBuffer, nums(c["buffer_points"])), nums(c["upright_points"]), abs: 1e-9, what)
            let back = mapPoints(g.bufferFromUpright, nums(c["upright_points"]))
            assertClose(back, nums(c["buffer_points"]), abs: 1e-9, "\(what) back")
        }
    }

    /// Front and back camera in every holding: the iOS cases through the app's own table
    /// (FrameGeometry.forCamera), every case through the (rotation, mirror) mapping.
    func testCameras() throws {
        let doc = try Golden.load("geometry")
        let cases = Golden.cases(doc, "cameras")
        var iosChecked = Set<String>()
        for c in cases {
            let platform = c["platform"] as? String ?? "?"
            let cameraName = c["camera"] as? String ?? "?"
            let holdingName = c["holding"] as? String ?? "?"
            let what = "\(platform) \(cameraName) \(holdingName)"
            let size = ints(c["buffer_size"])
            let view = nums(c["view_size"])
            let degrees = JSONRead.int(c["rotation"]) ?? -1
            let mirrored = c["mirrored"] as? Bool ?? false
            let viewMirrored = c["view_mirrored"] as? Bool ?? false
            var g = try FrameGeometry(
                bufferWidth: size[0], bufferHeight: size[1], rotation: try SensorRotation(strictDegrees: degrees),
                mirrored: viewMirrored, uprightMirrored: mirrored
            )
            if platform == "ios" {
                let camera = try XCTUnwrap(CameraPosition(rawValue: cameraName), what)
                let holding = try XCTUnwrap(HoldingOrientation(referenceName: holdingName), what)
                let app = try FrameGeometry.forCamera(bufferWidth: size[0], bufferHeight: size[1], holding: holding, camera: camera)
                XCTAssertEqual(app.rotation.rawValue, degrees, "\(what) rotation")
                XCTAssertEqual(app.uprightMirrored, mirrored, "\(what) mirrored")
                XCTAssertEqual(app.mirrored, viewMirrored, "\(what) view mirrored")
                XCTAssertEqual(Int(app.exifOrientation), JSONRead.int(c["exif"]), "\(what) exif")
                g = app
                iosChecked.insert("\(cameraName) \(holdingName)")
            }
            XCTAssertEqual([g.uprightWidth, g.uprightHeight], ints(c["upright_size"]), what)
            assertClose(g.uprightFromBuffer, try affine(c["buffer_to_upright"]), what)
            assertClose(mapPoints(g.uprightFromBuffer, nums(c["buffer_points"])), nums(c["upright_points"]), abs: 1e-9, what)
            assertClose(g.viewFromBuffer(viewWidth: view[0], viewHeight: view[1]), try affine(c["buffer_to_view"]), "\(what) view")
        }
        XCTAssertEqual(iosChecked.count, 8, "iOS: front and back camera in four holdings")
    }

    /// Orientation lock: the model's image turned for the holding, the screen for the interface.
    func testLockedInterface() throws {
        let doc = try Golden.load("geometry")
        let cases = Golden.cases(doc, "locked")
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let camera = try XCTUnwrap(CameraPosition(rawValue: c["camera"] as? String ?? ""))
            let holding = try XCTUnwrap(HoldingOrientation(referenceName: c["holding"] as? String ?? ""))
            let interface = try XCTUnwrap(HoldingOrientation(referenceName: c["interface"] as? String ?? ""))
            let size = ints(c["buffer_size"])
            let view = nums(c["view_size"])
            let what = "\(camera) held \(holding) interface \(interface)"
            let g = try FrameGeometry.forCamera(
                bufferWidth: size[0], bufferHeight: size[1], holding: holding, camera: camera, interface: interface
            )
            XCTAssertEqual(g.rotation.rawValue, JSONRead.int(c["rotation"]), what)
            XCTAssertEqual(g.displayRotation.rawValue, JSONRead.int(c["display_rotation"]), what)
            let m = g.viewFromUpright(viewWidth: view[0], viewHeight: view[1])
            assertClose(m, try affine(c["upright_to_view"]), what)
            assertClose(mapPoints(m, nums(c["upright_points"])), nums(c["view_points"]), abs: 1e-5, rel: 1e-7, "\(what) points")
        }
    }

    func testHoldingFromGravity() throws {
        let doc = try Golden.load("geometry")
        let cases = Golden.cases(doc, "gravity")
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        for c in cases {
            let g = nums(c["gravity"])
            let previous = try XCTUnwrap(HoldingOrientation(referenceName: c["previous"] as? String ?? ""))
            let got = HoldingOrientation.fromGravity(x: g[0], y: g[1], z: g[2], previous: previous)
            XCTAssertEqual(got.referenceName, c["holding"] as? String, "gravity \(g) after \(previous)")
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
    /// The stored outputs as the Core ML glue hands them to the decoder: float32 `data`, or
    /// float16 `bits` (the raw binary16 patterns of a FLOAT16 MLMultiArray) left undecoded so
    /// that `Half.toFloat` inside the decoder does the work. `half` re-encodes float32 data as
    /// float16 (round to nearest even).
    static func tensors(_ outputs: [String: Any], half: Bool = false) throws -> [String: OutputTensor] {
        var out: [String: OutputTensor] = [:]
        for (name, value) in outputs {
            let o = value as? [String: Any] ?? [:]
            let storage: TensorStorage
            switch (o["dtype"] as? String) ?? "" {
            case "float16":
                let bits = try XCTUnwrap(JSONRead.ints(o["bits"]), "\(name): float16 outputs store `bits`")
                XCTAssertTrue(bits.allSatisfy { (0...0xFFFF).contains($0) }, "\(name): bit patterns are 16-bit")
                storage = .float16(bits.map { UInt16(truncatingIfNeeded: $0) })
            case "float32":
                let data = nums(o["data"])
                storage = half ? .float16(data.map { halfBits(Float($0)) }) : .float32(data.map { Float($0) })
            default:
                throw MeshPoseError("\(name): unknown dtype \(String(describing: o["dtype"]))")
            }
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

    /// The Core ML fp16 case: outputs stored as FLOAT16 bit patterns, the expected mesh decoded by
    /// Python from those float16 values. Rounding to float16 moves the mesh by far more than
    /// 0.01 px, so reading the halves wrongly (or the float32 outputs instead) cannot pass.
    func testFloat16OutputsDecodeToPythonsMesh() throws {
        let cases = Golden.cases(try Golden.load("decode"))
        let half = try XCTUnwrap(
            cases.first { ((($0["outputs"] as? [String: Any])?["vertices"] as? [String: Any])?["dtype"] as? String) == "float16" },
            "golden/decode.json has no float16 case"
        )
        let outputs = try XCTUnwrap(half["outputs"] as? [String: Any])
        for (name, value) in outputs {
            XCTAssertEqual((value as? [String: Any])?["dtype"] as? String, "float16", name)
        }
        let tensors = try Self.tensors(outputs)
        for (name, tensor) in tensors {
            XCTAssertEqual(tensor.storage.dtypeName, "float16", name)
        }
        let k = half["contract"] as? [String: Any] ?? [:]
        let contract = try CropContract(
            inputWidth: JSONRead.int(k["input_width"]) ?? 0, inputHeight: JSONRead.int(k["input_height"]) ?? 0,
            boxScale: num(k["box_scale"])
        )
        let decoder = OutputDecoder(numVertices: JSONRead.int(half["num_vertices"]) ?? 0, contract: contract)
        let mesh = try decoder.decode(tensors, affine: try contract.affine(for: try BoxXYWH(nums(half["box"]))))
        let e = half["expected"] as? [String: Any] ?? [:]
        assertClose(mesh.vertices, nums(e["image_vertices"]), abs: 0.01, "float16 image vertices (px)")
        assertClose(mesh.visibility, nums(e["visibility"]), abs: 1e-6, "float16 visibility")
    }

    /// Neural Engine outputs come with padded strides and in Float16: the same numbers must come out.
    func testPaddedStridesAndFloat16() throws {
        let float32 = Golden.cases(try Golden.load("decode")).first {
            ((($0["outputs"] as? [String: Any])?["vertices"] as? [String: Any])?["dtype"] as? String) == "float32"
        }
        guard let c = float32 else { return XCTFail("no float32 decode case") }
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
        let machine = try BenchMachine(jsonObject: try XCTUnwrap(c["machine"] as? [String: Any]))
        let rows = try ((c["rows"] as? [Any]) ?? []).map { try BenchRow(jsonObject: $0 as? [String: Any] ?? [:]) }
        XCTAssertEqual(rows.map { $0.scope }, ["model", "model", "pipeline"])
        let written = BenchDocument(machine: machine, rows: rows)
        let parsed = try JSONSerialization.jsonObject(with: try written.jsonData())
        assertJSONEqual(parsed, c["expected"])
        // Byte for byte what export/bench/schema.py writes: same key order, indentation, float
        // spelling (11.0, 0.85, 90.909091) and nulls.
        let expectedText = try XCTUnwrap(c["expected_text"] as? String)
        let text = try written.jsonText()
        XCTAssertEqual(text, expectedText)
        if text != expectedText {
            let a = text.split(separator: "\n", omittingEmptySubsequences: false)
            let e = expectedText.split(separator: "\n", omittingEmptySubsequences: false)
            if let i = zip(a, e).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                XCTFail("first different line \(i + 1): \(a[i]) vs expected \(e[i])")
            }
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshposekit-\(UUID().uuidString)")
        let url = dir.appendingPathComponent("results.json")
        try written.write(to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), expectedText)
        let again = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(try BenchDocument.validate(again), rows)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["results.json"], "no temporary file left")
        try? FileManager.default.removeItem(at: dir)

        // Python's document read back and written again is the same file.
        let read = try BenchDocument(jsonObject: try XCTUnwrap(c["expected"] as? [String: Any]))
        XCTAssertEqual(read.machine, machine)
        XCTAssertEqual(try read.jsonText(), expectedText)
    }

    func testPipelineRowCarriesScopeAndEveryStage() throws {
        var row = BenchRow(model: "meshpose_xs", runtime: "coreml", precision: "fp16", threads: nil)
        let stages = try BenchStages(samplesMs: [
            "detect": [3, 1, 2], "preprocess": [0.5, 0.25], "inference": [6, 7, 8, 9], "postprocess": [0.125],
        ])
        XCTAssertEqual(stages, BenchStages(detect: 2, preprocess: 0.375, inference: 7.5, postprocess: 0.125, render: nil))
        row.recordPipeline(try BenchTiming(samplesMs: [10, 12, 11], warmup: 2), stages: stages)
        XCTAssertEqual(row.scope, "pipeline")
        guard case .object(let fields) = row.jsonValue() else { return XCTFail("a row is a JSON object") }
        XCTAssertEqual(fields.map { $0.0 }, BenchRow.fieldNames, "every field, in schema.py's order")
        guard case .object(let written)? = fields.last?.1 else { return XCTFail("stages_ms is an object") }
        XCTAssertEqual(written.map { $0.0 }, BenchStages.names, "every stage, null where not run")
        guard case .null? = written.last?.1 else { return XCTFail("render was not part of the run: null") }
        XCTAssertEqual(errorKind { try BenchStages(samplesMs: ["paint": [1]]) }, "invalid_results")

        // A negative or non-finite stage never reaches a file.
        let machine = BenchMachine(name: "m", cpu: "c", cores: 1, os: "o")
        var negative = row
        negative.stagesMs?.render = -1
        XCTAssertEqual(errorKind { try BenchDocument(machine: machine, rows: [negative]).jsonText() }, "invalid_results")
        var infinite = row
        infinite.stagesMs?.detect = .infinity
        XCTAssertEqual(errorKind { try BenchDocument(machine: machine, rows: [infinite]).jsonText() }, "invalid_results")
        var unknownScope = row
        unknownScope.scope = "frame"
        XCTAssertEqual(errorKind { try BenchDocument(machine: machine, rows: [unknownScope]).jsonText() }, "invalid_results")
    }

    func testVersionOneFilesStillRead() throws {
        let doc = try Golden.load("bench")
        let v1 = try XCTUnwrap(doc["valid_v1"] as? [String: Any])
        XCTAssertEqual(JSONRead.int(v1["schema_version"]), 1)
        let rows = try BenchDocument.validate(v1)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows.map { $0.scope }, ["model", "model"], "version 1 rows are model rows")
        XCTAssertTrue(rows.allSatisfy { $0.stagesMs == nil })
        // Written again, it is a version 2 file.
        let again = try BenchDocument(jsonObject: v1)
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: again.jsonData()) as? [String: Any])
        XCTAssertEqual(JSONRead.int(parsed["schema_version"]), 2)
        XCTAssertEqual(BenchDocument.schemaVersion, 2)
    }

    /// Floats as Python's repr writes them, strings as json.dumps escapes them.
    func testPythonJSONSpelling() throws {
        let floats: [(Double, String)] = [
            (0, "0.0"), (-0.0, "-0.0"), (11, "11.0"), (0.85, "0.85"), (90.909091, "90.909091"), (1e16, "1e+16"),
            (1e15, "1000000000000000.0"), (9.1e15, "9100000000000000.0"), (1e-4, "0.0001"), (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"), (0.1 + 0.2, "0.30000000000000004"), (1.0 / 3.0, "0.3333333333333333"),
            (1.2345678901234568e17, "1.2345678901234568e+17"), (5e-324, "5e-324"), (-2.5, "-2.5"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (12345.678, "12345.678"),
        ]
        for (value, python) in floats {
            XCTAssertEqual(PythonJSON.float(value), python, "\(value)")
        }
        XCTAssertEqual(PythonJSON.quote("a\"b\\c/d\n\t\u{7f}é→😀"), "\"a\\\"b\\\\c/d\\n\\t\\u007f\\u00e9\\u2192\\ud83d\\ude00\"")
        XCTAssertEqual(try PythonJSON.dumps(.object([("a", .array([])), ("b", .object([])), ("c", .array([.int(1), .null]))])),
                       "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    null\n  ]\n}")
        XCTAssertEqual(errorKind { try PythonJSON.dumps(.double(.nan)) }, "invalid_value")
    }

    /// Wrong JSON types are refused with invalid_results instead of being read as null or 1.
    func testWrongTypesAreRejected() throws {
        let doc = try Golden.load("bench")
        let expected = try XCTUnwrap((doc["document_case"] as? [String: Any])?["expected"] as? [String: Any])
        let row = try XCTUnwrap((expected["rows"] as? [Any])?.first as? [String: Any])
        let bad: [(String, Any)] = [
            ("status", NSNull()), ("scope", NSNull()), ("scope", 1), ("fps", "fast"), ("runs", 2.5), ("fps", true),
            ("stages_ms", [1.0]), ("stages_ms", ["render": true]), ("input_shape", ["a"]), ("note", 3),
        ]
        for (key, value) in bad {
            var r = row
            r[key] = value
            var d = expected
            d["rows"] = [r]
            XCTAssertEqual(errorKind { try BenchDocument.validate(d) }, "invalid_results", "\(key) = \(value)")
        }
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
