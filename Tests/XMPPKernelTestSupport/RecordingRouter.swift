import XMPPCore
import XMPPServerKernel

/// A remote router for kernel tests: records what the kernel hands to other servers instead of sending it.
public final class RecordingRouter: RemoteRouter {
    /// What the kernel sent to remote domains, in order.
    public let sent = Locked<[Element]>([])

    public init() {}

    public func send(_ stanza: Element, to: JID, kernel: ServerKernel) { sent.withLock { $0.append(stanza) } }

    /// The module that installs this router (pass it in a scenario's `extraModules`).
    public var module: any ServerModule { RouterModule(router: self) }

    private struct RouterModule: ServerModule {
        let name = "test-router"
        let specifications: [String] = []
        let router: RecordingRouter
        func activate(in host: ModuleHost) { host.setRemoteRouter(router) }
    }
}
