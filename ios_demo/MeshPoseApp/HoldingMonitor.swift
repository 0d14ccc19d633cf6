import CoreMotion
import Foundation

/// How the phone is held, from gravity. UIDevice's orientation stops updating under orientation
/// lock and the interface does not turn at all, yet the model must see the person upright: the
/// sensor buffer's rotation follows the phone, not the screen. MeshPoseKit's
/// `HoldingOrientation.fromGravity` turns each gravity sample into a holding, with hysteresis.
final class HoldingMonitor {
    private let motion = CMMotionManager()
    private let queue: OperationQueue = {
        let q = OperationQueue()
        q.name = "meshpose.motion"
        q.maxConcurrentOperationCount = 1
        return q
    }()
    private var current: HoldingOrientation = .portrait

    /// Starts gravity updates (10 per second); `onChange` runs on the motion queue with each new
    /// holding. False where there is no device motion (the simulator): the caller then keeps
    /// using the interface orientation.
    func start(initial: HoldingOrientation, onChange: @escaping (HoldingOrientation) -> Void) -> Bool {
        guard motion.isDeviceMotionAvailable else { return false }
        queue.addOperation { [weak self] in self?.current = initial }
        motion.deviceMotionUpdateInterval = 0.1
        motion.startDeviceMotionUpdates(to: queue) { [weak self] data, _ in
            guard let self, let g = data?.gravity else { return }
            let next = HoldingOrientation.fromGravity(x: g.x, y: g.y, z: g.z, previous: self.current)
            if next != self.current {
                self.current = next
                onChange(next)
            }
        }
        return true
    }

    func stop() {
        motion.stopDeviceMotionUpdates()
    }
}
