import CFuzzDriver
import Logging
import NIOCore
import NIOPosix
import Synchronization
import XMPPCore
import XMPPServerKernel
import XMPPServerMUC

#if canImport(Glibc)
import Glibc
#endif

// The server's kernel under arbitrary stanza sequences: three sessions of two accounts (and a third account,
// offline) on a kernel with in-memory stores and every standard module, chat rooms included. Each input is a
// client stream body; its elements go to the kernel one by one, from the session the element's position picks.
// Checked beyond "does not crash":
// - no stanza reaches a session with a `from` naming a local account's full JID that is not a session of it
//   (the server stamps `from`: a forged one must never come through), nor one naming an account that does not exist;
// - what grows with input stays within its limit: directed presence per session, rosters, offline messages,
//   blocklists.

/// Records what the kernel delivers to it.
final class FuzzSession: ClientSession {
    let jid: JID
    let eventLoop: any EventLoop
    let inbox = Mutex<[Element]>([])

    init(_ jid: String, on eventLoop: any EventLoop) {
        self.jid = try! JID(jid)
        self.eventLoop = eventLoop
    }

    func deliver(_ element: Element) { inbox.withLock { $0.append(element) } }
    func close(with error: StreamError?) {}
    func take() -> [Element] { inbox.withLock { inbox in defer { inbox = [] }; return inbox } }
}

/// What every input shares: an event loop for the kernel's work, a quiet logger, the accounts.
enum Fixture {
    static let loop = MultiThreadedEventLoopGroup.singleton.next()
    static let logger: Logger = {
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        return logger
    }()
    static let accounts = ["alice", "bob", "carol"]
}

/// A fresh kernel per input, so every input starts from the same state.
func makeKernel() -> (ServerKernel, [FuzzSession]) {
    var configuration = KernelConfiguration(domain: "example.com")
    configuration.maxDirectedPresence = 8
    configuration.maxRosterItems = 8
    configuration.set(OfflineModule.limit, to: 8)
    configuration.set(BlockingModule.maxItems, to: 8)
    configuration.set(MUCModule.maxRoomsPerUser, to: 4)
    let kernel = try! ServerKernel(configuration: configuration, storage: .inMemory(), modules: CoreModules.all + [MUCModule()],
                                   logger: Fixture.logger)
    for user in Fixture.accounts {
        _ = try! Fixture.loop.makeFutureWithTask {
            try await kernel.storage.accounts.createAccount(user, credentials: SCRAMCredentials.allHashes(password: "pw", iterations: 1))
        }.wait()
    }
    let loop = Fixture.loop
    let sessions = [FuzzSession("alice@example.com/phone", on: loop), FuzzSession("alice@example.com/laptop", on: loop),
                    FuzzSession("bob@example.com/pc", on: loop)]
    for session in sessions {
        try! kernel.prepareBinding(of: session)?.wait()
        try! kernel.bind(session)
    }
    return (kernel, sessions)
}

func check(_ delivered: Element, to session: FuzzSession, sessions: [FuzzSession], kernel: ServerKernel) {
    guard delivered.attribute("type") != "error", let raw = delivered.attribute("from"), let from = JID(validating: raw),
          from.domainpart == "example.com", let user = from.localpart else { return }
    precondition(Fixture.accounts.contains(user), "a stanza from a local account that does not exist: \(delivered)")
    if from.isFull {
        precondition(sessions.contains { $0.jid == from }, "a stanza from a local full JID that is no session: \(delivered)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let header = "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    var parser = XMLStreamParser(limits: XMLParserLimits(maxStanzaBytes: 4096, maxDepth: 16, maxAttributes: 16, maxNameBytes: 64, maxTextBytes: 2048))
    parser.append(ByteBuffer(string: header))
    parser.append(ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size)))
    let (kernel, sessions) = makeKernel()
    var index = 0
    while let event = try? parser.nextEvent() {
        guard case .element(let element) = event else { continue }
        let sender = sessions[index % sessions.count]
        index += 1
        if let done = kernel.process(element, from: sender) { try? done.wait() }
        for session in sessions {
            for delivered in session.take() { check(delivered, to: session, sessions: sessions, kernel: kernel) }
        }
        for session in sessions {
            precondition((kernel.registry.entry(session.jid)?.directedPresence.count ?? 0) <= 8, "directed presence past its limit")
        }
    }
    // The sessions end (as dropped connections do), then what that started settles, then the stored state must be
    // within its limits.
    for session in sessions { try? kernel.sessionEnded(session)?.wait() }
    _ = try? Fixture.loop.makeFutureWithTask {
        _ = await kernel.settle(timeout: .milliseconds(200))
        for user in Fixture.accounts {
            let rosterItems = try await kernel.storage.rosters.roster(of: user).items.count
            let offline = try await kernel.storage.offline.count(for: user)
            let blocklist = try await kernel.storage.userData.value("blocklist", of: user) ?? []
            precondition(rosterItems <= 8, "roster past its limit")
            precondition(offline <= 8, "offline store past its limit")
            precondition(blocklist.split(separator: UInt8(ascii: "\n")).count <= 8, "blocklist past its limit")
        }
    }.wait()
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    guard let data else { return 0 }
    return fuzzOne(data, size)
})
