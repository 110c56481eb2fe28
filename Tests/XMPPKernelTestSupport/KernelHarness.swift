import Logging
import NIOCore
import NIOPosix
import Testing
import XMPPCore
import XMPPServerKernel

/// A session that records what the kernel delivers to it.
public final class RecordingSession: ClientSession {
    public let jid: JID
    public let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    private let inbox = Locked<[Element]>([])
    private let closure = Locked<(closed: Bool, error: StreamError?)>((false, nil))

    public init(jid: JID) {
        self.jid = jid
    }

    public func deliver(_ element: Element) {
        inbox.withLock { $0.append(element) }
    }

    public func close(with error: StreamError?) {
        closure.withLock { $0 = (true, error) }
    }

    /// Drops what was delivered and matches `predicate`.
    public func discard(where predicate: (Element) -> Bool) {
        inbox.withLock { $0.removeAll(where: predicate) }
    }

    /// Removes and returns the first delivered element that matches, leaving the others.
    public func takeFirst(where predicate: (Element) -> Bool) -> Element? {
        inbox.withLock { inbox in
            guard let index = inbox.firstIndex(where: predicate) else { return nil }
            return inbox.remove(at: index)
        }
    }

    /// Everything delivered since the last call.
    public func take() -> [Element] {
        inbox.withLock { inbox in
            defer { inbox = [] }
            return inbox
        }
    }

    public var closedWith: StreamError?? {
        closure.withLock { $0.closed ? .some($0.error) : nil }
    }
}

/// A kernel with in-memory stores and the standard modules, and clients that talk to it in XML.
public struct KernelScenario {
    /// The kernel under test.
    public let kernel: ServerKernel

    /// A kernel for `example.com` with the core IM modules, `extraModules` after them, and in-memory stores unless
    /// `storage` is given; `configure` adjusts the configuration first.
    public init(storage: ServerStorage = .inMemory(), extraModules: [any ServerModule] = [],
                configure: (inout KernelConfiguration) -> Void = { _ in }) throws {
        var configuration = KernelConfiguration(domain: "example.com")
        configure(&configuration)
        var logger = Logger(label: "kernel-test")
        logger.logLevel = .warning
        kernel = try ServerKernel(configuration: configuration, storage: storage, modules: CoreModules.all + extraModules, logger: logger)
    }

    /// Creates an account; the scenario stops if the name was already taken.
    public func account(_ user: String, password: String = "secret") async throws {
        let created = try await kernel.storage.accounts.createAccount(user, credentials: SCRAMCredentials.allHashes(password: password, iterations: 10))
        try #require(created, "account \(user) already exists")
    }

    /// Binds a session; sends initial presence (with `priority`) unless `available` is false.
    public func login(_ user: String, _ resource: String = "phone", available: Bool = true, priority: Int = 0) async throws -> TestClient {
        let client = TestClient(session: RecordingSession(jid: try JID("\(user)@example.com/\(resource)")), kernel: kernel)
        try await kernel.prepareBinding(of: client.session)?.get()
        try kernel.bind(client.session)
        try #require(kernel.registry.entry(client.jid)?.session === client.session, "\(client.jid) is not registered")
        if available {
            try await client.send("<presence xmlns='jabber:client'><priority>\(priority)</priority></presence>")
            try #require(kernel.registry.entry(client.jid)?.isAvailable == true, "\(client.jid) did not become available")
            // The echo of its own initial presence (RFC 6121 §4.2.2) is part of logging in, not of the scenario.
            client.session.discard { $0.name == "presence" && $0.attribute("from") == client.jid.description }
        }
        return client
    }
}

/// One client of a ``KernelScenario``.
public struct TestClient: Sendable {
    /// The session the kernel sees.
    public let session: RecordingSession
    /// The kernel.
    public let kernel: ServerKernel

    /// The client's full JID.
    public var jid: JID { session.jid }

    /// Sends a stanza given as XML and waits until the kernel has processed it.
    public func send(_ xml: String) async throws {
        let element = try Element(xml: xml)
        try await kernel.process(element, from: session)?.get()
    }

    /// Everything received since the last call.
    public func received() -> [Element] { session.take() }

    /// Waits (up to 5 s) until something arrives, for work the kernel finishes after `send` returns; then
    /// everything received since the last call.
    public func receivedEventually() async -> [Element] {
        for _ in 0..<500 {
            let elements = session.take()
            if !elements.isEmpty { return elements }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return []
    }

    /// The stanzas received since the last call, filtered by name.
    public func received(_ name: String) -> [Element] { session.take().filter { $0.name == name } }

    /// Ends the session as a dropped connection would.
    public func disconnect() async throws {
        try await kernel.sessionEnded(session)?.get()
    }
}
