import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPTestSupport

/// What a phone meets every day, against a real xmppd process: the server killed (`kill -9`, no TLS close_notify),
/// stopped (SIGTERM), a connection reset, and a network that goes away. Every client comes back online and into its
/// rooms, and what was written meanwhile is sent once.
@Suite("Drop matrix")
struct DropMatrixTests {
    /// A client of the process with fast reconnection, chat (with an outbox) and rooms.
    struct Device {
        let client: XMPPClient
        let chat: ChatModule
        let muc: MultiUserChatModule
        let reconnect: ReconnectModule

        init(_ user: String, server: any ServerProcess) throws {
            let configuration = XMPPClient.Configuration(
                jid: try JID("\(user)@localhost"), password: "\(user)-secret", server: .host("127.0.0.1", port: server.port),
                trust: .caFile(server.certificatePath), connectTimeout: .seconds(5), requestTimeout: .seconds(10))
            client = XMPPClient(configuration: configuration)
            chat = client.add(ChatModule())
            muc = client.add(MultiUserChatModule())
            reconnect = client.add(ReconnectModule(initialDelay: .milliseconds(200), maximumDelay: .milliseconds(800)))
        }
    }

    @Test("kill -9 and SIGTERM of the server: both clients reconnect, re-enter a temporary and a persistent room, and a message written while it was down arrives once",
          arguments: ServerPeer.allCases)
    func serverKilledAndStopped(peer: ServerPeer) async throws {
        switch peer {
        case .xmppd:
            let server = try await XMPPDProcess.start(port: try LoopbackPort.free())
            do { try await Self.killAndStop(server) } catch { await server.stop(); throw error }
            await server.stop()
        case .prosody:
            try await ProsodyServer.with { try await Self.killAndStop($0) }
        }
    }

    static func killAndStop(_ server: any ServerProcess) async throws {
        let (alice, bob) = (try Device("alice", server: server), try Device("bob", server: server))
        for device in [alice, bob] { try await device.client.connect(registering: true) }
        let (temporary, persistent) = (try JID("pop-up@conference.localhost"), try JID("hall@conference.localhost"))
        for (index, device) in [alice, bob].enumerated() {
            for jid in [temporary, persistent] {
                let room = device.muc.room(jid, nickname: index == 0 ? "Alice" : "Bob")
                try await room.join()
                if room.wasCreated {
                    if jid == persistent { try await room.configure(["muc#roomconfig_persistentroom": "1"]) } else { try await room.acceptDefaultConfiguration() }
                }
            }
        }
        let bobMessages = bob.chat.messages
        let everything = bob.chat.messages
        let received = Locked<[String]>([])
        let recorder = Task { for await message in everything { received.withLock { $0.append(message.body) } } }

        for round in ["kill -9", "SIGTERM"] {
            let rejoins = [alice, bob].flatMap { device in [temporary, persistent].map { device.muc.room($0, nickname: "").events } }
            if round == "kill -9" { await server.kill9() } else { await server.terminate() }
            #expect(await eventually(timeout: .seconds(10)) { !alice.client.connectionState.isOnline }, "\(round): alice saw the loss")
            let written = try await alice.chat.send("written while down (\(round))", to: try JID("bob@localhost"))
            #expect(alice.chat.status(of: written) == .queued, "\(round)")
            try await server.restart()
            #expect(await eventually(timeout: .seconds(20)) { alice.client.connectionState.isOnline && bob.client.connectionState.isOnline },
                    "\(round): both online again")
            for events in rejoins {
                #expect(await first(events, timeout: .seconds(20)) { $0 == .rejoined } != nil, "\(round): every room entered again")
            }
            // Generous: when the whole suite runs in one process, its two cooperative threads are shared by every test.
            #expect(await first(bobMessages, timeout: .seconds(30)) { $0.body == "written while down (\(round))" } != nil, "\(round)")
        }
        #expect(alice.muc.room(temporary, nickname: "").isJoined && bob.muc.room(persistent, nickname: "").isJoined)
        try await Task.sleep(for: .milliseconds(500))
        recorder.cancel()
        #expect(received.withLock { $0 } == ["written while down (kill -9)", "written while down (SIGTERM)"], "each once")
        for device in [alice, bob] { await device.client.disconnect() }
    }

    @Test("without a network the client waits, and when it returns it reconnects at once, not after its backoff")
    func waitsForTheNetwork() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let proxy = try await TCPProxy.start(to: server.port)
        defer { Task { await proxy.stop() } }
        let network = ManualNetworkMonitor()
        var configuration = try ClientFixture(server: server).configuration("alice")
        configuration.server = .host("127.0.0.1", port: proxy.port)
        let client = XMPPClient(configuration: configuration)
        let reconnect = client.add(ReconnectModule(initialDelay: .seconds(30), maximumDelay: .seconds(60), network: network))
        try await client.connect(registering: true)
        let events = reconnect.updates

        network.report(.unavailable)
        proxy.dropAll()
        #expect(await first(events, timeout: .seconds(10)) { $0 == .waitingForNetwork } != nil)
        #expect(reconnect.isWaitingForNetwork && !client.connectionState.isOnline)
        let back = ContinuousClock.now
        network.report(.available)
        #expect(await first(events, timeout: .seconds(10)) { if case .reconnected = $0 { true } else { false } } != nil)
        #expect(ContinuousClock.now - back < .seconds(10), "at once, not after the 30 s backoff")
        await client.disconnect()
    }

    @Test("a connection reset and a silent stall: the client notices, reconnects and is in its room again", arguments: ServerPeer.allCases)
    func resetAndStall(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let setup = try fixture.client("alice")
            try await setup.connect(registering: true)
            await setup.disconnect()
            let proxy = try await TCPProxy.start(to: fixture.port)
            let phone = XMPPClient(configuration: try ClientFixture(host: fixture.host, port: proxy.port, domain: fixture.domain,
                                                                     trust: fixture.trust).configuration("alice", resource: "phone"))
            phone.add(PingModule(interval: .seconds(1), timeout: .seconds(1)))   // a stall is noticed in about 2 s
            let reconnect = phone.add(ReconnectModule(initialDelay: .milliseconds(200), maximumDelay: .seconds(1)))
            let muc = phone.add(MultiUserChatModule())
            try await phone.connect()
            let room = muc.room(try JID("drops@conference.\(fixture.domain)"), nickname: "Alice")
            try await room.join()
            if room.wasCreated { try await room.acceptDefaultConfiguration() }

            for cut in ["reset", "stall"] {
                let events = reconnect.updates
                if cut == "reset" { proxy.dropAll() } else { proxy.stallAll() }
                #expect(await first(events, timeout: .seconds(20)) { if case .reconnected = $0 { true } else { false } } != nil,
                        "\(cut): reconnected")
                #expect(await eventually(timeout: .seconds(10)) { room.isJoined }, "\(cut): in the room again")
                let messages = room.events
                try await room.send("after the \(cut)")
                #expect(await first(messages, timeout: .seconds(10)) {
                    if case .message(let message) = $0 { message.body == "after the \(cut)" } else { false }
                } != nil, "\(cut): the room reflects a message")
            }
            reconnect.stop()
            await phone.disconnect()
            await proxy.stop()
        }
    }
}

/// A server run as a process of its own that a test can kill, stop and start again on the same port and data.
protocol ServerProcess: Sendable {
    /// The STARTTLS port.
    var port: Int { get }
    /// The certificate clients must trust.
    var certificatePath: String { get }
    /// `kill -9`, and wait until it is gone.
    func kill9() async
    /// SIGTERM, and wait until it is gone.
    func terminate() async
    /// Start again on the same port and data.
    func restart() async throws
}

extension XMPPDProcess: ServerProcess {
    func restart() async throws { try await start() }
}

extension ProsodyServer: ServerProcess {}
