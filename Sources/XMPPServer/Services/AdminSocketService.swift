import Foundation
import NIOCore
import XMPPCore
import XMPPServerKernel

/// The administration socket `xmppctl` talks to (``AdminSocket``), as a service.
public final class AdminSocketService: ServerService, Sendable {
    public let name = "admin socket"
    private let administration: ServerAdministration
    private let dataDirectory: String
    private let group: any EventLoopGroup
    private let channel = Locked<(any Channel)?>(nil)

    init(administration: ServerAdministration, dataDirectory: String, group: any EventLoopGroup) {
        self.administration = administration
        self.dataDirectory = dataDirectory
        self.group = group
    }

    /// The socket's path.
    public var path: String { AdminSocket.path(in: dataDirectory) }

    public func start() async throws {
        guard channel.withLock({ $0 == nil }) else { return }
        let bound = try await AdminSocket.bind(administration: administration, dataDirectory: dataDirectory, group: group)
        channel.withLock { $0 = bound }
    }

    public func stop() async {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }
}
