import Foundation

/// A one-slot hand-off from a producer queue to a consumer (the camera queue to the main actor).
///
/// The producer replaces whatever is waiting, so at most one value waits: a slow consumer skips to
/// the newest value instead of queueing one task per frame, each holding a camera buffer from the
/// capture pool until the pool runs dry. `offer` returns true only when the consumer must be woken
/// (nothing was pending); one wake-up then drains any number of offers with `take`.
public final class LatestValueMailbox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: Value?
    private var wakePending = false
    private var dropped = 0

    public init() {}

    /// Puts `value` in the slot, dropping an older one still waiting; true when the caller must
    /// schedule a `take` on the consumer.
    public func offer(_ value: Value) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if waiting != nil { dropped += 1 }
        waiting = value
        if wakePending { return false }
        wakePending = true
        return true
    }

    /// The newest value (nil if a previous take already had it); the next offer wakes again.
    public func take() -> Value? {
        lock.lock()
        defer { lock.unlock() }
        wakePending = false
        let value = waiting
        waiting = nil
        return value
    }

    /// Values replaced before the consumer took them.
    public var droppedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return dropped
    }
}
