import NIOCore
import XMPPCore

/// Asked before each stanza a client sends is processed: `nil` to go ahead, or a future that holds the stanza (and,
/// as the client's next stanzas wait behind it, reading from the client) until it completes. For work a module does
/// off the routing path that can fall behind under load (the archive writer): senders slow down instead of their
/// messages being refused. Must be cheap: it runs for every stanza.
public typealias SenderThrottle = @Sendable (_ eventLoop: any EventLoop) -> EventLoopFuture<Void>?

extension ModuleHost {
    /// Slows clients down while `throttle` says so (see ``SenderThrottle``).
    public func throttleSenders(_ throttle: @escaping SenderThrottle) {
        hooks.senderThrottles.add(throttle, priority: .normal)
    }
}

extension ServerKernel {
    /// The first throttle that holds stanzas now, if any.
    func senderThrottle(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        for throttle in hooks.senderThrottles.hooks {
            if let wait = throttle(eventLoop) { return wait }
        }
        return nil
    }
}
