import XMPPCore

/// Whether the device has a usable network, as the platform reports it.
public enum NetworkAvailability: Sendable, Hashable {
    /// A route to the internet exists (Wi-Fi, cellular, wired).
    case available
    /// No usable network: connecting would only fail.
    case unavailable
}

/// Tells ``ReconnectModule`` when the network comes and goes, so it waits while there is none and reconnects at once
/// when it returns instead of sleeping out a backoff. ``PathNetworkMonitor`` uses Network.framework on Apple
/// platforms; elsewhere an app (or a test) reports changes to a ``ManualNetworkMonitor``.
public protocol NetworkMonitor: Sendable {
    /// The availability now.
    var availability: NetworkAvailability { get }
    /// Changes from now on.
    var changes: AsyncStream<NetworkAvailability> { get }
}

/// A network monitor the app feeds: call ``report(_:)`` from whatever the platform offers (a netlink watcher,
/// a connectivity plugin, a test).
public final class ManualNetworkMonitor: NetworkMonitor {
    private let current: Locked<NetworkAvailability>
    private let updates = Broadcast<NetworkAvailability>()

    /// Creates a monitor starting at `availability`.
    public init(_ availability: NetworkAvailability = .available) {
        current = Locked(availability)
    }

    public var availability: NetworkAvailability { current.withLock { $0 } }
    public var changes: AsyncStream<NetworkAvailability> { updates.subscribe() }

    /// Reports the network's availability; a change reaches the subscribers.
    public func report(_ availability: NetworkAvailability) {
        let changed = current.withLock { current -> Bool in
            defer { current = availability }
            return current != availability
        }
        if changed { updates.publish(availability) }
    }
}

#if canImport(Network)
import Network

/// The system's view of the network (Network.framework's `NWPathMonitor`), for Apple platforms.
public final class PathNetworkMonitor: NetworkMonitor {
    private let monitor = NWPathMonitor()
    private let manual = ManualNetworkMonitor()

    /// Starts watching the device's network paths.
    public init() {
        let manual = self.manual
        monitor.pathUpdateHandler = { path in manual.report(path.status == .satisfied ? .available : .unavailable) }
        monitor.start(queue: DispatchQueue(label: "xmppclient.network-monitor"))
    }

    deinit { monitor.cancel() }

    public var availability: NetworkAvailability { manual.availability }
    public var changes: AsyncStream<NetworkAvailability> { manual.changes }
}
#endif
