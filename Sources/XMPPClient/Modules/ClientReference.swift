import XMPPCore

/// The client a module is attached to, held weakly: the client owns its modules.
final class ClientReference: Sendable {
    private let reference = Locked(Weak())

    private struct Weak {
        weak var client: XMPPClient?
    }

    /// Records the client, from ``XMPPClientModule/attached(to:)``.
    func set(_ client: XMPPClient) {
        reference.withLock { $0.client = client }
    }

    /// The client, if attached and alive.
    var value: XMPPClient? { reference.withLock { $0.client } }

    /// The client, or ``XMPPClientError/notConnected`` when the module is not attached.
    func require() throws -> XMPPClient {
        guard let client = value else { throw XMPPClientError.notConnected }
        return client
    }
}
