import Foundation
import NIOCore
import RedisClient
import Synchronization
import Testing
import XMPPTestSupport

/// The reconnecting session against a real redis-server that is killed and started again on the same port.
@Suite struct RedisSessionTests {
    @Test(.timeLimit(.minutes(1)))
    func comesBackWithItsSubscriptionsWhenTheServerDoes() async throws {
        let server = try await RedisTestServer.start()
        let session = RedisSession(host: "127.0.0.1", port: server.port)
        let states = Recorder(session.states)
        let messages = Recorder(session.messages)
        #expect(await eventually { session.isConnected })
        #expect(try await session.send(["SET", "greeting", "hello"]).string == "OK")
        #expect(try await session.pipeline([["GET", "greeting"], ["PING"]]).map(\.string) == ["hello", "PONG"])
        #expect(await session.subscribe(["news"]))
        let publisher = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        #expect(try await publisher.send(["PUBLISH", "news", "before"]).integer == 1)
        #expect(await eventually { await messages.items.map(\.text) == ["before"] })

        // The server goes: a command in flight fails, the loss is reported, and commands fail at once meanwhile.
        let blocked = Task { try await session.send(["BLPOP", "nothing", "0"]) }
        #expect(try await eventually { try await publisher.send(["CLIENT", "LIST"]).string?.contains("cmd=blpop") == true })
        await server.stop()
        await #expect(throws: RedisError.connectionClosed) { try await blocked.value }
        #expect(await eventually { await states.items == [.connected, .disconnected] })
        #expect(!session.isConnected)
        let asked = ContinuousClock.now
        await #expect(throws: RedisError.notConnected) { try await session.send(["PING"]) }
        await #expect(throws: RedisError.notConnected) { try await session.publish(channel: "news", message: "lost") }
        let published = await withCheckedContinuation { done in session.publish("news", "lost") { done.resume(returning: $0) } }
        #expect(throws: RedisError.notConnected) { try published.get() }
        #expect(!session.publish("news", "lost", sheddable: true) { _ in Issue.record("a refused publication has no result") },
                "a sheddable one is refused at once instead")
        #expect(ContinuousClock.now - asked < .seconds(5), "failed at once rather than waiting for a connection")
        await publisher.close()

        // The server comes back on the same port: the session reconnects by itself, subscribed again.
        let restarted = try await RedisTestServer.start(port: server.port)
        defer { Task { await restarted.stop() } }
        #expect(await eventually { session.isConnected })
        #expect(await eventually { await states.items == [.connected, .disconnected, .connected] })
        #expect(try await session.send(["GET", "greeting"]).isNull, "a new server, without the old data")
        let newPublisher = try await RedisConnection.connect(host: "127.0.0.1", port: restarted.port)
        defer { Task { await newPublisher.close() } }
        #expect(try await newPublisher.send(["PUBLISH", "news", "after"]).integer == 1,
                "subscribed again before being reported connected")
        #expect(try await session.publish(channel: "news", message: "own") == 1)
        let ownPublished = await withCheckedContinuation { done in session.publish("news", "own too") { done.resume(returning: $0) } }
        #expect(try ownPublished.get() == 1)
        #expect(await eventually { await messages.items.map(\.text) == ["before", "after", "own", "own too"] })
        #expect(await messages.items.allSatisfy { $0.channel == "news" })

        await session.close()
        #expect(!session.isConnected)
        await states.finished()
        await messages.finished()
        #expect(await states.items == [.connected, .disconnected, .connected, .disconnected], "close reports the loss")
    }

    /// A server that stops answering (SIGSTOP: the connection stays open, nothing comes back) is taken for dead after
    /// the answer timeout, by a command in flight and, on a connection that only listens, by its own ping; once it
    /// answers again the session is back with its subscriptions.
    @Test(.timeLimit(.minutes(1)))
    func aServerThatStopsAnsweringIsTakenForDead() async throws {
        let server = try await RedisTestServer.start()
        defer { Task { await server.stop() } }
        // One second: short enough for the test, long enough that a loaded machine's slow answer is not taken for death.
        let session = RedisSession(host: "127.0.0.1", port: server.port, answerTimeout: .seconds(1))
        defer { Task { await session.close() } }
        let states = Recorder(session.states)
        let messages = Recorder(session.messages)
        #expect(await session.subscribe(["news"]) == false)
        #expect(await eventually { session.isConnected })
        let listener = try await RedisConnection.connect(host: "127.0.0.1", port: server.port, answerTimeout: .seconds(1))
        try await listener.subscribe(["quiet"])
        let listened = Recorder(listener.pushes)

        kill(server.pid, SIGSTOP)
        let asked = ContinuousClock.now
        await #expect(throws: RedisError.timedOut) { try await session.send(["PING"]) }
        let waited = ContinuousClock.now - asked
        #expect(waited >= .seconds(1) && waited < .seconds(8), "\(waited)")
        #expect(await eventually { await states.items == [.connected, .disconnected] })
        // Nothing was sent on the listening connection: its ping went unanswered.
        #expect(await eventually(within: 5) { await listened.hasEnded })
        #expect(!listener.isActive)

        kill(server.pid, SIGCONT)
        #expect(await eventually { session.isConnected })
        #expect(try await session.send(["PING"]).string == "PONG")
        let publisher = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await publisher.close() } }
        #expect(try await publisher.send(["PUBLISH", "news", "back"]).integer == 1, "subscribed again")
        #expect(await eventually { await messages.items.map(\.text) == ["back"] })
        // A quiet connection that answers its pings stays: two and a half seconds with nothing to do.
        let changes = await states.items.count
        try await Task.sleep(for: .milliseconds(2500))
        #expect(session.isConnected)
        #expect(await states.items.count == changes)
    }

    @Test(.timeLimit(.minutes(1)))
    func connectsOnceTheServerIsThereAndSubscribesThen() async throws {
        let port = try LoopbackPort.free()
        let session = RedisSession(host: "127.0.0.1", port: port)
        defer { Task { await session.close() } }
        let messages = Recorder(session.messages)
        await #expect(throws: RedisError.notConnected) { try await session.send(["PING"]) }
        #expect(await session.subscribe(["later"]) == false, "remembered, not in effect yet")
        try await Task.sleep(for: .seconds(1)) // a few attempts that fail
        #expect(!session.isConnected)

        let server = try await RedisTestServer.start(port: port)
        defer { Task { await server.stop() } }
        #expect(await eventually { session.isConnected })
        let publisher = try await RedisConnection.connect(host: "127.0.0.1", port: port)
        defer { Task { await publisher.close() } }
        #expect(try await publisher.send(["PUBLISH", "later", "hello"]).integer == 1)
        #expect(await eventually { await messages.items == [RedisSession.Message(channel: "later", payload: Array("hello".utf8))] })

        await session.unsubscribe(["later"])
        #expect(try await session.send(["PING"]).string == "PONG") // answered after the UNSUBSCRIBE took effect
        #expect(try await publisher.send(["PUBLISH", "later", "unheard"]).integer == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func closeStopsForGood() async throws {
        let server = try await RedisTestServer.start()
        defer { Task { await server.stop() } }
        let session = RedisSession(host: "127.0.0.1", port: server.port)
        #expect(await eventually { session.isConnected })
        let observer = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await observer.close() } }
        func clients() async throws -> Int {
            try await observer.send(["CLIENT", "LIST"]).string?.split(separator: "\n").count ?? 0
        }
        #expect(try await eventually { try await clients() == 2 })

        await session.close()
        #expect(!session.isConnected)
        await #expect(throws: RedisError.notConnected) { try await session.send(["PING"]) }
        #expect(try await eventually { try await clients() == 1 })
        try await Task.sleep(for: .seconds(1)) // several reconnection delays
        #expect(try await clients() == 1, "no new connection after close")
        for await _ in session.states {}
        for await _ in session.messages {}
    }

    @Test(.timeLimit(.minutes(1)))
    func unreadMessagesAreBounded() async throws {
        let server = try await RedisTestServer.start()
        defer { Task { await server.stop() } }
        let session = RedisSession(host: "127.0.0.1", port: server.port, maxBufferedMessages: 3)
        defer { Task { await session.close() } }
        #expect(await eventually { session.isConnected })
        #expect(await session.subscribe(["flood"]))
        let publisher = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await publisher.close() } }
        for number in 0..<10 { #expect(try await publisher.send(["PUBLISH", "flood", String(number)]).integer == 1) }
        #expect(await eventually { session.droppedMessages == 7 })
        var unread = session.messages.makeAsyncIterator()
        var kept: [String] = []
        for _ in 0..<3 { if let message = await unread.next() { kept.append(message.text) } }
        #expect(kept == ["0", "1", "2"], "the oldest are kept, the newest dropped")
    }

    /// Sheddable messages published from event-loop code are refused at once, not queued, while more than the backlog
    /// limit of them waits for Redis (here behind a BLPOP, which holds every later answer on the connection); other
    /// publications and commands still go; once Redis answers, there is room again.
    @Test(.timeLimit(.minutes(1)))
    func publishingBeyondTheBacklogIsRefused() async throws {
        let server = try await RedisTestServer.start()
        defer { Task { await server.stop() } }
        let session = RedisSession(host: "127.0.0.1", port: server.port, publishBacklogLimit: 1000)
        defer { Task { await session.close() } }
        #expect(await eventually { session.isConnected })
        let other = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await other.close() } }
        let blocked = Task { try await session.send(["BLPOP", "gate", "0"]) }
        #expect(try await eventually { try await other.send(["CLIENT", "LIST"]).string?.contains("cmd=blpop") == true })

        // Channel "c" and 99 bytes: 100 bytes each, so 10 fit and the 11th does not.
        let results = Sink<Result<Int, RedisError>>()
        let payload = String(repeating: "x", count: 99)
        func publish(sheddable: Bool) -> Bool {
            session.publish("c", payload, sheddable: sheddable) { result in
                results.add(result.mapError { $0 as? RedisError ?? .connectionClosed })
            }
        }
        let accepted = (0..<11).map { _ in publish(sheddable: true) }
        #expect(accepted == Array(repeating: true, count: 10) + [false], "the 11th refused at once")
        #expect(publish(sheddable: false), "a publication that is not sheddable is never refused")
        let ping = Task { try await session.send(["PING"]) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(results.items.isEmpty, "a refused one has no result")

        #expect(try await other.send(["LPUSH", "gate", "open"]).integer == 1)
        #expect(try await blocked.value.elements?.last?.string == "open")
        #expect(await eventually { results.items.count == 11 })
        #expect(results.items.allSatisfy { $0 == .success(0) }, "\(results.items)")
        #expect(try await ping.value.string == "PONG")
        #expect(publish(sheddable: true), "room again once Redis answered")
        #expect(await eventually { results.items.count == 12 })
    }
}

/// Everything a stream yields, read in the background.
private actor Recorder<Element: Sendable> {
    private(set) var items: [Element] = []
    private var ended = false
    /// Whether the stream has ended.
    var hasEnded: Bool { ended }

    init(_ stream: AsyncStream<Element>) {
        Task { await self.read(stream) }
    }

    private func read(_ stream: AsyncStream<Element>) async {
        for await item in stream { items.append(item) }
        ended = true
    }

    /// Waits until the stream has ended.
    func finished() async {
        while !ended { try? await Task.sleep(for: .milliseconds(20)) }
    }
}

/// What callbacks hand over from any thread, in the order it came.
private final class Sink<Item: Sendable>: Sendable {
    private let recorded = Mutex<[Item]>([])
    func add(_ item: Item) { recorded.withLock { $0.append(item) } }
    var items: [Item] { recorded.withLock { $0 } }
}

/// Whether `condition` holds within `seconds`, asked every 50 ms.
private func eventually(within seconds: Int = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
