import Foundation
import NIOCore
import XMPPCore
import XMPPServerKernel

/// The administration socket `xmppctl` talks to (``AdminSocket``), as a service.
public final class AdminSocketService: ServerService, Sendable {
    public let name = "admin socket"
    private let kernel: ServerKernel
    private let dataDirectory: String
    private let group: any EventLoopGroup
    private let started = Date()
    private let channel = Locked<(any Channel)?>(nil)

    init(kernel: ServerKernel, dataDirectory: String, group: any EventLoopGroup) {
        self.kernel = kernel
        self.dataDirectory = dataDirectory
        self.group = group
    }

    /// The socket's path.
    public var path: String { AdminSocket.path(in: dataDirectory) }

    public func start() async throws {
        guard channel.withLock({ $0 == nil }) else { return }
        let bound = try await AdminSocket.bind(kernel: kernel, dataDirectory: dataDirectory, group: group, started: started)
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
