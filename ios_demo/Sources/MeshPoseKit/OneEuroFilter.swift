import Foundation

/// One-Euro filter parameters (Casiez et al., CHI 2012), as export/runtime/tracking.py `OneEuroParams`.
/// minCutoff (Hz): smoothing at rest (lower = smoother, more lag when slow); beta: how fast the
/// cutoff rises with speed (higher = less lag when moving); dCutoff (Hz): cutoff of the derivative.
public struct OneEuroParams: Equatable {
    public let minCutoff: Double
    public let beta: Double
    public let dCutoff: Double

    /// export/runtime/tracking.py's defaults, tuned on its synthetic smoothing benchmark: beta assumes the
    /// value scale is the person box height in pixels (speeds in box heights per second).
    public static let standard = OneEuroParams(checked: 1.0, beta: 12.0, dCutoff: 1.0)

    private init(checked minCutoff: Double, beta: Double, dCutoff: Double) {
        self.minCutoff = minCutoff
        self.beta = beta
        self.dCutoff = dCutoff
    }

    public init(minCutoff: Double = 1.0, beta: Double = 12.0, dCutoff: Double = 1.0) throws {
        guard minCutoff.isFinite, minCutoff > 0 else {
            throw MeshPoseError("One-Euro min_cutoff must be a positive number of Hz, got \(minCutoff)", kind: .invalidParams)
        }
        guard dCutoff.isFinite, dCutoff > 0 else {
            throw MeshPoseError("One-Euro d_cutoff must be a positive number of Hz, got \(dCutoff)", kind: .invalidParams)
        }
        guard beta.isFinite, beta >= 0 else {
            throw MeshPoseError("One-Euro beta must be zero or positive, got \(beta)", kind: .invalidParams)
        }
        self.minCutoff = minCutoff
        self.beta = beta
        self.dCutoff = dCutoff
    }

    /// alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff).
    @inline(__always) public static func alpha(cutoff: Double, dt: Double) -> Double {
        let tau = 1.0 / (2.0 * Double.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)
    }
}

/// Element-wise One-Euro smoothing of a flat array (K vertices x D values), timestamps in
/// seconds. The first sample passes through; a sample not later than the previous one is
/// ignored (the previous estimate is returned, the state unchanged). `valueScale` makes beta
/// independent of image size: the app passes the person box height in pixels.
public struct OneEuroFilter {
    public let params: OneEuroParams
    public private(set) var lastTime: Double?
    public private(set) var estimate: [Double] = []
    public private(set) var derivative: [Double] = []

    public init(params: OneEuroParams) {
        self.params = params
    }

    public mutating func reset() {
        lastTime = nil
        estimate = []
        derivative = []
    }

    public mutating func filter(_ x: [Double], time t: Double, valueScale: Double = 1.0) throws -> [Double] {
        guard let previous = lastTime else {
            lastTime = t
            estimate = x
            derivative = [Double](repeating: 0, count: x.count)
            return x
        }
        guard x.count == estimate.count else {
            throw MeshPoseError("One-Euro sample has \(x.count) values, the filter \(estimate.count); reset it for a new person")
        }
        let dt = t - previous
        if !(dt > 0) { return estimate }
        let aD = OneEuroParams.alpha(cutoff: params.dCutoff, dt: dt)
        var newEstimate = estimate
        var newDerivative = derivative
        for i in 0..<x.count {
            let dx = (x[i] - estimate[i]) / dt / valueScale
            let dxHat = aD * dx + (1.0 - aD) * derivative[i]
            let cutoff = params.minCutoff + params.beta * abs(dxHat)
            let a = OneEuroParams.alpha(cutoff: cutoff, dt: dt)
            newEstimate[i] = a * x[i] + (1.0 - a) * estimate[i]
            newDerivative[i] = dxHat
        }
        lastTime = t
        estimate = newEstimate
        derivative = newDerivative
        return newEstimate
    }
}
