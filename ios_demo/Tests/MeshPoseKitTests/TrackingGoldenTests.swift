import Foundation
import XCTest
@testable import MeshPoseKit

/// One-Euro filter and person tracker against export/runtime/tracking.py (golden/one_euro.json, tracker.json).
final class OneEuroGoldenTests: XCTestCase {
    func testSequences() throws {
        let doc = try Golden.load("one_euro")
        let cases = Golden.cases(doc)
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let p = c["params"] as? [String: Any] ?? [:]
            let params = try OneEuroParams(minCutoff: num(p["min_cutoff"]), beta: num(p["beta"]), dCutoff: num(p["d_cutoff"]))
            var filter = OneEuroFilter(params: params)
            let times = nums(c["t"])
            let xs = (c["x"] as? [Any])?.map { nums($0) } ?? []
            let expected = (c["expected"] as? [Any])?.map { nums($0) } ?? []
            XCTAssertEqual(xs.count, times.count, name)
            XCTAssertEqual(expected.count, times.count, name)
            for i in 0..<min(times.count, xs.count, expected.count) {
                let out = try filter.filter(xs[i], time: times[i], valueScale: num(c["value_scale"]))
                assertClose(out, expected[i], abs: 1e-7, rel: 1e-7, "\(name) sample \(i)")
            }
        }
        for c in Golden.cases(doc, "invalid") {
            let p = c["params"] as? [String: Any] ?? [:]
            XCTAssertEqual(
                errorKind { try OneEuroParams(minCutoff: num(p["min_cutoff"]), beta: num(p["beta"]), dCutoff: num(p["d_cutoff"])) },
                c["error"] as? String
            )
        }
    }

    func testResetStartsOver() throws {
        var filter = OneEuroFilter(params: .standard)
        _ = try filter.filter([0, 0], time: 0)
        _ = try filter.filter([10, 10], time: 0.1, valueScale: 100)
        filter.reset()
        XCTAssertEqual(try filter.filter([5, 6, 7], time: 0.2), [5, 6, 7])
        XCTAssertEqual(errorKind { try filter.filter([1], time: 0.3) }, "invalid_value")
    }
}

final class TrackerGoldenTests: XCTestCase {
    static func params(_ p: [String: Any]) -> TrackerParams {
        var t = TrackerParams()
        t.visibilityThreshold = num(p["visibility_threshold"])
        t.minVisible = JSONRead.int(p["min_visible"]) ?? t.minVisible
        t.minMeanVisibility = num(p["min_mean_visibility"])
        t.redetectEvery = JSONRead.int(p["redetect_every"]) ?? t.redetectEvery
        t.matchIoU = num(p["match_iou"])
        t.duplicateIoU = num(p["duplicate_iou"])
        t.maxMissed = JSONRead.int(p["max_missed"]) ?? t.maxMissed
        t.maxPeople = JSONRead.int(p["max_people"]) ?? t.maxPeople
        t.vertexBoxScale = num(p["vertex_box_scale"])
        return t
    }

    func testReplays() throws {
        let cases = Golden.cases(try Golden.load("tracker"))
        XCTAssertGreaterThanOrEqual(cases.count, 4)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let size = ints(c["image_size"])
            var tracker = try PersonTracker(
                params: Self.params(c["params"] as? [String: Any] ?? [:]), aspect: num(c["aspect"]),
                imageWidth: size.count == 2 ? size[0] : nil, imageHeight: size.count == 2 ? size[1] : nil
            )
            for frame in (c["frames"] as? [Any])?.compactMap({ $0 as? [String: Any] }) ?? [] {
                let where_ = "\(name) frame \(JSONRead.int(frame["frame"]) ?? -1)"
                XCTAssertEqual(tracker.beginFrame(), frame["needs_detection"] as? Bool, "\(where_) needs detection")
                if let det = frame["detections"] as? [String: Any] {
                    let boxes = try ((det["boxes"] as? [Any]) ?? []).map { try BoxXYWH(nums($0)) }
                    try tracker.applyDetections(boxes, scores: nums(det["scores"]))
                }
                for mesh in (frame["meshes"] as? [Any])?.compactMap({ $0 as? [String: Any] }) ?? [] {
                    let id = JSONRead.int(mesh["track_id"]) ?? -1
                    let next = try tracker.applyMesh(trackID: id, xy: nums(mesh["xy"]), visibility: nums(mesh["visibility"]))
                    let expected = mesh["next_box"]
                    if expected == nil || expected is NSNull {
                        XCTAssertNil(next, "\(where_) track \(id) next box")
                    } else if let next {
                        assertClose(next, nums(expected), "\(where_) track \(id) next box")
                    } else {
                        XCTFail("\(where_) track \(id): no next box, expected \(nums(expected))")
                    }
                }
                tracker.endFrame()
                let after = (frame["tracks_after"] as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
                XCTAssertEqual(tracker.tracks.map { $0.id }, after.map { JSONRead.int($0["id"]) ?? -1 }, "\(where_) track ids")
                for (t, e) in zip(tracker.tracks, after) {
                    assertClose(t.box, nums(e["box"]), "\(where_) track \(t.id) box")
                    XCTAssertEqual(t.score, num(e["score"]), accuracy: 1e-9, "\(where_) track \(t.id) score")
                    XCTAssertEqual(t.age, JSONRead.int(e["age"]), "\(where_) track \(t.id) age")
                    XCTAssertEqual(t.missed, JSONRead.int(e["missed"]), "\(where_) track \(t.id) missed")
                    XCTAssertEqual(t.flagged, e["flagged"] as? Bool, "\(where_) track \(t.id) flagged")
                    XCTAssertEqual(t.boxSource.rawValue, e["box_source"] as? String, "\(where_) track \(t.id) source")
                }
            }
        }
    }

    func testInvalidParamsAreNamed() {
        var p = TrackerParams()
        p.maxPeople = 0
        XCTAssertEqual(errorKind { try PersonTracker(params: p, aspect: 0.75) }, "invalid_params")
        XCTAssertEqual(errorKind { try PersonTracker(params: TrackerParams(), aspect: 0) }, "invalid_value")
    }
}

/// Checks that need no golden file: half-float decoding and the Core Image transforms the GPU
/// crop and the preview use (they must agree with the pixel-centre contract).
final class CoreConventionTests: XCTestCase {
    func testHalfDecoding() {
        XCTAssertEqual(Half.toFloat(0x3C00), 1.0)
        XCTAssertEqual(Half.toFloat(0xC000), -2.0)
        XCTAssertEqual(Half.toFloat(0x7BFF), 65504.0)
        XCTAssertEqual(Half.toFloat(0x0001), 0x1p-24)
        XCTAssertEqual(Half.toFloat(0x8000), -0.0)
        XCTAssertEqual(Half.toFloat(0x7C00), .infinity)
        XCTAssertTrue(Half.toFloat(0x7E00).isNaN)
        for bits in UInt16(0)...UInt16(0x7BFF) {
            XCTAssertEqual(halfBits(Half.toFloat(bits)), bits, "round trip of \(bits)")
        }
    }

    func testCoreImageCropTransformAgreesWithTheContract() throws {
        let contract = try CropContract(inputWidth: 48, inputHeight: 64)
        for rotation in SensorRotation.allCases {
            let g = try FrameGeometry(bufferWidth: 640, bufferHeight: 480, rotation: rotation, mirrored: true)
            let box = BoxXYWH(x: 100, y: 150, width: 200, height: 300)
            let a = try contract.affine(for: box)
            let ci = g.coreImageCropTransform(cropAffine: a, cropHeight: contract.inputHeight)
            for (u, v) in [(0.0, 0.0), (639.0, 479.0), (123.0, 45.0)] {
                // Buffer pixel centre in Core Image coordinates -> crop pixel centre in Core Image coordinates.
                let p = ci.apply(x: u + 0.5, y: 480.0 - v - 0.5)
                let up = g.uprightFromBuffer.apply(x: u, y: v)
                let c = a.apply(x: up.x, y: up.y)
                XCTAssertEqual(p.x, c.x + 0.5, accuracy: 1e-9)
                XCTAssertEqual(p.y, 64.0 - c.y - 0.5, accuracy: 1e-9)
            }
        }
    }

    func testDisplayTransformPutsTheFrameWhereTheOverlayIs() throws {
        let g = try FrameGeometry.forCamera(bufferWidth: 1280, bufferHeight: 720, holding: .portrait, camera: .front)
        XCTAssertEqual(g.rotation, .deg90)
        XCTAssertTrue(g.mirrored)
        let (w, h) = (390.0, 844.0)
        let display = g.coreImageDisplayTransform(viewWidth: w, viewHeight: h)
        let overlay = g.viewFromUpright(viewWidth: w, viewHeight: h)
        let up = g.uprightFromBuffer.apply(x: 200, y: 100)
        let expected = overlay.apply(x: up.x, y: up.y)
        let p = display.apply(x: 200.5, y: 720.0 - 100.0 - 0.5)
        XCTAssertEqual(p.x, expected.x, accuracy: 1e-9)
        XCTAssertEqual(p.y, h - expected.y, accuracy: 1e-9)
    }

    func testDisplayTransformMatchesTheOverlayUnderOrientationLock() throws {
        // Held in landscape with the UI locked in portrait: the model's image is turned for the
        // holding, the screen's for the interface, and a buffer pixel still lands where its mesh does.
        for camera in [CameraPosition.back, .front] {
            let g = try FrameGeometry.forCamera(
                bufferWidth: 1280, bufferHeight: 720, holding: .landscapeHomeRight, camera: camera, interface: .portrait
            )
            XCTAssertNotEqual(g.rotation, g.displayRotation)
            let (w, h) = (390.0, 844.0)
            let display = g.coreImageDisplayTransform(viewWidth: w, viewHeight: h)
            let overlay = g.viewFromUpright(viewWidth: w, viewHeight: h)
            let up = g.uprightFromBuffer.apply(x: 200, y: 100)
            let expected = overlay.apply(x: up.x, y: up.y)
            let p = display.apply(x: 200.5, y: 720.0 - 100.0 - 0.5)
            XCTAssertEqual(p.x, expected.x, accuracy: 1e-9)
            XCTAssertEqual(p.y, h - expected.y, accuracy: 1e-9)
        }
    }

    // The holding -> orientation table is checked against golden/geometry.json ("cameras", derived
    // in Python from the sensors' axes) by GeometryGoldenTests.testCameras; only parsing here.
    func testRotationDegreesParsing() {
        XCTAssertEqual(try SensorRotation(degrees: -90), .deg270)
        XCTAssertEqual(try SensorRotation(degrees: 450), .deg90)
        XCTAssertEqual(errorKind { try SensorRotation(strictDegrees: 360) }, "invalid_rotation")
        XCTAssertEqual(errorKind { try SensorRotation(degrees: 45) }, "invalid_rotation")
    }
}

/// The camera -> main actor hand-off keeps only the newest result.
final class LatestValueMailboxTests: XCTestCase {
    func testOneWakeUpDrainsManyOffersAndKeepsTheNewest() {
        let box = LatestValueMailbox<Int>()
        XCTAssertTrue(box.offer(1), "the first offer wakes the consumer")
        XCTAssertFalse(box.offer(2), "a wake-up is pending: no second one")
        XCTAssertFalse(box.offer(3))
        XCTAssertEqual(box.droppedCount, 2)
        XCTAssertEqual(box.take(), 3)
        XCTAssertNil(box.take())
        XCTAssertTrue(box.offer(4), "after a take the next offer wakes again")
        XCTAssertEqual(box.take(), 4)
    }

    func testAtMostOneValueWaitsUnderConcurrentOffers() {
        let box = LatestValueMailbox<Int>()
        let lock = NSLock()
        var wakeUps = 0
        DispatchQueue.concurrentPerform(iterations: 1000) { i in
            if box.offer(i) {
                lock.lock()
                wakeUps += 1
                lock.unlock()
            }
        }
        XCTAssertEqual(wakeUps, 1)
        XCTAssertNotNil(box.take())
        XCTAssertNil(box.take())
        XCTAssertEqual(box.droppedCount, 999)
    }
}
