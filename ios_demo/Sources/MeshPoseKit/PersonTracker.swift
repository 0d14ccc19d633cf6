import Foundation

/// Tracker settings, as export/runtime/tracking.py `TrackerParams`.
public struct TrackerParams: Equatable {
    /// A vertex counts as visible at or above this.
    public var visibilityThreshold: Double = 0.5
    /// Fewer visible vertices: the track is flagged for re-detection.
    public var minVisible: Int = 30
    /// Lower mean visibility over all vertices: flagged for re-detection.
    public var minMeanVisibility: Double = 0.3
    /// Frames between detections while everything tracks well (0 = never).
    public var redetectEvery: Int = 15
    public var matchIoU: Double = 0.3
    /// Two tracks overlapping more are one person: the younger is dropped.
    public var duplicateIoU: Double = 0.7
    /// A lost track is dropped after this many detection frames without a match.
    public var maxMissed: Int = 5
    public var maxPeople: Int = 4
    public var vertexBoxScale: Double = 1.0

    public init() {}

    public func validate() throws {
        let checks: [(Bool, String)] = [
            ((0.0...1.0).contains(visibilityThreshold), "visibility_threshold must lie in [0, 1]"),
            (minVisible >= 2, "min_visible must be at least 2 vertices"),
            ((0.0...1.0).contains(minMeanVisibility), "min_mean_visibility must lie in [0, 1]"),
            (redetectEvery >= 0, "redetect_every must be 0 (never) or a number of frames"),
            (matchIoU > 0 && matchIoU <= 1, "match_iou must lie in (0, 1]"),
            (duplicateIoU > 0 && duplicateIoU <= 1, "duplicate_iou must lie in (0, 1]"),
            (maxMissed >= 0, "max_missed must be zero or positive"),
            (maxPeople >= 1, "max_people must be at least 1"),
            (vertexBoxScale > 0, "vertex_box_scale must be positive"),
        ]
        for (ok, message) in checks where !ok {
            throw MeshPoseError("tracker: \(message)", kind: .invalidParams)
        }
    }
}

public enum BoxSource: String, Equatable {
    case detector
    case vertices
}

public struct Track: Equatable {
    public let id: Int
    public var box: BoxXYWH
    /// Score of the detection that opened or last re-anchored the track.
    public var score: Double
    public var age: Int = 0
    /// Consecutive detection frames without a match (> 0: lost).
    public var missed: Int = 0
    /// Asks for a detection on the next frame.
    public var flagged: Bool = false
    public var hasMesh: Bool = false
    public var boxSource: BoxSource = .detector
}

public enum TrackerMath {
    /// Box centred at (cx, cy): the smaller side grown to w / h = aspect, then both sides times scale.
    public static func aspectBox(cx: Double, cy: Double, w: Double, h: Double, aspect: Double, scale: Double = 1.0) -> BoxXYWH {
        var w = w
        var h = h
        if w > aspect * h {
            h = w / aspect
        } else {
            w = h * aspect
        }
        w *= scale
        h *= scale
        return BoxXYWH(x: cx - w / 2.0, y: cy - h / 2.0, width: w, height: h)
    }

    /// The part of a box inside a width x height image (-0.5 ... size - 0.5: pixel centres at
    /// integers); nil when nothing is left.
    public static func clipBox(_ box: BoxXYWH, imageWidth: Int, imageHeight: Int) -> BoxXYWH? {
        let x0 = max(box.x, -0.5)
        let y0 = max(box.y, -0.5)
        let x1 = min(box.x + box.width, Double(imageWidth) - 0.5)
        let y1 = min(box.y + box.height, Double(imageHeight) - 0.5)
        guard x1 > x0, y1 > y0 else { return nil }
        return BoxXYWH(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// (track index, detection index) pairs with IoU >= minIoU, highest IoU first, ties by lower
    /// track index then lower detection index; each used once. Sorted by track index.
    public static func greedyMatch(tracks: [BoxXYWH], detections: [BoxXYWH], minIoU: Double) -> [(Int, Int)] {
        var pairs: [(iou: Double, t: Int, d: Int)] = []
        for (ti, tb) in tracks.enumerated() {
            for (di, db) in detections.enumerated() {
                let v = tb.iou(db)
                if v >= minIoU { pairs.append((iou: v, t: ti, d: di)) }
            }
        }
        pairs.sort { l, r in
            if l.iou != r.iou { return l.iou > r.iou }
            if l.t != r.t { return l.t < r.t }
            return l.d < r.d
        }
        var usedT = [Bool](repeating: false, count: tracks.count)
        var usedD = [Bool](repeating: false, count: detections.count)
        var out: [(Int, Int)] = []
        for p in pairs where !usedT[p.t] && !usedD[p.d] {
            usedT[p.t] = true
            usedD[p.d] = true
            out.append((p.t, p.d))
        }
        out.sort { $0.0 < $1.0 }
        return out
    }

    /// Next crop box from K x 2 (interleaved) image-pixel vertices: the bounding box of those with
    /// visibility >= threshold, clipped to the image when its size is given, made the model's
    /// aspect and scaled by vertexBoxScale. nil with fewer than minVisible visible vertices or a
    /// degenerate box.
    public static func boxFromVertices(
        xy: [Double], visibility: [Double], params: TrackerParams, aspect: Double, imageSize: (width: Int, height: Int)? = nil
    ) -> BoxXYWH? {
        var count = 0
        var x0 = Double.infinity
        var y0 = Double.infinity
        var x1 = -Double.infinity
        var y1 = -Double.infinity
        for i in 0..<visibility.count where visibility[i] >= params.visibilityThreshold {
            count += 1
            x0 = min(x0, xy[2 * i])
            x1 = max(x1, xy[2 * i])
            y0 = min(y0, xy[2 * i + 1])
            y1 = max(y1, xy[2 * i + 1])
        }
        if count < params.minVisible { return nil }
        guard x1 > x0, y1 > y0, (x1 - x0).isFinite, (y1 - y0).isFinite else { return nil }
        var tight = BoxXYWH(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        if let size = imageSize {
            guard let clipped = clipBox(tight, imageWidth: size.width, imageHeight: size.height) else { return nil }
            tight = clipped
        }
        return aspectBox(
            cx: tight.x + tight.width / 2.0, cy: tight.y + tight.height / 2.0, w: tight.width, h: tight.height,
            aspect: aspect, scale: params.vertexBoxScale
        )
    }

    /// (visible vertex count, mean visibility), the sum taken left to right.
    public static func trackingQuality(visibility: [Double], params: TrackerParams) -> (count: Int, mean: Double) {
        var count = 0
        var sum = 0.0
        for v in visibility {
            if v >= params.visibilityThreshold { count += 1 }
            sum += v
        }
        return (count, sum / Double(max(visibility.count, 1)))
    }
}

/// Person tracker, rule for rule export/runtime/tracking.py `PersonTracker`: per frame `beginFrame()`
/// (true: run the detector and call `applyDetections`), the model on `activeTracks()`, each
/// result to `applyMesh`, then `endFrame()`. Boxes are COCO xywh in upright image pixels.
public struct PersonTracker {
    public let params: TrackerParams
    public let aspect: Double
    /// (width, height) of the frames: vertex boxes are clipped to it. nil: not clipped.
    public let imageWidth: Int?
    public let imageHeight: Int?
    public private(set) var tracks: [Track] = []
    public private(set) var nextID = 0
    public private(set) var frame = -1
    public private(set) var lastDetectionFrame = -1

    public init(params: TrackerParams, aspect: Double, imageWidth: Int? = nil, imageHeight: Int? = nil) throws {
        try params.validate()
        guard aspect > 0, aspect.isFinite else {
            throw MeshPoseError("tracker: the model aspect must be positive, got \(aspect)")
        }
        guard (imageWidth == nil) == (imageHeight == nil), (imageWidth ?? 1) > 0, (imageHeight ?? 1) > 0 else {
            throw MeshPoseError("tracker: give both image width and height (positive), or neither")
        }
        self.params = params
        self.aspect = aspect
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
    }

    /// Advances to the next frame; returns whether the detector must run on it.
    public mutating func beginFrame() -> Bool {
        frame += 1
        for i in tracks.indices { tracks[i].hasMesh = false }
        return needsDetection
    }

    public var needsDetection: Bool {
        if tracks.isEmpty || lastDetectionFrame < 0 { return true }
        if params.redetectEvery > 0 && frame - lastDetectionFrame >= params.redetectEvery { return true }
        return tracks.contains { $0.flagged || $0.missed > 0 }
    }

    public mutating func applyDetections(_ boxes: [BoxXYWH], scores: [Double]) throws {
        guard boxes.count == scores.count else { throw MeshPoseError("tracker: one score per detection box") }
        lastDetectionFrame = frame
        let matches = TrackerMath.greedyMatch(tracks: tracks.map { $0.box }, detections: boxes, minIoU: params.matchIoU)
        var matchedT = [Bool](repeating: false, count: tracks.count)
        var matchedD = [Bool](repeating: false, count: boxes.count)
        for (ti, di) in matches {
            matchedT[ti] = true
            matchedD[di] = true
            if tracks[ti].flagged || tracks[ti].missed > 0 {
                tracks[ti].box = boxes[di]
                tracks[ti].score = scores[di]
                tracks[ti].boxSource = .detector
            }
            tracks[ti].missed = 0
            tracks[ti].flagged = false
        }
        var kept: [Track] = []
        for (ti, t) in tracks.enumerated() {
            var t = t
            if !matchedT[ti] { t.missed += 1 }
            if t.missed <= params.maxMissed { kept.append(t) }
        }
        tracks = kept
        let order = boxes.indices.sorted { l, r in
            if scores[l] != scores[r] { return scores[l] > scores[r] }
            return l < r
        }
        for di in order {
            if matchedD[di] || tracks.count >= params.maxPeople { continue }
            tracks.append(Track(id: nextID, box: boxes[di], score: scores[di]))
            nextID += 1
        }
    }

    /// Tracks to run the model on this frame, in id order.
    public var activeTracks: [Track] { tracks.filter { $0.missed == 0 } }

    /// The model's vertices for a track this frame -> its next box (nil: keeps the old box, flagged).
    @discardableResult
    public mutating func applyMesh(trackID: Int, xy: [Double], visibility: [Double]) throws -> BoxXYWH? {
        guard let i = tracks.firstIndex(where: { $0.id == trackID }) else {
            throw MeshPoseError("tracker: no track with id \(trackID)")
        }
        guard xy.count == visibility.count * 2 else {
            throw MeshPoseError("tracker: \(xy.count / 2) vertices but \(visibility.count) visibilities")
        }
        tracks[i].hasMesh = true
        let quality = TrackerMath.trackingQuality(visibility: visibility, params: params)
        var size: (width: Int, height: Int)?
        if let w = imageWidth, let h = imageHeight { size = (width: w, height: h) }
        let box = TrackerMath.boxFromVertices(xy: xy, visibility: visibility, params: params, aspect: aspect, imageSize: size)
        tracks[i].flagged = box == nil || quality.count < params.minVisible || quality.mean < params.minMeanVisibility
        if let box {
            tracks[i].box = box
            tracks[i].boxSource = .vertices
        }
        return box
    }

    public mutating func endFrame() {
        for i in tracks.indices { tracks[i].age += 1 }
        let active = tracks.filter { $0.missed == 0 }
        var dropIDs: [Int] = []
        for i in active.indices {
            for j in (i + 1)..<active.count {
                let a = active[i]
                let b = active[j]
                if dropIDs.contains(a.id) || dropIDs.contains(b.id) { continue }
                if a.box.iou(b.box) > params.duplicateIoU { dropIDs.append(max(a.id, b.id)) }
            }
        }
        tracks.removeAll { dropIDs.contains($0.id) }
    }
}
