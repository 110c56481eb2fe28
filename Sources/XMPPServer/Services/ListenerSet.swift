import NIOCore
import XMPPCore

/// The bound channels of a listener service: nil before its start, so a second start does nothing.
final class ListenerSet: Sendable {
    private let channels = Locked<[any Channel]?>(nil)

    /// Marks the service started; false when it already was.
    func begin() -> Bool {
        channels.withLock { channels in
            guard channels == nil else { return false }
            channels = []
            return true
        }
    }

    func add(_ bound: [any Channel]) { channels.withLock { $0?.append(contentsOf: bound) } }

    /// The ports bound (useful with port 0).
    var ports: [Int] { channels.withLock { $0 ?? [] }.compactMap { $0.localAddress?.port } }

    /// Closes every listener.
    func closeAll() async {
        let bound = channels.withLock { channels in
            defer { channels = [] }
            return channels ?? []
        }
        for channel in bound { try? await channel.close() }
    }
}
