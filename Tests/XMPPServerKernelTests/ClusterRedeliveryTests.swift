import NIOCore
import NIOPosix
import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// The mirror of a session on another cluster node that cannot be reached (Redis away, or too far behind): whatever
/// is delivered to it comes back to the kernel, as the cluster link hands back what it could not send.
private final class UnreachableMirror: ClientSession {
    let jid: JID
    let node: String
    let kernel: ServerKernel
    let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    /// How many stanzas were handed to this mirror.
    let attempts = Locked(0)

    init(jid: JID, node: String, kernel: ServerKernel) {
        self.jid = jid
        self.node = node
        self.kernel = kernel
    }

    var clusterNode: String? { node }

    func deliver(_ element: Element) {
        // A runaway loop stops here, so a failing test ends.
        guard attempts.withLock({ $0 += 1; return $0 }) < 100 else { return }
        let (kernel, jid) = (self.kernel, self.jid)
        eventLoop.execute { kernel.deliverFromCluster(element, to: jid, eventLoop: MultiThreadedEventLoopGroup.singleton.next()) }
    }

    func close(with error: StreamError?) {}
}

@Suite struct ClusterRedeliveryTests {
    /// Alice is online on two other nodes and neither can be reached: a message the first one could not take is not
    /// passed from one unreachable node to the other without end; it goes to offline storage (from where the node of
    /// an available resource delivers it once it hears of it).
    @Test func aMessageNoNodeCanTakeIsStoredNotPassedAround() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice")
        let kernel = scenario.kernel
        let mirrors = try ["node2", "node3"].map { node in
            UnreachableMirror(jid: try JID("alice@example.com/\(node)"), node: node, kernel: kernel)
        }
        for mirror in mirrors {
            _ = kernel.registry.add(mirror)
            kernel.registry.update(mirror) { entry in
                entry.presence = Element("presence", namespace: "jabber:client")
                entry.priority = 0
            }
        }
        try #require(kernel.registry.entries(of: try JID("alice@example.com")).filter(\.isAvailable).count == 2)

        let message = try Element(xml: "<message xmlns='jabber:client' from='bob@example.com/desk' to='alice@example.com/node2' type='chat' id='m1'><body>hi</body></message>")
        kernel.deliverFromCluster(message, to: try JID("alice@example.com/node2"), eventLoop: MultiThreadedEventLoopGroup.singleton.next())

        var stored: [OfflineMessage] = []
        for _ in 0..<200 where stored.isEmpty {
            stored = try await kernel.storage.offline.pending(for: "alice")
            if stored.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(stored.count == 1)
        try await Task.sleep(for: .milliseconds(100))
        #expect(mirrors.map { $0.attempts.withLock { $0 } } == [0, 0], "handed to the other unreachable node")
        #expect(try await kernel.storage.offline.pending(for: "alice").count == 1)
    }
}
