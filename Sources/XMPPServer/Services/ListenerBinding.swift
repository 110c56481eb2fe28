import Logging
import NIOCore
import NIOPosix

/// Binds one port on every configured address, as every listener of the server does: an address that cannot be
/// bound (no IPv6, say) is logged and skipped, but at least one must succeed.
enum ListenerBinding {
    /// The channels bound for `port`, one per usable address.
    /// - Throws: ``ServerStartError/noListener(port:reason:)`` when no address could be bound.
    static func bind(_ bootstrap: ServerBootstrap, port: Int, addresses: [String], kind: String,
                     logger: Logger) async throws -> [any Channel] {
        var channels: [any Channel] = []
        var failure = "no bind address is configured"
        for address in addresses {
            do {
                let channel = try await bootstrap.bind(host: address, port: port).get()
                channels.append(channel)
                logger.notice("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? address)", "kind": "\(kind)"])
            } catch {
                failure = ServerStartError.reason(error)
                logger.warning("cannot listen", metadata: ["address": "\(address)", "port": "\(port)", "reason": "\(failure)"])
            }
        }
        guard !channels.isEmpty else { throw ServerStartError.noListener(port: port, reason: failure) }
        return channels
    }
}
